from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops
from tortoise.migrations.constraints import CheckConstraint

from migrations._constraints import add_check_constraints
from models.checkout import DiscountKind


class Migration(migrations.Migration):
    dependencies = [("models", "0006_shipping")]

    initial = False

    operations = [
        ops.CreateModel(
            name="DiscountCode",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("code", fields.CharField(unique=True, max_length=64)),
                (
                    "kind",
                    fields.CharEnumField(
                        description="PERCENTAGE: PERCENTAGE\nFIXED_AMOUNT: FIXED_AMOUNT\nFREE_SHIPPING: FREE_SHIPPING",
                        enum_type=DiscountKind,
                        max_length=16,
                    ),
                ),
                ("value", fields.DecimalField(default=0, max_digits=12, decimal_places=2)),
                ("min_subtotal", fields.DecimalField(null=True, max_digits=12, decimal_places=2)),
                ("starts_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("ends_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("usage_limit", fields.IntField(null=True)),
                ("per_customer_limit", fields.IntField(null=True)),
                ("used_count", fields.IntField(default=0)),
                ("active", fields.BooleanField(default=True)),
            ],
            options={
                "table": "discount_code",
                "app": "models",
                "constraints": [
                    CheckConstraint(check="value >= 0", name="discount_code_value_non_negative"),
                    CheckConstraint(check="used_count >= 0", name="discount_code_used_non_negative"),
                ],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="TaxRate",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("country", fields.CharField(unique=True, max_length=2)),
                ("rate", fields.DecimalField(max_digits=6, decimal_places=4)),
            ],
            options={
                "table": "tax_rate",
                "app": "models",
                "constraints": [CheckConstraint(check="rate >= 0 AND rate < 1", name="tax_rate_in_range")],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.AddField(
            model_name="Cart",
            name="discount_code",
            field=fields.ForeignKeyField(
                "models.DiscountCode",
                source_field="discount_code_id",
                null=True,
                db_constraint=True,
                to_field="id",
                related_name="carts",
                on_delete=OnDelete.SET_NULL,
            ),
        ),
        ops.RunPython(add_check_constraints("DiscountCode", "TaxRate")),
    ]
