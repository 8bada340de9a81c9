"""What a provider reports of a payment, settled exactly once: its webhooks, and PAYMENT_TIMEOUT.

A webhook (`apply`) names the payment by the provider's reference. It is applied under the
order's row lock, then the payment's: the order of locking every staff action keeps (a checkout
locks its cart, then its payment, before the order exists; a payment that gets its order while a
webhook waits for it is applied again, order first). Each provider event is kept once as the
payment's event, (payment, provider event id) unique: a second delivery finds it and changes
nothing. What the report does follows a precedence, so that however many deliveries come, in
whatever order, money is taken once and the order is paid once:

- CAPTURED is final: a later DECLINED, CANCELLED or ACTION_REQUIRED is kept as an event only;
- AUTHORIZED may still become CAPTURED; WAITING (PENDING, ACTION_REQUIRED) becomes anything;
- an order AWAITING_PAYMENT becomes PAID on a capture, PLACED on an authorization, CANCELLED (its
  stock released) on a decline or cancellation; a payment without an order only takes its new
  status (checkoutComplete sees it);
- money taken for an order already CANCELLED (it timed out) is given back, after the commit.

`expire` is PAYMENT_TIMEOUT's periodic job: an order still AWAITING_PAYMENT when its payment's
`expires_at` passes is cancelled, its stock released, and whatever the provider holds given back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Literal

from tortoise.expressions import F

from models import Order, OrderStatus, Payment, PaymentEvent, PaymentStatus
from models.payments import PROVIDER_EVENT_ID_LENGTH
from resolvers import outbox, payments
from resolvers.orders import check_transition, locked_order, record_change
from resolvers.orders_admin import release_unshipped

log = logging.getLogger("gateway.payments")
S = PaymentStatus
Result = Literal["applied", "duplicate", "ignored"]
# A payment RETURNING this long with an order: its giving back failed; the timeout job tries again.
RETURN_RETRY_AFTER = timedelta(minutes=5)
MAX_RESTARTS = 5  # a payment gets its order once: one restart is all a webhook ever needs


@dataclass(frozen=True)
class Applied:
    result: Result
    give_back: bool = False  # money taken for a cancelled order, or a payment given back already


class _Ordered(Exception):
    """The payment got an order while the webhook waited for its lock: lock the order first."""

    def __init__(self, order_id: int | None) -> None:
        self.order_id = order_id


def next_status(current: PaymentStatus, reported: PaymentStatus) -> PaymentStatus | None:
    """The payment's status after the provider reported `reported`; None: kept as an event only."""
    current = PaymentStatus(current)
    if current in (S.CAPTURED, S.DECLINED, S.CANCELLED, S.RETURNING) and reported != S.CAPTURED:
        return None
    if reported == S.CAPTURED:
        return None if current == S.CAPTURED else S.CAPTURED
    if reported == S.AUTHORIZED:
        return S.AUTHORIZED if current in payments.WAITING else None
    if reported in (S.DECLINED, S.CANCELLED):
        return reported if current in (*payments.WAITING, S.AUTHORIZED) else None
    if reported == S.ACTION_REQUIRED:
        return S.ACTION_REQUIRED if current == S.PENDING else None
    return None


async def apply(provider: payments.PaymentProvider, event: payments.ProviderEvent) -> Result:
    """Apply a provider's event (its signature already checked) to the payment it names."""
    found = await Payment.filter(provider=provider.name, reference=event.reference).order_by("id").first()
    if found is None:
        return "ignored"  # not ours, or a payment this gateway never recorded
    order_id = found.order_id
    for _ in range(MAX_RESTARTS):
        try:
            applied = await _apply(found.id, order_id, event)
            break
        except _Ordered as moved:
            order_id = moved.order_id
    else:
        raise RuntimeError(f"payment {found.id}: its order kept changing while a webhook was applied")
    if applied.give_back:
        await give_back(found.id)
    return applied.result


async def _apply(payment_id: int, order_id: int | None, event: payments.ProviderEvent) -> Applied:
    async with outbox.transaction():
        order = await locked_order(order_id) if order_id is not None else None
        payment = await Payment.filter(id=payment_id).select_for_update().get()
        if payment.order_id != order_id:
            raise _Ordered(payment.order_id)
        event_id = event.event_id[:PROVIDER_EVENT_ID_LENGTH]
        if await PaymentEvent.filter(payment_id=payment.id, provider_event_id=event_id).exists():
            return Applied("duplicate")
        kind = event.status.value if event.status is not None else event.type[:32]
        await PaymentEvent.create(payment_id=payment.id, type=kind, amount=event.amount, provider_event_id=event_id)
        if event.status is None:
            return Applied("ignored")
        status = next_status(payment.status, event.status)
        if status is None:
            return Applied("applied")
        changes: dict[str, object] = {"status": status, "updated_at": datetime.now(UTC)}
        if status not in payments.WAITING:
            changes["expires_at"] = None
        if status == S.CAPTURED:
            changes["captured"] = event.amount or payment.amount or Decimal(0)
        # Money for an order that no longer wants it, or a payment already given back: back it goes.
        returning = status in (S.CAPTURED, S.AUTHORIZED) and (
            payment.status in (S.CANCELLED, S.DECLINED, S.RETURNING)
            or (order is not None and order.status == OrderStatus.CANCELLED)
        )
        if returning:
            changes["status"] = S.RETURNING
        await Payment.filter(id=payment.id).update(**changes)
        if order is not None and not returning:
            await _order_follows(order, status, payment.provider)
        return Applied("applied", give_back=returning)


