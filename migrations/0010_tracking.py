from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from models.shipments import ShipmentStatus


class Migration(migrations.Migration):
    dependencies = [("models", "0009_shipments")]

    initial = False

    operations = [
        ops.CreateModel(
            name="CarrierDelivery",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("carrier", fields.CharField(max_length=50)),
                ("event_id", fields.CharField(max_length=200)),
                ("received_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "carrier_delivery",
                "app": "models",
                "unique_together": (("carrier", "event_id"),),
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="ShipmentEvent",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "shipment",
                    fields.ForeignKeyField(
                        "models.Shipment",
                        source_field="shipment_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="events",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "status",
                    fields.CharEnumField(
                        description="LABEL_CREATED: LABEL_CREATED\nIN_TRANSIT: IN_TRANSIT\nOUT_FOR_DELIVERY: OUT_FOR_DELIVERY\nFAILED_ATTEMPT: FAILED_ATTEMPT\nDELIVERED: DELIVERED\nEXCEPTION: EXCEPTION\nRETURNED: RETURNED",
                        enum_type=ShipmentStatus,
                        max_length=20,
                    ),
                ),
                ("description", fields.CharField(default="", max_length=500)),
                ("location", fields.CharField(default="", max_length=200)),
                ("occurred_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("recorded_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "shipment_event",
                "app": "models",
                "indexes": [Index(fields=["shipment_id", "occurred_at"], name="shipment_event_time_idx")],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.AddField(
            model_name="Order",
            name="version",
            field=fields.IntField(default=1),
        ),
        ops.AddField(
            model_name="Shipment",
            name="version",
            field=fields.IntField(default=1),
        ),
        ops.AddIndex(
            model_name="Shipment",
            index=Index(fields=["tracking_number"], name="shipment_tracking_number_idx"),
        ),
    ]
