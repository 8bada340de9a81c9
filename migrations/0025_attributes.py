"""Typed attributes (issue 18, point 1): attributes with their choices, product types assigning
them to products or to variants, a product's type, and the values products and variants carry, one
row per value with a typed column each, indexed by (attribute, value) for filters and facets.

It follows 0024, the payments, refunds and returns, on main before it: one chain, one leaf."""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from models.attributes import AttributeType


class Migration(migrations.Migration):
    dependencies = [("models", "0024_payments_refunds_returns")]

    initial = False

    operations = [
        ops.CreateModel(
            name="Attribute",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("name", fields.CharField(max_length=200)),
                ("slug", fields.CharField(unique=True, max_length=200)),
                (
                    "type",
                    fields.CharEnumField(
                        description="TEXT: TEXT\nNUMBER: NUMBER\nBOOLEAN: BOOLEAN\nSELECT: SELECT\nMULTI_SELECT: MULTI_SELECT\nDATE: DATE",
                        enum_type=AttributeType,
                        max_length=16,
                    ),
                ),
                ("unit", fields.CharField(default="", max_length=16)),
                ("filterable", fields.BooleanField(default=True)),
                ("visible_in_storefront", fields.BooleanField(default=True)),
            ],
            options={"table": "attribute", "app": "models", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="AttributeChoice",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "attribute",
                    fields.ForeignKeyField(
                        "models.Attribute",
                        source_field="attribute_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="choices",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("value", fields.CharField(max_length=255)),
                ("position", fields.IntField(default=0)),
            ],
            options={
                "table": "attribute_choice",
                "app": "models",
                "unique_together": (("attribute_id", "value"),),
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="AttributeValue",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "attribute",
                    fields.ForeignKeyField(
                        "models.Attribute",
                        source_field="attribute_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="values",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "product",
                    fields.ForeignKeyField(
                        "models.Product",
                        source_field="product_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="attribute_values",
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
                        related_name="attribute_values",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("value_text", fields.CharField(null=True, max_length=255)),
                ("value_number", fields.DecimalField(null=True, max_digits=20, decimal_places=6)),
                ("value_bool", fields.BooleanField(null=True)),
                ("value_date", fields.DateField(null=True)),
                ("position", fields.IntField(default=0)),
            ],
            options={
                "table": "attribute_value",
                "app": "models",
                "indexes": [
                    Index(fields=["attribute_id", "value_text"], name="attribute_value_text_idx"),
                    Index(fields=["attribute_id", "value_number"], name="attribute_value_number_idx"),
                    Index(fields=["attribute_id", "value_bool"], name="attribute_value_bool_idx"),
                    Index(fields=["attribute_id", "value_date"], name="attribute_value_date_idx"),
                    Index(fields=["product_id", "variant_id"], name="attribute_value_product_idx"),
                    Index(fields=["variant_id"], name="attribute_value_variant_idx"),
                ],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="ProductType",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("name", fields.CharField(max_length=200)),
                ("slug", fields.CharField(unique=True, max_length=200)),
            ],
            options={"table": "product_type", "app": "models", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="ProductTypeAttribute",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "product_type",
                    fields.ForeignKeyField(
                        "models.ProductType",
                        source_field="product_type_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="assignments",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "attribute",
                    fields.ForeignKeyField(
                        "models.Attribute",
                        source_field="attribute_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="assignments",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("variant_selection", fields.BooleanField(default=False)),
                ("position", fields.IntField(default=0)),
            ],
            options={
                "table": "product_type_attribute",
                "app": "models",
                "unique_together": (("product_type_id", "attribute_id"),),
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.AddField(
            model_name="Product",
            name="product_type",
            field=fields.ForeignKeyField(
                "models.ProductType",
                source_field="product_type_id",
                null=True,
                db_constraint=True,
                to_field="id",
                related_name="products",
                on_delete=OnDelete.SET_NULL,
            ),
        ),
    ]
