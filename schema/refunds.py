"""Refunds: the Refund type (`Order.refunds`); staff give money back in `refunds_admin`."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from loaders import Loaders
from models import Refund as RefundModel
from models import RefundLine as RefundLineModel
from models import RefundStatus
from schema.context import Context
from schema.ids import encode_id
from schema.order_lines import OrderLine, order_line_of
from schema.shared import Money, build_money, described_enum

described_enum(
    RefundStatus,
    "Where a refund is: the provider is asked after the refund is recorded.",
    {
        RefundStatus.PENDING: "Recorded, its amount set aside; the payment provider has not answered yet (it is asked "
        "again later under the same key, so it never refunds twice).",
        RefundStatus.SUCCEEDED: "The payment provider gave the money back.",
        RefundStatus.FAILED: "The payment provider refused: nothing was given back, and the amount can be refunded again.",
    },
)


@strawberry.type(description="Units of one order line a refund gave the money back for.")
class RefundLine:
    quantity: int = strawberry.field(description="How many units.")
    amount: Money = strawberry.field(
        description="What was given back for the units: what the order paid for them, their "
        "share of its discount and tax included (`unitPrice` times `quantity` when it had neither)."
    )
    restock: bool = strawberry.field(description="Whether units that had shipped were put back on hand.")
    _order_id: strawberry.Private[int]
    _order_line_id: strawberry.Private[int]
    _context: strawberry.Private[Context]
    _loaders: strawberry.Private[Loaders]

    @strawberry.field(description="The order line.")
    async def order_line(self) -> OrderLine:
        return await order_line_of(self._loaders, self._context, self._order_id, self._order_line_id)


async def _lines(root: Refund) -> list[RefundLine]:
    rows = await root._loaders.refund_lines_by_refund_id.load(root._refund_id)
    return [build_refund_line(root._context, root._order_id, row) for row in rows]


@strawberry.type(description="Money given back for an order: for some of its lines, its shipping, or an amount.")
class Refund:
    id: strawberry.ID = strawberry.field(description="The refund's ID.")
    amount: Money = strawberry.field(description="What was (or is being) given back, in all.")
    status: RefundStatus = strawberry.field(description="Whether the payment provider gave it back.")
    reason: str = strawberry.field(description="Why, as staff (or the return) said it; empty when not said.")
    lines: list[RefundLine] = strawberry.field(resolver=_lines, description="The units it is for; may be empty.")
    includes_shipping: bool = strawberry.field(description="Whether it gave back (some of) the shipping.")
    shipping: Money = strawberry.field(description="The part of `amount` that is shipping.")
    created_at: datetime = strawberry.field(description="When it was asked for.")
    _refund_id: strawberry.Private[int]
    _order_id: strawberry.Private[int]
    _context: strawberry.Private[Context]
    _loaders: strawberry.Private[Loaders]


def build_refund_line(context: Context, order_id: int, line: RefundLineModel) -> RefundLine:
    return RefundLine(
        quantity=line.quantity,
        amount=build_money(line.amount, context),
        restock=line.restock,
        _order_id=order_id,
        _order_line_id=line.order_line_id,
        _context=context,
        _loaders=context.loaders,
    )


def build_refund(context: Context, refund: RefundModel) -> Refund:
    return Refund(
        id=encode_id("Refund", refund.id),
        amount=build_money(refund.amount, context),
        status=refund.status,
        reason=refund.reason,
        includes_shipping=Decimal(refund.shipping) > 0,
        shipping=build_money(refund.shipping, context),
        created_at=refund.created_at,
        _refund_id=refund.id,
        _order_id=refund.order_id,
        _context=context,
        _loaders=context.loaders,
    )
