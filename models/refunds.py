"""Refunds: money given back for an order, in whole or for some of its lines and its shipping."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.indexes import Index
from tortoise.migrations.constraints import CheckConstraint
from tortoise.models import Model

from models.accounts import EMAIL_LENGTH
from models.orders import EVENT_MESSAGE_LENGTH, Order, OrderLine
from models.payments import REFERENCE_LENGTH, Payment


class RefundStatus(StrEnum):
    PENDING = "PENDING"  # recorded (its amount counted against the payment); the provider not yet answered
    SUCCEEDED = "SUCCEEDED"  # the provider gave the money back
    FAILED = "FAILED"  # the provider refused: nothing was given back, its amount is refundable again


class Refund(Model):
    id = fields.IntField(primary_key=True)
    order: fields.ForeignKeyRelation[Order] = fields.ForeignKeyField(
        "models.Order", related_name="refunds", on_delete=fields.CASCADE
    )
    order_id: int
    payment: fields.ForeignKeyNullableRelation[Payment] = fields.ForeignKeyField(
        "models.Payment", related_name="refunds", null=True, on_delete=fields.SET_NULL
    )
    payment_id: int | None
    status = fields.CharEnumField(RefundStatus, max_length=16, default=RefundStatus.PENDING)
    amount = fields.DecimalField(max_digits=12, decimal_places=2)
    currency = fields.CharField(max_length=3)
    shipping = fields.DecimalField(max_digits=12, decimal_places=2, default=0)  # the part that is shipping
    reason = fields.CharField(max_length=EVENT_MESSAGE_LENGTH, default="")
    key = fields.CharField(max_length=64, unique=True)  # the idempotency key the provider refunds under
    reference = fields.CharField(max_length=REFERENCE_LENGTH, default="")  # the provider's id of the refund
    actor = fields.CharField(max_length=EMAIL_LENGTH, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "refund"
        indexes = (
            Index(fields=("order_id",), name="refund_order_idx"),
            Index(fields=("status", "updated_at"), name="refund_status_updated_idx"),
        )
        constraints = (
            CheckConstraint(check="amount > 0", name="refund_amount_positive"),
            CheckConstraint(check="shipping >= 0 AND shipping <= amount", name="refund_shipping_within"),
        )


class RefundLine(Model):
    id = fields.IntField(primary_key=True)
    refund: fields.ForeignKeyRelation[Refund] = fields.ForeignKeyField(
        "models.Refund", related_name="lines", on_delete=fields.CASCADE
    )
    refund_id: int
    order_line: fields.ForeignKeyRelation[OrderLine] = fields.ForeignKeyField(
        "models.OrderLine", related_name="refund_lines", on_delete=fields.CASCADE
    )
    order_line_id: int
    quantity = fields.IntField()
    amount = fields.DecimalField(max_digits=12, decimal_places=2)
    restock = fields.BooleanField(default=False)

    class Meta:
        table = "refund_line"
        indexes = (Index(fields=("refund_id",), name="refund_line_refund_idx"),)
        constraints = (CheckConstraint(check="quantity > 0", name="refund_line_quantity_positive"),)
