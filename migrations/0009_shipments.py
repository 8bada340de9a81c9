from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops
from tortoise.migrations.constraints import CheckConstraint

from migrations._constraints import add_check_constraints
from models.shipments import ShipmentStatus


class Migration(migrations.Migration):
    dependencies = [("models", "0008_orders")]

    initial = False

    operations = [
        ops.CreateModel(
            name="Shipment",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "order",
                    fields.ForeignKeyField(
                        "models.Order",
                        source_field="order_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="shipments",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("carrier", fields.CharField(max_length=50)),
                ("tracking_number", fields.CharField(max_length=100)),
                ("tracking_url", fields.CharField(default="", max_length=500)),
                (
                    "status",
                    fields.CharEnumField(
                        default=ShipmentStatus.LABEL_CREATED,
                        description="LABEL_CREATED: LABEL_CREATED\nIN_TRANSIT: IN_TRANSIT\nOUT_FOR_DELIVERY: OUT_FOR_DELIVERY\nFAILED_ATTEMPT: FAILED_ATTEMPT\nDELIVERED: DELIVERED\nEXCEPTION: EXCEPTION\nRETURNED: RETURNED",
                        enum_type=ShipmentStatus,
                        max_length=20,
                    ),
                ),
                ("estimated_delivery", fields.DateField(null=True)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "shipment",
                "app": "models",
                "unique_together": (("carrier", "tracking_number"),),
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="ShipmentLine",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "shipment",
                    fields.ForeignKeyField(
                        "models.Shipment",
                        source_field="shipment_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="lines",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "order_line",
                    fields.ForeignKeyField(
                        "models.OrderLine",
                        source_field="order_line_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="shipment_lines",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("quantity", fields.IntField()),
            ],
            options={
                "table": "shipment_line",
                "app": "models",
                "constraints": [CheckConstraint(check="quantity > 0", name="shipment_line_quantity_positive")],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.RunPython(add_check_constraints("ShipmentLine")),
    ]
