"""Uploaded media (issue 19, point 1): where an uploaded product image is kept in the media storage,
its size and format, and the thumbnails made of it (one row per image, width and format).

It follows 0032, the product imports, on main before it: one chain, one leaf."""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0032_imports")]

    initial = False

    operations = [
        ops.CreateModel(
            name="ImageThumbnail",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "image",
                    fields.ForeignKeyField(
                        "models.ProductImage",
                        source_field="image_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="thumbnails",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("width", fields.IntField()),
                ("format", fields.CharField(max_length=8)),
                ("status", fields.CharField(default="PENDING", max_length=8)),
                ("storage_key", fields.CharField(null=True, max_length=200)),
                ("queued", fields.BooleanField(default=False)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "image_thumbnail",
                "app": "models",
                "unique_together": (("image_id", "width", "format"),),
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.AddField(
            model_name="ProductImage",
            name="format",
            field=fields.CharField(null=True, max_length=8),
        ),
        ops.AddField(
            model_name="ProductImage",
            name="height",
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name="ProductImage",
            name="storage_key",
            field=fields.CharField(null=True, max_length=200),
        ),
        ops.AddField(
            model_name="ProductImage",
            name="width",
            field=fields.IntField(null=True),
        ),
    ]
