"""Payment attempts (issue 12, defect 3): a record written before money moves, so a charge made by a
worker killed before its order committed can be found and given back."""

from enum import StrEnum

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class PaymentAttemptStatus(StrEnum):
    # As the model had it then (migration 0024 turns attempts into payments).
    STARTED = "STARTED"
    DECLINED = "DECLINED"
    UNUSED = "UNUSED"
    ORDERED = "ORDERED"
    RETURNING = "RETURNING"
    RETURNED = "RETURNED"


class Migration(migrations.Migration):
    dependencies = [("models", "0011_carrier_events_per_parcel")]

    initial = False

    operations = [
        ops.CreateModel(
            name="PaymentAttempt",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("key", fields.CharField(unique=True, max_length=64)),
                ("provider", fields.CharField(max_length=32)),
                ("cart_token", fields.CharField(max_length=64)),
                (
                    "status",
                    fields.CharEnumField(
                        default=PaymentAttemptStatus.STARTED,
                        description="STARTED: STARTED\nDECLINED: DECLINED\nUNUSED: UNUSED\nORDERED: ORDERED\nRETURNING: RETURNING\nRETURNED: RETURNED",
                        enum_type=PaymentAttemptStatus,
                        max_length=16,
                    ),
                ),
                ("amount", fields.DecimalField(null=True, max_digits=12, decimal_places=2)),
                ("currency", fields.CharField(default="", max_length=3)),
                ("reference", fields.CharField(default="", max_length=128)),
                (
                    "order",
                    fields.ForeignKeyField(
                        "models.Order",
                        source_field="order_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="payment_attempts",
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={
                "table": "payment_attempt",
                "app": "models",
                "indexes": [Index(fields=["status", "updated_at"], name="payment_attempt_status_updated_idx")],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
    ]
