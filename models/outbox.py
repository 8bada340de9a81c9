"""The outbox: every announced change, written in the transaction that made it."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model


class OutboxEvent(Model):
    # One committed change (models/changes.py `Change`), written in the change's own transaction so
    # it exists exactly when the change does. `event_id` names it to every consumer, which use it to
    # act once however often it is delivered; `delivered_at` is set once every consumer has had it,
    # and delivered rows are pruned after a while. Rows still undelivered some seconds after their
    # commit are what a crash or an outage left behind: a periodic job delivers them.
    id = fields.BigIntField(primary_key=True)
    event_id = fields.UUIDField(unique=True)
    kind = fields.CharField(max_length=32)
    payload: fields.JSONField[dict[str, Any]] = fields.JSONField()
    topics: fields.JSONField[list[str]] = fields.JSONField()
    tags: fields.JSONField[list[str]] = fields.JSONField()
    created_at = fields.DatetimeField(auto_now_add=True)
    delivered_at = fields.DatetimeField(null=True)

    class Meta:
        table = "outbox"
        indexes = (Index(fields=("delivered_at", "created_at"), name="outbox_delivered_created_idx"),)
