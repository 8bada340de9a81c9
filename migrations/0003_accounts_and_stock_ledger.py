import functools
from json import dumps, loads

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0002_constraints_and_search")]

    initial = False

    operations = [
        ops.CreateModel(
            name="Account",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("email", fields.CharField(unique=True, max_length=254)),
                ("password_hash", fields.CharField(max_length=255)),
                ("first_name", fields.CharField(default="", max_length=100)),
                ("last_name", fields.CharField(default="", max_length=100)),
                ("is_staff", fields.BooleanField(default=False)),
                ("is_active", fields.BooleanField(default=True)),
                (
                    "permissions",
                    fields.JSONField(
                        default=list, encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads
                    ),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={"table": "account", "app": "models", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Address",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "account",
                    fields.ForeignKeyField(
                        "models.Account",
                        source_field="account_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="addresses",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("first_name", fields.CharField(max_length=100)),
                ("last_name", fields.CharField(max_length=100)),
                ("company", fields.CharField(default="", max_length=200)),
                ("line1", fields.CharField(max_length=200)),
                ("line2", fields.CharField(default="", max_length=200)),
                ("city", fields.CharField(max_length=100)),
                ("postal_code", fields.CharField(max_length=20)),
                ("region", fields.CharField(default="", max_length=100)),
                ("country", fields.CharField(max_length=2)),
                ("phone", fields.CharField(default="", max_length=40)),
            ],
            options={
                "table": "address",
                "app": "models",
                "indexes": [Index(fields=["account_id"], name="address_account_idx")],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="RefreshToken",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "account",
                    fields.ForeignKeyField(
                        "models.Account",
                        source_field="account_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="refresh_tokens",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("token_hash", fields.CharField(unique=True, max_length=64)),
                ("family", fields.CharField(db_index=True, max_length=32)),
                ("expires_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("revoked_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={"table": "refresh_token", "app": "models", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="StockMovement",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "stock",
                    fields.ForeignKeyField(
                        "models.Stock",
                        source_field="stock_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="movements",
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
                        related_name="stock_movements",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("kind", fields.CharField(max_length=16)),
                ("delta", fields.IntField(default=0)),
                ("reserved_delta", fields.IntField(default=0)),
                ("quantity_after", fields.IntField()),
                ("reason", fields.CharField(default="", max_length=255)),
                ("actor", fields.CharField(default="", max_length=254)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "stock_movement",
                "app": "models",
                "indexes": [Index(fields=["variant_id", "created_at", "id"], name="stock_movement_variant_idx")],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
    ]
