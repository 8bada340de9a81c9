"""Findable pages (issue 18, point 4): staff's search-engine title and description on products and
categories (null: the name and description stand in), when a category last changed (the sitemap's
<lastmod>; null for those untouched since), and the related products staff chose, in their order.

It follows 0026, the search's trigram index, on main before it: one chain, one leaf."""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops
from tortoise.migrations.constraints import CheckConstraint


class Migration(migrations.Migration):
    dependencies = [("models", "0026_search")]

    initial = False

    operations = [
        ops.CreateModel(
            name="ProductRelated",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "product",
                    fields.ForeignKeyField(
                        "models.Product",
                        source_field="product_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="related_links",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "related",
                    fields.ForeignKeyField(
                        "models.Product",
                        source_field="related_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="related_from",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("position", fields.IntField(default=0)),
            ],
            options={
                "table": "product_related",
                "app": "models",
                "unique_together": (("product_id", "related_id"),),
                "constraints": [CheckConstraint(check="product_id <> related_id", name="product_related_not_itself")],
                "indexes": [Index(fields=["product_id", "position"], name="product_related_position_idx")],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.AddField(
            model_name="Category",
            name="seo_description",
            field=fields.CharField(null=True, max_length=300),
        ),
        ops.AddField(
            model_name="Category",
            name="seo_title",
            field=fields.CharField(null=True, max_length=70),
        ),
        ops.AddField(
            model_name="Category",
            name="updated_at",
            field=fields.DatetimeField(null=True, auto_now=True, auto_now_add=False),
        ),
        ops.AddField(
            model_name="Product",
            name="seo_description",
            field=fields.CharField(null=True, max_length=300),
        ),
        ops.AddField(
            model_name="Product",
            name="seo_title",
            field=fields.CharField(null=True, max_length=70),
        ),
    ]
