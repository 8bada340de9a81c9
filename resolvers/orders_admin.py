"""Staff moving an order through its states (MANAGE_ORDERS): marking it paid, cancelling it, refunding it.

Each starts with one transaction: the order row locked, the transition checked against
`orders.TRANSITIONS`, the stock it still holds given back, then the change recorded. Money going
back goes through resolvers/refunds.py, whose provider call comes after that transaction.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal

from models import Account, Allocation, Order, OrderLine, Payment, PaymentStatus, Refund, Stock, StockMovement
from resolvers import outbox, payments, refunds
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


async def release_unshipped(order: Order, actor: Account | None) -> None:
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
    """Cancel before shipping: the reservation is released, and a paid order is refunded (through
    resolvers/refunds.py: the provider is called after the commit, and the order is CANCELLED when
    the refund succeeded)."""
    reason = refunds.check_reason(reason)
    async with outbox.transaction():
        order = await locked_order(order_id)
        check_transition(order.status, S.CANCELLED)
        if await OrderLine.filter(order_id=order.id, quantity_shipped__gt=0).exists():
            raise DomainError(
                ErrorCode.INVALID_TRANSITION, "Part of the order has shipped: refund it instead.", ["orderId"]
            )
        refund = await _reserve_everything(order, reason or "Cancelled.", actor) if order.status == S.PAID else None
        if refund is None:
            await release_unshipped(order, actor)
            order.status = S.CANCELLED
            await record_change(order, ["status"], [("CANCELLED", reason or "Cancelled.")], actor)
    if refund is not None:
        await refunds.settle(refund, actor, cancel=True)
        order = await Order.get(id=order_id)
    return order


async def refund(order_id: int, actor: Account | None) -> Order:
    """Give back everything the payment took and has not given back yet (resolvers/refunds.py);
    the stock still reserved for the order is released."""
    async with outbox.transaction():
        order = await locked_order(order_id)
        check_transition(order.status, S.REFUNDED)
        reserved = await _reserve_everything(order, "", actor)
        if reserved is None:
            raise DomainError(ErrorCode.REFUND_EXCEEDS_CAPTURED, "Nothing is left to refund.", ["orderId"])
    await refunds.settle(reserved, actor)
    return await Order.get(id=order_id)


async def _reserve_everything(order: Order, reason: str, actor: Account | None) -> Refund | None:
    """Step 1 of a refund of all that is left: every unit not refunded yet, the shipping, and the
    payment's whole remaining amount; None when nothing is left to give back."""
    payment = await refunds.captured_payment(order)
    if payment is None or Decimal(payment.captured) <= Decimal(payment.refunded):
        return None
    lines = [
        refunds.LineRequest(line.id, line.quantity - line.quantity_refunded)
        for line in await OrderLine.filter(order_id=order.id).order_by("id")
        if line.quantity > line.quantity_refunded
    ]
    left = Decimal(payment.captured) - Decimal(payment.refunded)
    return await refunds.reserve(order, refunds.RefundRequest(lines, True, left, reason), actor)


async def refund_create(order_id: int, request: refunds.RefundRequest, actor: Account | None) -> Refund:
    """`orderRefundCreate`: the three steps. Raises PAYMENT_DECLINED (after recording it) when the
    provider refused; answers the refund PENDING when the provider could not be reached."""
    request = dataclasses.replace(request, reason=refunds.check_reason(request.reason))
    async with outbox.transaction():
        order = await locked_order(order_id)
        if request.amount is not None:
            refunds.check_amount(request.amount, order.currency)
        refund = await refunds.reserve(order, request, actor)
    return await refunds.settle(refund, actor)
