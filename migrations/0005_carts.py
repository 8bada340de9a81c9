from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops
from tortoise.migrations.constraints import CheckConstraint

from migrations._constraints import add_check_constraints


class Migration(migrations.Migration):
    dependencies = [("models", "0004_drop_variant_created_at")]

    initial = False

    operations = [
        ops.CreateModel(
            name="Cart",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("token", fields.CharField(unique=True, max_length=64)),
                (
                    "customer",
                    fields.ForeignKeyField(
                        "models.Account",
                        source_field="customer_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="carts",
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                ("email", fields.CharField(default="", max_length=254)),
                ("currency", fields.CharField(max_length=3)),
                ("completed_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={"table": "cart", "app": "models", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="CartLine",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "cart",
                    fields.ForeignKeyField(
                        "models.Cart",
                        source_field="cart_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="lines",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "variant",
                    fields.ForeignKeyField(
                        "models.ProductVariant",
                        source_field="variant_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="cart_lines",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("quantity", fields.IntField()),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "cart_line",
                "app": "models",
                "unique_together": (("cart_id", "variant_id"),),
                "constraints": [CheckConstraint(check="quantity > 0", name="cart_line_quantity_positive")],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.RunPython(add_check_constraints("CartLine")),
    ]
