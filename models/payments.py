"""Payments: what a payment provider was asked to hold or take for a cart or an order, and
everything it reported about it since.

A payment is recorded before money can move under its key (a session from
`checkoutPaymentInitialize`, or the one-step `checkoutComplete`), so a process killed while the
money moves still leaves a trace; it belongs to an order once the order's transaction sets
`order`. One that no order holds by `expires_at` is given back (recovery); an order still
AWAITING_PAYMENT when its payment's `expires_at` passes is cancelled (PAYMENT_TIMEOUT).
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.indexes import Index
from tortoise.migrations.constraints import CheckConstraint
from tortoise.models import Model

from models.orders import EVENT_MESSAGE_LENGTH, Order

# Column lengths that input is checked against before it is written.
PROVIDER_LENGTH = 32
REFERENCE_LENGTH = 128  # the provider's id of the payment (a Stripe PaymentIntent's, a test charge's)
METHOD_LENGTH = 255
CLIENT_SECRET_LENGTH = 255
URL_LENGTH = 2048  # returnUrl, and the provider's redirectUrl
PROVIDER_EVENT_ID_LENGTH = 255


class PaymentStatus(StrEnum):
    PENDING = "PENDING"  # recorded, nothing held yet: waiting for checkoutComplete, or for money from outside (manual)
    ACTION_REQUIRED = "ACTION_REQUIRED"  # the provider waits for the shopper (3-D Secure, a redirect)
    AUTHORIZED = "AUTHORIZED"  # held by the provider, not taken yet
    CAPTURED = "CAPTURED"  # taken (what was given back since is `refunded`)
    DECLINED = "DECLINED"  # refused, or the shopper failed authentication: it holds nothing
    CANCELLED = "CANCELLED"  # ended holding nothing: never used, voided, timed out, or given back
    RETURNING = "RETURNING"  # no order holds it: claimed at `updated_at` by whoever gives it back


class Payment(Model):
    id = fields.IntField(primary_key=True)
    key = fields.CharField(max_length=64, unique=True)  # the idempotency key money moves under
    provider = fields.CharField(max_length=PROVIDER_LENGTH)
    cart_token = fields.CharField(max_length=64)
    status = fields.CharEnumField(PaymentStatus, max_length=16, default=PaymentStatus.PENDING)
    # What the provider was asked for, in the cart's currency: the cart's total when recorded.
    amount = fields.DecimalField(max_digits=12, decimal_places=2, null=True)
    currency = fields.CharField(max_length=3, default="")
    reference = fields.CharField(max_length=REFERENCE_LENGTH, default="")
    # The payment method the shopper chose in the provider's form (a card token, a Stripe `pm_…`),
    # when given to the gateway rather than to the provider directly: what `confirm` charges.
    method = fields.CharField(max_length=METHOD_LENGTH, default="")
    client_secret = fields.CharField(max_length=CLIENT_SECRET_LENGTH, default="")
    return_url = fields.CharField(max_length=URL_LENGTH, default="")
    redirect_url = fields.CharField(max_length=URL_LENGTH, default="")
    captured = fields.DecimalField(max_digits=12, decimal_places=2, default=0)
    refunded = fields.DecimalField(max_digits=12, decimal_places=2, default=0)
    order: fields.ForeignKeyNullableRelation[Order] = fields.ForeignKeyField(
        "models.Order", related_name="payments", null=True, on_delete=fields.SET_NULL
    )
    order_id: int | None
    expires_at = fields.DatetimeField(null=True)  # unsettled past this: given back, its order cancelled
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "payment"
        indexes = (
            Index(fields=("status", "updated_at"), name="payment_status_updated_idx"),
            Index(fields=("order_id",), name="payment_order_idx"),
            Index(fields=("provider", "reference"), name="payment_provider_reference_idx"),
            Index(fields=("expires_at",), name="payment_expires_idx"),
        )
        constraints = (
            CheckConstraint(check="captured >= 0", name="payment_captured_non_negative"),
            CheckConstraint(check="refunded >= 0 AND refunded <= captured", name="payment_refunded_within_captured"),
        )


class PaymentEvent(Model):
    # Everything that happened to a payment, as the gateway did it or the provider reported it:
    # INITIALIZED, ACTION_REQUIRED, AUTHORIZED, CAPTURED, DECLINED, CANCELLED, REFUNDED, … A
    # provider's event is kept once: (payment, provider_event_id) is unique, so a webhook
    # delivered twice finds its event already there.
    id = fields.IntField(primary_key=True)
    payment: fields.ForeignKeyRelation[Payment] = fields.ForeignKeyField(
        "models.Payment", related_name="events", on_delete=fields.CASCADE
    )
    payment_id: int
    type = fields.CharField(max_length=32)
    amount = fields.DecimalField(max_digits=12, decimal_places=2, default=0)
    provider_event_id = fields.CharField(max_length=PROVIDER_EVENT_ID_LENGTH, null=True)
    message = fields.CharField(max_length=EVENT_MESSAGE_LENGTH, default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "payment_event"
        unique_together = (("payment_id", "provider_event_id"),)
