"""Carrier event ids are remembered per parcel, not per carrier (issue 12, defect 8).

The ids received so far do not say which parcel they were for, so they are forgotten: a delivery
retried across the upgrade is applied again, which files its tracking event a second time and
leaves the parcel's status as it was (the status is that of the event that happened last). The
table is made anew rather than altered: SQLite cannot drop the old table-level unique constraint.
"""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0010_tracking")]

    initial = False

    operations = [
        ops.DeleteModel(name="CarrierDelivery"),
        ops.CreateModel(
            name="CarrierDelivery",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "shipment",
                    fields.ForeignKeyField(
                        "models.Shipment",
                        source_field="shipment_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="carrier_deliveries",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("event_id", fields.CharField(max_length=200)),
                ("received_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "carrier_delivery",
                "app": "models",
                "unique_together": (("shipment", "event_id"),),
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
    ]
