"""Returns: goods a customer sends back, from the request to the refund that settles it."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.indexes import Index
from tortoise.migrations.constraints import CheckConstraint
from tortoise.models import Model

from models.accounts import EMAIL_LENGTH
from models.orders import EVENT_MESSAGE_LENGTH, Order, OrderLine
from models.refunds import Refund


class ReturnStatus(StrEnum):
    REQUESTED = "REQUESTED"  # asked for by the customer (or staff on their behalf)
    APPROVED = "APPROVED"  # staff agreed: the goods may be sent back
    REJECTED = "REJECTED"  # staff refused: its lines may be asked for again
    RECEIVED = "RECEIVED"  # the goods arrived; the refund is under way
    REFUNDED = "REFUNDED"  # the refund that settles it succeeded


class Return(Model):
    id = fields.IntField(primary_key=True)
    order: fields.ForeignKeyRelation[Order] = fields.ForeignKeyField(
        "models.Order", related_name="returns", on_delete=fields.CASCADE
    )
    order_id: int
    status = fields.CharEnumField(ReturnStatus, max_length=16, default=ReturnStatus.REQUESTED)
    reason = fields.CharField(max_length=EVENT_MESSAGE_LENGTH, default="")
    rejection_reason = fields.CharField(max_length=EVENT_MESSAGE_LENGTH, default="")
    requested_by = fields.CharField(max_length=EMAIL_LENGTH, default="")
    refund: fields.ForeignKeyNullableRelation[Refund] = fields.ForeignKeyField(
        "models.Refund", related_name="returns", null=True, on_delete=fields.SET_NULL
    )
    refund_id: int | None
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "return_request"  # RETURN is a reserved word in SQL
        indexes = (Index(fields=("order_id",), name="return_order_idx"),)


class ReturnLine(Model):
    id = fields.IntField(primary_key=True)
    return_request: fields.ForeignKeyRelation[Return] = fields.ForeignKeyField(
        "models.Return", related_name="lines", on_delete=fields.CASCADE
    )
    return_request_id: int
    order_line: fields.ForeignKeyRelation[OrderLine] = fields.ForeignKeyField(
        "models.OrderLine", related_name="return_lines", on_delete=fields.CASCADE
    )
    order_line_id: int
    quantity = fields.IntField()
    quantity_received = fields.IntField(default=0)

    class Meta:
        table = "return_line"
        unique_together = (("return_request_id", "order_line_id"),)
        constraints = (
            CheckConstraint(check="quantity > 0", name="return_line_quantity_positive"),
            CheckConstraint(
                check="quantity_received >= 0 AND quantity_received <= quantity", name="return_line_received_within"
            ),
        )
