import functools
from json import dumps, loads

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops
from tortoise.migrations.constraints import CheckConstraint

from migrations._constraints import add_check_constraints
from models.orders import OrderStatus


async def start_order_numbers(apps, schema_editor) -> None:
    # The single counter row exists from the start, so concurrent first checkouts never race to create it.
    await schema_editor.client.execute_query('INSERT INTO "order_counter" ("id", "last_number") VALUES (1, 1000)')


class Migration(migrations.Migration):
    dependencies = [("models", "0007_discounts_and_taxes")]

    initial = False

    operations = [
        ops.CreateModel(
            name="Order",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("number", fields.IntField(unique=True)),
                ("token", fields.CharField(unique=True, max_length=64)),
                (
                    "cart",
                    fields.ForeignKeyField(
                        "models.Cart",
                        source_field="cart_id",
                        null=True,
                        unique=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="orders",
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                ("idempotency_key", fields.CharField(null=True, unique=True, max_length=128)),
                (
                    "customer",
                    fields.ForeignKeyField(
                        "models.Account",
                        source_field="customer_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="orders",
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                ("email", fields.CharField(max_length=254)),
                (
                    "status",
                    fields.CharEnumField(
                        default=OrderStatus.PLACED,
                        description="PLACED: PLACED\nPAID: PAID\nPARTIALLY_SHIPPED: PARTIALLY_SHIPPED\nSHIPPED: SHIPPED\nDELIVERED: DELIVERED\nCANCELLED: CANCELLED\nREFUNDED: REFUNDED",
                        enum_type=OrderStatus,
                        max_length=20,
                    ),
                ),
                ("currency", fields.CharField(max_length=3)),
                ("subtotal", fields.DecimalField(max_digits=12, decimal_places=2)),
                ("discount_total", fields.DecimalField(max_digits=12, decimal_places=2)),
                ("shipping_total", fields.DecimalField(max_digits=12, decimal_places=2)),
                ("tax_total", fields.DecimalField(max_digits=12, decimal_places=2)),
                ("total", fields.DecimalField(max_digits=12, decimal_places=2)),
                (
                    "shipping_address",
                    fields.JSONField(encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads),
                ),
                ("shipping_method_name", fields.CharField(max_length=100)),
                ("shipping_carrier", fields.CharField(max_length=50)),
                ("discount_code", fields.CharField(default="", max_length=64)),
                ("payment_provider", fields.CharField(max_length=32)),
                ("payment_reference", fields.CharField(default="", max_length=128)),
                ("paid_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "order",
                "app": "models",
                "indexes": [
                    Index(fields=["customer_id", "created_at"], name="order_customer_created_idx"),
                    Index(fields=["status", "created_at"], name="order_status_created_idx"),
                    Index(fields=["email"], name="order_email_idx"),
                ],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Allocation",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "order",
                    fields.ForeignKeyField(
                        "models.Order",
                        source_field="order_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="allocations",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "variant",
                    fields.ForeignKeyField(
                        "models.ProductVariant",
                        source_field="variant_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="allocations",
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                (
                    "stock",
                    fields.ForeignKeyField(
                        "models.Stock",
                        source_field="stock_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="allocations",
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                ("quantity", fields.IntField()),
            ],
            options={
                "table": "allocation",
                "app": "models",
                "indexes": [Index(fields=["order_id"], name="allocation_order_idx")],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="OrderCounter",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("last_number", fields.IntField(default=1000)),
            ],
            options={"table": "order_counter", "app": "models", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="OrderEvent",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "order",
                    fields.ForeignKeyField(
                        "models.Order",
                        source_field="order_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="events",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("kind", fields.CharField(max_length=32)),
                ("message", fields.CharField(default="", max_length=500)),
                ("actor", fields.CharField(default="", max_length=254)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "order_event",
                "app": "models",
                "indexes": [Index(fields=["order_id", "id"], name="order_event_order_idx")],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="OrderLine",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "order",
                    fields.ForeignKeyField(
                        "models.Order",
                        source_field="order_id",
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
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="order_lines",
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                ("sku", fields.CharField(max_length=64)),
                ("product_name", fields.CharField(max_length=255)),
                ("variant_name", fields.CharField(max_length=255)),
                ("quantity", fields.IntField()),
                ("quantity_shipped", fields.IntField(default=0)),
                ("unit_price", fields.DecimalField(max_digits=12, decimal_places=2)),
                ("total", fields.DecimalField(max_digits=12, decimal_places=2)),
            ],
            options={
                "table": "order_line",
                "app": "models",
                "unique_together": (("order_id", "variant_id"),),
                "constraints": [
                    CheckConstraint(check="quantity > 0", name="order_line_quantity_positive"),
                    CheckConstraint(
                        check="quantity_shipped >= 0 AND quantity_shipped <= quantity", name="order_line_shipped_within"
                    ),
                ],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.RunPython(add_check_constraints("OrderLine")),
        ops.RunPython(start_order_numbers),
    ]
