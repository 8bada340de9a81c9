"""Payment attempts: what the gateway asked a payment provider to do, recorded before money moves."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

from models.orders import Order


class PaymentAttemptStatus(StrEnum):
    STARTED = "STARTED"  # recorded; the provider may be charging the card under the attempt's key
    DECLINED = "DECLINED"  # the provider refused the card: it holds nothing
    UNUSED = "UNUSED"  # the checkout ended before the provider was asked (refused, or its order placed before)
    ORDERED = "ORDERED"  # an order holds the charge (set in the order's own transaction)
    RETURNING = "RETURNING"  # ended without an order; claimed at `updated_at` by whoever gives it back
    RETURNED = "RETURNED"  # ended without an order; what the provider held under the key was given back


class PaymentAttempt(Model):
    # Written in a statement of its own before the provider is called, so a process killed while
    # the money moves still leaves a trace: recovery gives back whatever the provider holds under
    # `key` for attempts left STARTED (or RETURNING) longer than a bound. `amount`, `currency`
    # and `reference` are filled in once known (with the order, or when given back).
    id = fields.IntField(primary_key=True)
    key = fields.CharField(max_length=64, unique=True)
    provider = fields.CharField(max_length=32)
    cart_token = fields.CharField(max_length=64)
    status = fields.CharEnumField(PaymentAttemptStatus, max_length=16, default=PaymentAttemptStatus.STARTED)
    amount = fields.DecimalField(max_digits=12, decimal_places=2, null=True)
    currency = fields.CharField(max_length=3, default="")
    reference = fields.CharField(max_length=128, default="")
    order: fields.ForeignKeyNullableRelation[Order] = fields.ForeignKeyField(
        "models.Order", related_name="payment_attempts", null=True, on_delete=fields.SET_NULL
    )
    order_id: int | None
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "payment_attempt"
        indexes = (Index(fields=("status", "updated_at"), name="payment_attempt_status_updated_idx"),)
