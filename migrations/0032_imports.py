"""Bulk catalogue files (issue 19, point 2): product imports with the uploaded file, their progress
and refused rows; product exports with the file their job wrote, until the download link expires."""

import functools
from json import dumps, loads

from tortoise import fields, migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0031_admin_lists")]

    initial = False

    operations = [
        ops.CreateModel(
            name="ImportJob",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("status", fields.CharField(default="PENDING", max_length=16)),
                ("format", fields.CharField(max_length=8)),
                ("file_name", fields.CharField(default="", max_length=255)),
                ("content", fields.TextField(unique=False)),
                ("actor", fields.CharField(default="", max_length=254)),
                ("total", fields.IntField(default=0)),
                ("processed", fields.IntField(default=0)),
                ("failed", fields.IntField(default=0)),
                (
                    "errors",
                    fields.JSONField(
                        default=list, encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads
                    ),
                ),
                ("queued", fields.BooleanField(default=False)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("started_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("finished_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={"table": "import_job", "app": "models", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="ProductExport",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("key", fields.CharField(unique=True, max_length=32)),
                ("status", fields.CharField(default="PENDING", max_length=16)),
                ("format", fields.CharField(max_length=8)),
                (
                    "product_filter",
                    fields.JSONField(
                        default=dict, encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads
                    ),
                ),
                ("actor", fields.CharField(default="", max_length=254)),
                ("products", fields.IntField(default=0)),
                ("document", fields.TextField(null=True, unique=False)),
                ("queued", fields.BooleanField(default=False)),
                ("requested_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("ready_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("expires_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "product_export",
                "app": "models",
                "indexes": [Index(fields=["expires_at"], name="product_export_expires_idx")],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
    ]
