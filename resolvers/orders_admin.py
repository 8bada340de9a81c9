"""Staff moving an order through its states (MANAGE_ORDERS): marking it paid, cancelling it, refunding it.

Each is one transaction: the order row locked, the transition checked against `orders.TRANSITIONS`,
the stock it still holds given back and the money captured or refunded, then the change recorded.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from models import Account, Allocation, Order, OrderLine, Payment, PaymentStatus, Stock, StockMovement
from models.orders import EVENT_MESSAGE_LENGTH
from resolvers import outbox, payments
from resolvers.errors import DomainError, ErrorCode
from resolvers.inventory import shift_stock, stock_deltas
from resolvers.orders import S, check_transition, locked_order, record_change


def _provider(order: Order) -> payments.PaymentProvider:
    provider = payments.provider(order.payment_provider)
    if provider is None:
        raise DomainError(
            ErrorCode.UNKNOWN_PAYMENT_PROVIDER, f"The payment provider {order.payment_provider!r} is gone.", ["orderId"]
        )
    return provider


async def mark_paid(order_id: int, actor: Account | None) -> Order:
    async with outbox.transaction():
        order = await locked_order(order_id)
        check_transition(order.status, S.PAID)
        payment = await Payment.filter(order_id=order.id).order_by("-id").first()
        key = payment.key if payment is not None else f"capture-{order.id}"
        result = await _provider(order).capture(order.payment_reference, order.total, order.currency, key)
        if result.status != PaymentStatus.CAPTURED:
            raise DomainError(ErrorCode.PAYMENT_DECLINED, result.message or "The capture was refused.", ["orderId"])
        if payment is not None:
            await Payment.filter(id=payment.id).update(status=PaymentStatus.CAPTURED, captured=order.total)
        order.status, order.paid_at = S.PAID, datetime.now(UTC)
        await record_change(order, ["status", "paid_at"], [("PAID", "Marked as paid.")], actor)
    return order


async def _release_unshipped(order: Order, actor: Account | None) -> None:
    """Give back what is still reserved for the order (all of it, before any shipment)."""
    allocations = await Allocation.filter(order_id=order.id, quantity__gt=0, stock_id__isnull=False)
    # Each with its stock row (the filter above already left out those without one).
    held = [(a, a.stock_id) for a in allocations if a.stock_id is not None]
    if not held:
        return
    stocks = {
        s.id: s
        for s in await Stock.filter(id__in=[stock_id for _, stock_id in held]).order_by("id").select_for_update()
    }
    await shift_stock(stock_deltas((stock_id, 0, -a.quantity) for a, stock_id in held))
    await StockMovement.bulk_create(
        [
            StockMovement(
                stock_id=stock_id,
                variant_id=a.variant_id,
                kind="RELEASE",
                delta=0,
                reserved_delta=-a.quantity,
                quantity_after=stocks[stock_id].quantity,
                reason=f"order #{order.number}",
                actor=actor.email if actor else "",
            )
            for a, stock_id in held
        ]
    )
    await Allocation.filter(order_id=order.id).update(quantity=0)


async def cancel(order_id: int, reason: str | None, actor: Account | None) -> Order:
    """Cancel before shipping: the reservation is released, and a paid order is refunded."""
    reason = (reason or "").strip()
    if len(reason) > EVENT_MESSAGE_LENGTH:
        raise DomainError(ErrorCode.TOO_LONG, f"A reason is at most {EVENT_MESSAGE_LENGTH} characters.", ["reason"])
    async with outbox.transaction():
        order = await locked_order(order_id)
        check_transition(order.status, S.CANCELLED)
        if await OrderLine.filter(order_id=order.id, quantity_shipped__gt=0).exists():
            raise DomainError(
                ErrorCode.INVALID_TRANSITION, "Part of the order has shipped: refund it instead.", ["orderId"]
            )
        was_paid = order.status == S.PAID
        await _release_unshipped(order, actor)
        if was_paid:
            await _refund_payment(order)
        order.status = S.CANCELLED
        events = [("CANCELLED", reason or "Cancelled.")]
        if was_paid:
            events.append(("REFUNDED", f"{order.total} {order.currency} refunded."))
        await record_change(order, ["status"], events, actor)
    return order


async def refund(order_id: int, actor: Account | None) -> Order:
    async with outbox.transaction():
        order = await locked_order(order_id)
        check_transition(order.status, S.REFUNDED)
        await _release_unshipped(order, actor)
        await _refund_payment(order)
        order.status = S.REFUNDED
        await record_change(order, ["status"], [("REFUNDED", f"{order.total} {order.currency} refunded.")], actor)
    return order


async def _refund_payment(order: Order) -> None:
    result = await _provider(order).refund(order.payment_reference, order.total, order.currency, uuid.uuid4().hex)
    if not result.approved:
        raise DomainError(ErrorCode.PAYMENT_DECLINED, result.message or "The refund was refused.", ["orderId"])