async def _order_follows(order: Order, status: PaymentStatus, provider: str) -> None:
    """The order's transition for its payment's new status, if any (the order is locked)."""
    current = OrderStatus(order.status)
    if status == S.CAPTURED and current in (OrderStatus.AWAITING_PAYMENT, OrderStatus.PLACED):
        check_transition(current, OrderStatus.PAID)
        order.status, order.paid_at = OrderStatus.PAID, datetime.now(UTC)
        await record_change(order, ["status", "paid_at"], [("PAID", f"Paid by {provider}.")], None)
    elif status == S.AUTHORIZED and current == OrderStatus.AWAITING_PAYMENT:
        order.status = OrderStatus.PLACED
        await record_change(order, ["status"], [("PLACED", f"Payment authorized by {provider}.")], None)
    elif status in (S.DECLINED, S.CANCELLED) and current == OrderStatus.AWAITING_PAYMENT:
        await _cancel(order, "The payment failed.")


async def _cancel(order: Order, reason: str) -> None:
    await release_unshipped(order, None)
    order.status = OrderStatus.CANCELLED
    await record_change(order, ["status"], [("CANCELLED", reason)], None)


async def give_back(payment_id: int) -> None:
    """After the commit that made the payment RETURNING: whatever the provider holds of it goes
    back, and the payment ends CANCELLED. A failure leaves it RETURNING for `expire` to retry."""
    payment = await Payment.get(id=payment_id)
    provider = payments.provider(payment.provider)
    if provider is None:
        log.error("payment %s: provider %r is gone; give back what it holds by hand", payment.key, payment.provider)
        return
    try:
        given = await provider.give_back(payment.reference, payment.key)
    except Exception:
        log.exception("payment %s: %s could not give it back; retrying later", payment.key, provider.name)
        return
    changes: dict[str, object] = {"status": S.CANCELLED, "expires_at": None, "updated_at": datetime.now(UTC)}
    if given.amount:
        changes["refunded"] = F("captured")  # what it had taken (0 if the gateway never saw it taken)
    async with outbox.transaction():
        if await Payment.filter(id=payment.id, status=S.RETURNING).update(**changes):
            await PaymentEvent.bulk_create(payments.given_back_events(payment.id, given))
    if given.amount:
        log.warning("payment %s: %s %s given back: its order was cancelled", payment.key, given.amount, given.currency)


async def expire(limit: int = 100) -> int:
    """Cancel the orders still AWAITING_PAYMENT past their payment's `expires_at` (PAYMENT_TIMEOUT):
    stock released and the payment RETURNING in one transaction, then what the provider holds
    given back. Also retries giving back what an earlier run or webhook could not. Returns how
    many payments expired (up to `limit`: the caller runs it again while it returns any)."""
    now = datetime.now(UTC)
    due = (
        await Payment.filter(order_id__isnull=False, status__in=payments.WAITING, expires_at__lt=now)
        .order_by("id")
        .limit(limit)
    )
    for found in due:
        assert found.order_id is not None  # filtered on
        async with outbox.transaction():
            order = await locked_order(found.order_id)
            payment = await Payment.filter(id=found.id).select_for_update().get()
            if payment.status not in payments.WAITING or payment.expires_at is None or payment.expires_at >= now:
                continue  # the provider confirmed it meanwhile
            await Payment.filter(id=payment.id).update(status=S.RETURNING, expires_at=None, updated_at=now)
            await PaymentEvent.create(payment_id=payment.id, type="EXPIRED", amount=payment.amount or 0)
            # An order staff cancelled meanwhile keeps its status; its payment goes back all the same.
            if order.status == OrderStatus.AWAITING_PAYMENT:
                await _cancel(order, "The payment was not confirmed in time.")
        await give_back(found.id)
    stuck = await Payment.filter(
        order_id__isnull=False, status=S.RETURNING, updated_at__lt=now - RETURN_RETRY_AFTER
    ).limit(limit)
    for payment in stuck:
        await give_back(payment.id)
    return len(due)
