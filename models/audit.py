"""The staff audit log: one row per call of an admin mutation, whatever its outcome."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

from models.accounts import EMAIL_LENGTH

OPERATION_LENGTH = 100  # a mutation field's name
OPERATION_NAME_LENGTH = 200  # the client's operation name, cut to this
REQUEST_ID_LENGTH = 200  # the request id, cut to this (a client may send its own X-Request-Id)
ERROR_CODE_LENGTH = 64
TARGET_ID_LENGTH = 200  # a global ID; longer ones are no ID of ours and are not kept as targets


class AuditEntry(Model):
    # Who did it (`staff_id` and the email the account had then; no foreign key, so the log
    # outlives a deleted account), which mutation (`operation`, its GraphQL field name) in which
    # operation (`operation_name`, as the client named it), on what (`target_ids`, global IDs; each
    # also an AuditTarget row, for the filter), the arguments with secrets redacted (`changes`,
    # only when it succeeded), the request it came in and how it ended: `error_code` null when it
    # succeeded, else the userError's ErrorCode or the GraphQL error's code (FORBIDDEN, ...).
    # Ids grow with time: the log reads newest first by id.
    id = fields.IntField(primary_key=True)
    staff_id = fields.IntField(null=True)
    staff_email = fields.CharField(max_length=EMAIL_LENGTH, default="")
    operation = fields.CharField(max_length=OPERATION_LENGTH)
    operation_name = fields.CharField(max_length=OPERATION_NAME_LENGTH, null=True)
    target_ids: fields.JSONField[list[str]] = fields.JSONField(default=list)
    changes: fields.JSONField[dict[str, Any] | None] = fields.JSONField(null=True)
    request_id = fields.CharField(max_length=REQUEST_ID_LENGTH, default="")
    error_code = fields.CharField(max_length=ERROR_CODE_LENGTH, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    targets: fields.ReverseRelation[AuditTarget]

    class Meta:
        table = "audit_entry"
        # The filters (by staff member, by operation, by time), each read newest first.
        indexes = (
            Index(fields=("staff_id", "id"), name="audit_entry_staff_idx"),
            Index(fields=("operation", "id"), name="audit_entry_operation_idx"),
            Index(fields=("created_at",), name="audit_entry_created_idx"),
        )


class AuditTarget(Model):
    # One global ID an entry acted on, for `auditLog(filter: {targetId})`.
    id = fields.IntField(primary_key=True)
    entry: fields.ForeignKeyRelation[AuditEntry] = fields.ForeignKeyField(
        "models.AuditEntry", related_name="targets", on_delete=fields.CASCADE
    )
    entry_id: int
    target_id = fields.CharField(max_length=TARGET_ID_LENGTH)

    class Meta:
        table = "audit_target"
        indexes = (Index(fields=("target_id", "entry_id"), name="audit_target_idx"),)
