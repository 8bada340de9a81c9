"""Customer emails: each one a change calls for, rendered, and what became of it, so each is sent
once however often its event arrives."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from models.accounts import EMAIL_LENGTH

ERROR_LENGTH = 500  # characters kept of why the last attempt failed


class SentEmailStatus(StrEnum):
    PENDING = "PENDING"  # waiting for its sending job (or that job's next retry)
    SENT = "SENT"  # the server accepted it (or it was written to var/mail)
    FAILED = "FAILED"  # refused for good, its template failed, or its retries ran out


class SentEmail(Model):
    # One email for one outbox event (models/outbox.py `event_id`): the unique pair is what makes a
    # redelivered event plan nothing twice. `order_id` finds what an order has already been sent
    # (one cancellation email per order, however many events). `message` is the email as composed
    # when its event was delivered (RFC 5322 text), so a retry sends the same message, Message-ID
    # included; `queued` is set once its sending job is deferred. The database defaults are for
    # the rows that were there before these columns (migration 0019).
    id = fields.BigIntField(primary_key=True)
    event_id = fields.UUIDField()
    kind = fields.CharField(max_length=32)
    order_id = fields.IntField(null=True, db_index=True)
    # Indexed: what was sent to one address is read for that customer's copy of their data.
    recipient = fields.CharField(max_length=EMAIL_LENGTH, db_index=True)
    status = fields.CharField(
        max_length=16, default=SentEmailStatus.PENDING.value, db_default="PENDING"
    )  # SentEmailStatus
    message = fields.TextField(default="", db_default="")
    queued = fields.BooleanField(default=False, db_default=False)
    attempts = fields.IntField(default=0, db_default=0)
    error = fields.CharField(max_length=ERROR_LENGTH, default="", db_default="")
    sent_at = fields.DatetimeField(null=True)  # when the server accepted it

    class Meta:
        table = "sent_email"
        unique_together = (("event_id", "kind"),)
