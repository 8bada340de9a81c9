"""Customer emails: which ones have been sent, so each is sent once however often its event arrives."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from models.accounts import EMAIL_LENGTH


class SentEmail(Model):
    # One email sent for one outbox event (models/outbox.py `event_id`): the unique pair is what
    # makes a redelivered event send nothing twice, even from two workers at once. `order_id` finds
    # what an order has already been sent (one cancellation email per order, however many events).
    id = fields.BigIntField(primary_key=True)
    event_id = fields.UUIDField()
    kind = fields.CharField(max_length=32)
    order_id = fields.IntField(null=True, db_index=True)
    recipient = fields.CharField(max_length=EMAIL_LENGTH)
    sent_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "sent_email"
        unique_together = (("event_id", "kind"),)
