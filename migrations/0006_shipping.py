import functools
from json import dumps, loads

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops
from tortoise.migrations.constraints import CheckConstraint

from migrations._constraints import add_check_constraints


class Migration(migrations.Migration):
    dependencies = [("models", "0005_carts")]

    initial = False

    operations = [
        ops.CreateModel(
            name="ShippingMethod",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("name", fields.CharField(max_length=100)),
                ("carrier", fields.CharField(max_length=50)),
                ("price", fields.DecimalField(max_digits=12, decimal_places=2)),
                ("free_over", fields.DecimalField(null=True, max_digits=12, decimal_places=2)),
                (
                    "countries",
                    fields.JSONField(
                        default=list, encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads
                    ),
                ),
                ("min_weight_grams", fields.IntField(default=0)),
                ("max_weight_grams", fields.IntField(null=True)),
                ("min_days", fields.IntField(default=1)),
                ("max_days", fields.IntField(default=5)),
                ("active", fields.BooleanField(default=True)),
            ],
            options={
                "table": "shipping_method",
                "app": "models",
                "constraints": [
                    CheckConstraint(check="price >= 0", name="shipping_method_price_non_negative"),
                    CheckConstraint(check="min_days <= max_days", name="shipping_method_days_ordered"),
                ],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.AddField(
            model_name="Cart",
            name="shipping_address",
            field=fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads),
        ),
        ops.AddField(
            model_name="Cart",
            name="shipping_method",
            field=fields.ForeignKeyField(
                "models.ShippingMethod",
                source_field="shipping_method_id",
                null=True,
                db_constraint=True,
                to_field="id",
                related_name="carts",
                on_delete=OnDelete.SET_NULL,
            ),
        ),
        ops.RunPython(add_check_constraints("ShippingMethod")),
    ]
