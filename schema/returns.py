"""Returns: the Return type (`Order.returns`); asking for one and handling it are in `returns_admin`."""

from __future__ import annotations

from datetime import datetime

import strawberry

from loaders import Loaders
from models import Return as ReturnModel
from models import ReturnLine as ReturnLineModel
from models import ReturnStatus
from schema.context import Context
from schema.ids import encode_id
from schema.order_lines import OrderLine, order_line_of
from schema.refunds import Refund, build_refund
from schema.shared import described_enum

described_enum(
    ReturnStatus,
    "Where a return is: REQUESTED, then APPROVED or REJECTED by staff, RECEIVED when the goods arrive (its refund "
    "is made then), REFUNDED once that refund succeeded.",
    {
        ReturnStatus.REQUESTED: "Asked for by the customer (or staff on their behalf); staff have not decided yet.",
        ReturnStatus.APPROVED: "Staff agreed: the goods may be sent back.",
        ReturnStatus.REJECTED: "Staff refused (`rejectionReason` says why): its units may be asked back again.",
        ReturnStatus.RECEIVED: "The goods arrived; the refund of the units received is under way (or was refused: "
        "receive it again to retry).",
        ReturnStatus.REFUNDED: "The refund of the units received succeeded.",
    },
)


@strawberry.type(description="Units of one order line in a return.")
class ReturnLine:
    id: strawberry.ID = strawberry.field(description="The return line's ID, for `ReturnReceiveLineInput`.")
    quantity: int = strawberry.field(description="Units asked back.")
    quantity_received: int = strawberry.field(description="Units that arrived (0 until the return is received).")
    _order_id: strawberry.Private[int]
    _order_line_id: strawberry.Private[int]
    _context: strawberry.Private[Context]
    _loaders: strawberry.Private[Loaders]

    @strawberry.field(description="The order line.")
    async def order_line(self) -> OrderLine:
        return await order_line_of(self._loaders, self._context, self._order_id, self._order_line_id)


async def _lines(root: Return) -> list[ReturnLine]:
    rows = await root._loaders.return_lines_by_return_id.load(root._return_id)
    return [_line(root._context, root._order_id, row) for row in rows]


async def _refund(root: Return) -> Refund | None:
    if root._refund_id is None:
        return None
    refund = await root._loaders.refund_by_id.load(root._refund_id)
    return None if refund is None else build_refund(root._context, refund)


@strawberry.type(description="Goods a customer sends back, from the request to the refund that settles it.")
class Return:
    id: strawberry.ID = strawberry.field(description="The return's ID.")
    status: ReturnStatus = strawberry.field(description="Where the return is.")
    reason: str = strawberry.field(description="Why, as the customer said it; empty when not said.")
    rejection_reason: str | None = strawberry.field(description="Why staff refused it; null unless REJECTED.")
    lines: list[ReturnLine] = strawberry.field(resolver=_lines, description="The units asked back.")
    refund: Refund | None = strawberry.field(
        resolver=_refund, description="The refund of the units received; null until the return is received."
    )
    created_at: datetime = strawberry.field(description="When it was asked for.")
    _return_id: strawberry.Private[int]
    _order_id: strawberry.Private[int]
    _refund_id: strawberry.Private[int | None]
    _context: strawberry.Private[Context]
    _loaders: strawberry.Private[Loaders]


def _line(context: Context, order_id: int, line: ReturnLineModel) -> ReturnLine:
    return ReturnLine(
        id=encode_id("ReturnLine", line.id),
        quantity=line.quantity,
        quantity_received=line.quantity_received,
        _order_id=order_id,
        _order_line_id=line.order_line_id,
        _context=context,
        _loaders=context.loaders,
    )


def build_return(context: Context, ret: ReturnModel) -> Return:
    return Return(
        id=encode_id("Return", ret.id),
        status=ret.status,
        reason=ret.reason,
        rejection_reason=ret.rejection_reason if ret.status == ReturnStatus.REJECTED else None,
        created_at=ret.created_at,
        _return_id=ret.id,
        _order_id=ret.order_id,
        _refund_id=ret.refund_id,
        _context=context,
        _loaders=context.loaders,
    )
