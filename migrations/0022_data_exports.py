"""Customers' copies of their data (issue 16, point 6): one row per request, holding the JSON
document its job builds until the download link expires; and an index to find the emails sent to
one address, which the copy lists."""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0020_customer_profile")]

    initial = False

    operations = [
        ops.CreateModel(
            name="DataExport",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "account",
                    fields.ForeignKeyField(
                        "models.Account",
                        source_field="account_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="data_exports",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("key", fields.CharField(unique=True, max_length=32)),
                ("status", fields.CharField(default="PENDING", max_length=16)),
                ("document", fields.TextField(null=True, unique=False)),
                ("queued", fields.BooleanField(default=False)),
                ("requested_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("ready_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("expires_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "data_export",
                "app": "models",
                "indexes": [
                    Index(fields=["account_id", "requested_at"], name="data_export_account_requested_idx"),
                    Index(fields=["expires_at"], name="data_export_expires_idx"),
                ],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.AlterField(
            model_name="SentEmail",
            name="recipient",
            field=fields.CharField(db_index=True, max_length=254),
        ),
    ]
