"""The staff audit log (issue 19, point 3): one row per call of an admin mutation, and the global IDs
it acted on, indexed for `auditLog(filter:)` (by staff member, operation, time and target), each
read newest first.

It follows 0029, the search document, on main before it: one chain, one leaf."""

import functools
from json import dumps, loads

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0029_search_document")]

    initial = False

    operations = [
        ops.CreateModel(
            name="AuditEntry",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("staff_id", fields.IntField(null=True)),
                ("staff_email", fields.CharField(default="", max_length=254)),
                ("operation", fields.CharField(max_length=100)),
                ("operation_name", fields.CharField(null=True, max_length=200)),
                (
                    "target_ids",
                    fields.JSONField(
                        default=list, encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads
                    ),
                ),
                (
                    "changes",
                    fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads),
                ),
                ("request_id", fields.CharField(default="", max_length=200)),
                ("error_code", fields.CharField(null=True, max_length=64)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "audit_entry",
                "app": "models",
                "indexes": [
                    Index(fields=["staff_id", "id"], name="audit_entry_staff_idx"),
                    Index(fields=["operation", "id"], name="audit_entry_operation_idx"),
                    Index(fields=["created_at"], name="audit_entry_created_idx"),
                ],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="AuditTarget",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "entry",
                    fields.ForeignKeyField(
                        "models.AuditEntry",
                        source_field="entry_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="targets",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("target_id", fields.CharField(max_length=200)),
            ],
            options={
                "table": "audit_target",
                "app": "models",
                "indexes": [Index(fields=["target_id", "entry_id"], name="audit_target_idx")],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
    ]
