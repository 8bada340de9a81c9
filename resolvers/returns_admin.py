"""Staff moving a return on (MANAGE_ORDERS): approving, rejecting, and receiving it, which refunds
what came back through resolvers/refunds.py (`returns`: the request, the table of transitions)."""

from __future__ import annotations

from models import (
    Account,
    Order,
    OrderLine,
    Refund,
    RefundStatus,
    Return,
    ReturnLine,
    ReturnStatus,
)
from resolvers import outbox, refunds, returns
from resolvers.errors import DomainError, ErrorCode
from resolvers.orders import locked_order

R = ReturnStatus


async def _locked(return_id: int) -> tuple[Order, Return]:
    """The return's order locked, then the return: the order first, as every order change does."""
    found = await Return.get_or_none(id=return_id)
    if found is None:
        raise DomainError(ErrorCode.NOT_FOUND, "No return has this ID.", ["returnId"])
    order = await locked_order(found.order_id)
    ret = await Return.filter(id=return_id).select_for_update().first()
    if ret is None:
        raise DomainError(ErrorCode.NOT_FOUND, "No return has this ID.", ["returnId"])
    return order, ret


async def approve(return_id: int, actor: Account | None) -> Return:
    async with outbox.transaction():
        order, ret = await _locked(return_id)
        returns.check_transition(ret.status, R.APPROVED)
        ret.status = R.APPROVED
        await ret.save(update_fields=["status", "updated_at"])
        await returns.record_event(order, "RETURN_APPROVED", "Return approved: the goods may be sent back.", actor)
        returns.announce(ret)
    return ret


async def reject(return_id: int, reason: str | None, actor: Account | None) -> Return:
    """Refused: its units may be asked back again."""
    reason = refunds.check_reason(reason)
    async with outbox.transaction():
        order, ret = await _locked(return_id)
        returns.check_transition(ret.status, R.REJECTED)
        ret.status, ret.rejection_reason = R.REJECTED, reason
        await ret.save(update_fields=["status", "rejection_reason", "updated_at"])
        await _give_back_units(
            {line.order_line_id: line.quantity for line in await ReturnLine.filter(return_request_id=ret.id)}
        )
        await returns.record_event(order, "RETURN_REJECTED", f"Return declined. {reason}", actor)
        returns.announce(ret)
    return ret


async def _give_back_units(units: dict[int, int]) -> None:
    """Units no longer in a return: they may be returned again."""
    units = {line_id: quantity for line_id, quantity in units.items() if quantity > 0}
    lines = list(await OrderLine.filter(id__in=list(units)))
    for line in lines:
        line.quantity_returned -= units[line.id]
    if lines:
        await OrderLine.bulk_update(lines, fields=["quantity_returned"])


async def receive(
    return_id: int, lines: list[returns.LineRequest] | None, restock: bool, actor: Account | None
) -> Return:
    """`returnReceive`: what arrived (every unit when `lines` is left out), then its refund.

    The return becomes RECEIVED and the refund of the units received is reserved in one
    transaction (resolvers/refunds.py step 1), so a return is never RECEIVED without its refund;
    the provider is called after it, and the return is REFUNDED when the refund succeeds. Units
    that did not arrive are no longer in the return: they may be asked back again. A return whose
    refund failed (PAYMENT_DECLINED) stays RECEIVED, and receiving it again retries its refund.
    """
    async with outbox.transaction():
        order, ret = await _locked(return_id)
        own = list(await ReturnLine.filter(return_request_id=ret.id).order_by("id"))
        if not await _refund_failed(ret):
            returns.check_transition(ret.status, R.RECEIVED)
            received = _received(own, lines)
            if not any(received.values()):
                raise DomainError(ErrorCode.REQUIRED, "Receive at least one unit.", ["lines"])
            for line in own:
                line.quantity_received = received.get(line.id, 0)
            await ReturnLine.bulk_update(own, fields=["quantity_received"])
            await _give_back_units({line.order_line_id: line.quantity - line.quantity_received for line in own})
        wanted = [
            refunds.LineRequest(line.order_line_id, line.quantity_received, restock)
            for line in own
            if line.quantity_received
        ]
        refund = await refunds.reserve(
            order, refunds.RefundRequest(wanted, reason=ret.reason or f"Return #{ret.id}"), actor
        )
        ret.status, ret.refund_id = R.RECEIVED, refund.id
        await ret.save(update_fields=["status", "refund_id", "updated_at"])
        units = sum(line.quantity_received for line in own)
        await returns.record_event(order, "RETURN_RECEIVED", f"Return received: {units} unit(s) back.", actor)
        returns.announce(ret)
    await refunds.settle(refund, actor)
    return await Return.get(id=return_id)


async def _refund_failed(ret: Return) -> bool:
    """A RECEIVED return whose refund the provider refused: receiving it again tries the refund
    again, for the units received then (`lines` are not read again)."""
    if ret.status != R.RECEIVED or ret.refund_id is None:
        return False
    return await Refund.filter(id=ret.refund_id, status=RefundStatus.FAILED).exists()


def _received(own: list[ReturnLine], lines: list[returns.LineRequest] | None) -> dict[int, int]:
    """Units received per return line, from lines named by their return line or their order line."""
    if lines is None:
        return {line.id: line.quantity for line in own}
    by_id = {line.id: line for line in own}
    by_order_line = {line.order_line_id: line for line in own}
    received: dict[int, int] = {}
    for index, wanted in enumerate(lines):
        where = ["lines", str(index)]
        if wanted.return_line_id is not None:
            line = by_id.get(wanted.return_line_id)
        else:
            line = by_order_line.get(wanted.order_line_id or 0)
        if line is None:
            raise DomainError(ErrorCode.NOT_FOUND, "This return has no such line.", [*where, "returnLineId"])
        if line.id in received:
            raise DomainError(ErrorCode.DUPLICATE, "Each line is given once.", [*where, "returnLineId"])
        if not 0 <= wanted.quantity <= line.quantity:
            raise DomainError(
                ErrorCode.INVALID_QUANTITY, f"Between 0 and {line.quantity} units of this line.", [*where, "quantity"]
            )
        received[line.id] = wanted.quantity
    return received
