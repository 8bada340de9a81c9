from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops
from tortoise.migrations.constraints import CheckConstraint

from models.catalogue import ProductStatus


class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name="Category",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "parent",
                    fields.ForeignKeyField(
                        "models.Category",
                        source_field="parent_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="children",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("name", fields.CharField(max_length=200)),
                ("slug", fields.CharField(unique=True, max_length=200)),
                ("description", fields.TextField(default="", unique=False)),
                ("position", fields.IntField(default=0)),
                ("path", fields.CharField(db_index=True, max_length=255)),
                ("depth", fields.IntField(default=0)),
            ],
            options={
                "table": "category",
                "app": "models",
                "indexes": [Index(fields=["parent_id", "position"], name="category_parent_position_idx")],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Product",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("name", fields.CharField(max_length=255)),
                ("slug", fields.CharField(unique=True, max_length=255)),
                ("description", fields.TextField(default="", unique=False)),
                (
                    "category",
                    fields.ForeignKeyField(
                        "models.Category",
                        source_field="category_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="products",
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                (
                    "status",
                    fields.CharEnumField(
                        default=ProductStatus.DRAFT,
                        description="DRAFT: DRAFT\nACTIVE: ACTIVE\nARCHIVED: ARCHIVED",
                        enum_type=ProductStatus,
                        max_length=16,
                    ),
                ),
                ("min_price", fields.DecimalField(null=True, max_digits=12, decimal_places=2)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={
                "table": "product",
                "app": "models",
                "indexes": [
                    Index(fields=["status", "name", "id"], name="product_status_name_idx"),
                    Index(fields=["status", "min_price", "id"], name="product_status_price_idx"),
                    Index(fields=["status", "created_at", "id"], name="product_status_created_idx"),
                    Index(fields=["category_id", "status"], name="product_category_status_idx"),
                ],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="ProductImage",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "product",
                    fields.ForeignKeyField(
                        "models.Product",
                        source_field="product_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="images",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("url", fields.CharField(max_length=1024)),
                ("alt_text", fields.CharField(default="", max_length=255)),
                ("position", fields.IntField(default=0)),
            ],
            options={
                "table": "product_image",
                "app": "models",
                "indexes": [Index(fields=["product_id", "position"], name="image_product_position_idx")],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="ProductVariant",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "product",
                    fields.ForeignKeyField(
                        "models.Product",
                        source_field="product_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="variants",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("sku", fields.CharField(unique=True, max_length=64)),
                ("name", fields.CharField(max_length=255)),
                ("price", fields.DecimalField(max_digits=12, decimal_places=2)),
                ("compare_at_price", fields.DecimalField(null=True, max_digits=12, decimal_places=2)),
                ("weight_grams", fields.IntField(default=0)),
                ("position", fields.IntField(default=0)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "product_variant",
                "app": "models",
                "constraints": [
                    CheckConstraint(check="price >= 0", name="variant_price_non_negative"),
                    CheckConstraint(
                        check="compare_at_price IS NULL OR compare_at_price >= 0",
                        name="variant_compare_at_price_non_negative",
                    ),
                    CheckConstraint(check="weight_grams >= 0", name="variant_weight_non_negative"),
                ],
                "indexes": [
                    Index(fields=["product_id", "position"], name="variant_product_position_idx"),
                    Index(fields=["price"], name="variant_price_idx"),
                ],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="VariantOption",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "variant",
                    fields.ForeignKeyField(
                        "models.ProductVariant",
                        source_field="variant_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="options",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("name", fields.CharField(max_length=64)),
                ("value", fields.CharField(max_length=128)),
                ("position", fields.IntField(default=0)),
            ],
            options={
                "table": "variant_option",
                "app": "models",
                "unique_together": (("variant_id", "name"),),
                "indexes": [Index(fields=["name", "value"], name="variant_option_name_value_idx")],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Warehouse",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("code", fields.CharField(unique=True, max_length=32)),
                ("name", fields.CharField(max_length=200)),
            ],
            options={"table": "warehouse", "app": "models", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Stock",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "variant",
                    fields.ForeignKeyField(
                        "models.ProductVariant",
                        source_field="variant_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="stocks",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "warehouse",
                    fields.ForeignKeyField(
                        "models.Warehouse",
                        source_field="warehouse_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="stocks",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("quantity", fields.IntField(default=0)),
                ("reserved", fields.IntField(default=0)),
            ],
            options={
                "table": "stock",
                "app": "models",
                "unique_together": (("variant_id", "warehouse_id"),),
                "constraints": [
                    CheckConstraint(check="quantity >= 0", name="stock_quantity_non_negative"),
                    CheckConstraint(check="reserved >= 0", name="stock_reserved_non_negative"),
                    CheckConstraint(check="reserved <= quantity", name="stock_reserved_within_quantity"),
                ],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
    ]
