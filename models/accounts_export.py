"""A customer's copies of their data (issue 16, point 6): each request, and the document once built."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

from models.accounts import Account

KEY_LENGTH = 32  # characters of a random key (24 bytes, URL-safe base64)


class DataExportStatus(StrEnum):
    PENDING = "PENDING"  # requested; its job builds the document
    READY = "READY"  # built: its download link is emailed, and works until `expires_at`
    FAILED = "FAILED"  # its job gave up, or it was left pending too long (another may be requested)


class DataExport(Model):
    # One request for a copy of everything held about a customer. `document` is the JSON built by
    # its job, kept here rather than in a file: every web process can serve it whichever host's
    # worker built it, it commits with the READY status (no half-written file is ever served), and
    # deleting the expired row is all the cleaning up there is. A customer's data is kilobytes to
    # a few megabytes. `key` names it in its download link, which carries it signed with
    # SECRET_KEY (resolvers/accounts_export.py): the row alone does not make a working link.
    # Deleting the account deletes its exports.
    id = fields.IntField(primary_key=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name="data_exports", on_delete=fields.CASCADE
    )
    account_id: int
    key = fields.CharField(max_length=KEY_LENGTH, unique=True)
    status = fields.CharField(max_length=16, default=DataExportStatus.PENDING.value)  # DataExportStatus
    document = fields.TextField(null=True)
    queued = fields.BooleanField(default=False)  # its building job is deferred
    requested_at = fields.DatetimeField(auto_now_add=True)
    ready_at = fields.DatetimeField(null=True)
    expires_at = fields.DatetimeField()  # the link stops working, and the periodic pruning deletes it

    class Meta:
        table = "data_export"
        indexes = (
            # The requests of one account in the last day (the throttle), and the expired ones (pruning).
            Index(fields=("account_id", "requested_at"), name="data_export_account_requested_idx"),
            Index(fields=("expires_at",), name="data_export_expires_idx"),
        )
