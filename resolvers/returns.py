"""Returns: goods a customer sends back, from the request to the refund that settles it.

REQUESTED (by whoever holds the order's token: here) -> APPROVED or REJECTED (staff, in
`returns_admin`) -> RECEIVED (staff,
the goods arrived: the refund of what came back is made through resolvers/refunds.py) -> REFUNDED
(when that refund succeeds). Anything else is INVALID_TRANSITION.

A unit can be returned once it has shipped, and only once: `OrderLine.quantity_returned` counts
the units in returns not rejected (a rejection, or units that never arrived, give theirs back), and
a request asks for at most `quantity_shipped - quantity_returned` of a line. Every step locks the
order row first (as refunds do), records an OrderEvent and a `return` change, whose email the
`ReturnLetters` compose (requested, approved, rejected, received).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from models import (
    Account,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    Return,
    ReturnLine,
    ReturnStatus,
)
from models.changes import RETURN, Change
from models.orders import EVENT_MESSAGE_LENGTH
from resolvers import outbox, refunds
from resolvers.emails import Letter
from resolvers.errors import DomainError, ErrorCode
from resolvers.orders import locked_order, order_by_token

R = ReturnStatus
TRANSITIONS: dict[ReturnStatus, frozenset[ReturnStatus]] = {
    R.REQUESTED: frozenset({R.APPROVED, R.REJECTED}),
    R.APPROVED: frozenset({R.RECEIVED, R.REJECTED}),  # refused after all, before anything arrived
    R.RECEIVED: frozenset({R.REFUNDED}),  # by its refund succeeding, never by hand
    R.REJECTED: frozenset(),
    R.REFUNDED: frozenset(),
}
# Orders whose money is still (partly) held: what a return can be asked of.
RETURNABLE = (
    OrderStatus.PARTIALLY_SHIPPED,
    OrderStatus.SHIPPED,
    OrderStatus.DELIVERED,
    OrderStatus.PARTIALLY_REFUNDED,
)
# The email each status of a return calls for (its refund's is the order's `refunded`).
EMAILS = {
    R.REQUESTED: "return_requested",
    R.APPROVED: "return_approved",
    R.REJECTED: "return_rejected",
    R.RECEIVED: "return_received",
}
SUBJECTS = {
    "return_requested": "Return requested for order #{number}",
    "return_approved": "Return approved for order #{number}",
    "return_rejected": "Return declined for order #{number}",
    "return_received": "Return received for order #{number}",
}


@dataclass(frozen=True)
class LineRequest:
    """Units of a line: of an order line (a request), or of a return's line (`return_line_id`)."""

    quantity: int
    order_line_id: int | None = None
    return_line_id: int | None = None


def check_transition(current: ReturnStatus, target: ReturnStatus) -> None:
    if target not in TRANSITIONS[ReturnStatus(current)]:
        raise DomainError(
            ErrorCode.INVALID_TRANSITION, f"A return that is {current} cannot become {target}.", ["returnId"]
        )


def announce(ret: Return) -> None:
    outbox.record(Change(RETURN, {"id": ret.id, "order_id": ret.order_id, "status": ReturnStatus(ret.status).value}))


async def record_event(order: Order, kind: str, message: str, actor: Account | None) -> None:
    await OrderEvent.create(
        order_id=order.id, kind=kind, message=message[:EVENT_MESSAGE_LENGTH], actor=actor.email if actor else ""
    )


async def request(order_token: str, lines: list[LineRequest], reason: str | None, actor: Account | None) -> Return:
    """`returnRequest`: units that shipped, asked back by whoever holds the order's token."""
    reason = refunds.check_reason(reason)
    if not lines:
        raise DomainError(ErrorCode.REQUIRED, "Name at least one line to return.", ["lines"])
    found = await order_by_token(order_token)
    if found is None:
        raise DomainError(ErrorCode.NOT_FOUND, "No order has this token.", ["orderToken"])
    async with outbox.transaction():
        order = await locked_order(found.id)
        if order.status not in RETURNABLE:
            raise DomainError(
                ErrorCode.INVALID_TRANSITION, f"An order that is {order.status} cannot be returned.", ["orderToken"]
            )
        order_lines = {line.id: line for line in await OrderLine.filter(order_id=order.id)}
        asked: dict[int, int] = {}
        for index, wanted in enumerate(lines):
            line = order_lines.get(wanted.order_line_id or 0)
            if line is None:
                raise DomainError(
                    ErrorCode.NOT_FOUND, "This order has no such line.", ["lines", str(index), "orderLineId"]
                )
            if line.id in asked:
                raise DomainError(ErrorCode.DUPLICATE, "Each line is given once.", ["lines", str(index), "orderLineId"])
            left = min(line.quantity_shipped - line.quantity_returned, line.quantity - line.quantity_refunded)
            if not 1 <= wanted.quantity <= left:
                raise DomainError(
                    ErrorCode.INVALID_QUANTITY,
                    f"Between 1 and {left} of {line.sku} can be returned (units shipped and not returned or refunded)."
                    if left > 0
                    else f"No unit of {line.sku} can be returned: none shipped, or all were returned or refunded.",
                    ["lines", str(index), "quantity"],
                )
            asked[line.id] = wanted.quantity
        ret = await Return.create(order_id=order.id, reason=reason, requested_by=actor.email if actor else order.email)
        await ReturnLine.bulk_create(
            [ReturnLine(return_request_id=ret.id, order_line_id=i, quantity=q) for i, q in asked.items()]
        )
        for line_id, quantity in asked.items():
            order_lines[line_id].quantity_returned += quantity
        await OrderLine.bulk_update([order_lines[i] for i in asked], fields=["quantity_returned"])
        await record_event(
            order, "RETURN_REQUESTED", f"Return of {sum(asked.values())} unit(s) requested. {reason}", actor
        )
        announce(ret)
    return ret


class ReturnLetters:
    """The emails about a return (resolvers/emails.py `Letters` of `return` changes): one per step."""

    kinds: tuple[str, ...] = tuple(EMAILS.values())

    def email_kind(self, change: Change) -> str | None:
        return EMAILS.get(ReturnStatus(change.payload["status"]))

    async def compose(self, change: Change, kind: str) -> Letter | None:
        ret = await Return.get_or_none(id=change.payload["id"])
        order = None if ret is None else await Order.get_or_none(id=ret.order_id)
        if ret is None or order is None or not order.email:
            return None  # deleted since, or its customer's data erased
        lines = await ReturnLine.filter(return_request_id=ret.id).order_by("id").prefetch_related("order_line")
        context: dict[str, Any] = {
            "order": {"number": order.number, "email": order.email},
            "reason": ret.reason,
            "rejection_reason": ret.rejection_reason,
            "lines": [
                {
                    "sku": line.order_line.sku,
                    "name": line.order_line.product_name
                    + (f" ({line.order_line.variant_name})" if line.order_line.variant_name else ""),
                    "quantity": line.quantity,
                    "received": line.quantity_received,
                }
                for line in lines
            ],
        }
        return Letter(recipient=order.email, subject=SUBJECTS[kind].format(number=order.number), context=context)
