"""Refunds: giving back some or all of what an order's payment took, the one way money goes back
(`orderRefundCreate`, the whole-order `orderRefund`, `orderCancel` of a paid order, and a received
return all come through here).

A refund is three steps, so that the provider is never called inside a transaction holding row
locks (DESIGN.md):

1. `reserve`, in a transaction holding the order's row lock and then its payment's (always in that
   order): the checks, then the refund recorded PENDING with its lines, its amount added to
   `payment.refunded` and its units to the lines' `quantity_refunded`. This reservation is what
   makes two concurrent refunds of everything exactly one: the second finds nothing left to give.
2. `settle`, after the commit: the provider refunds under the refund's own idempotency key.
3. `_finish`, in a new transaction with the same locks: SUCCEEDED moves the order to
   PARTIALLY_REFUNDED or REFUNDED (CANCELLED for a cancellation), gives the stock back and records
   the change (the ORDER_REFUNDED webhook and the refund's email, once per refund); FAILED undoes
   the reservation and the caller gets PAYMENT_DECLINED.

A refund left PENDING (the process was killed between the steps, or the provider did not answer)
is finished by `finish_pending`, a periodic job, which asks the provider again under the same key:
a provider that already refunded under it does not refund twice.

Stock: units of a line that have not shipped are still reserved for the order; a refund gives
their reservation back (RELEASE) whatever `restock` says, since the shop will not ship what it has
refunded and a reservation nobody will use would hold the stock forever. Units that shipped come
back on hand (RETURN) only when `restock` is set (the goods came back in a sellable state). A
staff refund counts a line's unshipped units first (it refunds what will not be sent); a return's
refund counts shipped units only (`returned`), since those are what came back. Units come back
into the warehouse that reserved the line (its first allocation).

Amounts: a line's units and the shipping give back what was paid for them, their share of the
order's discount and tax included (resolvers/refund_amounts.py), so that refunding everything in
any steps gives back the order's total exactly.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from models import (
    Account,
    Allocation,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    Payment,
    PaymentEvent,
    PaymentStatus,
    Refund,
    RefundLine,
    RefundStatus,
    Return,
    ReturnStatus,
    Stock,
    StockMovement,
)
from models.changes import REFUND
from models.orders import EVENT_MESSAGE_LENGTH
from resolvers import outbox, payments, refund_amounts
from resolvers.errors import DomainError, ErrorCode
from resolvers.inventory import shift_stock, stock_deltas
from resolvers.orders import TRANSITIONS, check_transition, locked_order, record_change
from resolvers.pricing import round_money

log = logging.getLogger("resolvers.refunds")
S = OrderStatus
MAX_AMOUNT = Decimal("9999999999.99")  # the columns' 12 digits, 2 of them decimals
# A PENDING refund older than this belongs to a process that died between its steps, or to a
# provider that did not answer: `finish_pending` asks the provider again. Longer than any call.
PENDING_BOUND = timedelta(minutes=5)


@dataclass(frozen=True)
class LineRequest:
    order_line_id: int
    quantity: int
    restock: bool = False


@dataclass(frozen=True)
class RefundRequest:
    """What to give back: units of lines, the shipping, or an amount (derived from the others when
    left out)."""

    lines: list[LineRequest] = field(default_factory=list)
    include_shipping: bool = False
    amount: Decimal | None = None
    reason: str = ""


def _provider(order: Order, payment: Payment) -> payments.PaymentProvider:
    name = payment.provider or order.payment_provider
    provider = payments.provider(name)
    if provider is None:
        raise DomainError(ErrorCode.UNKNOWN_PAYMENT_PROVIDER, f"The payment provider {name!r} is gone.", ["orderId"])
    return provider


def check_amount(amount: Decimal, currency: str) -> Decimal:
    """An amount given by staff: positive, within the columns, and no finer than the currency's
    minor unit (and than the columns' two decimals): never rounded into another amount."""
    try:
        fine = (
            amount.is_finite()
            and amount == round_money(amount, currency)
            and amount == amount.quantize(Decimal("0.01"))
        )
    except InvalidOperation:
        fine = False
    if not fine:
        raise DomainError(
            ErrorCode.INVALID_AMOUNT, f"An amount has at most the decimals of {currency} (and at most two).", ["amount"]
        )
    if not Decimal(0) < amount <= MAX_AMOUNT:
        raise DomainError(ErrorCode.INVALID_AMOUNT, f"An amount is above 0 and at most {MAX_AMOUNT}.", ["amount"])
    return amount


def check_reason(reason: str | None) -> str:
    reason = (reason or "").strip()
    if len(reason) > EVENT_MESSAGE_LENGTH:
        raise DomainError(ErrorCode.TOO_LONG, f"A reason is at most {EVENT_MESSAGE_LENGTH} characters.", ["reason"])
    return reason


async def captured_payment(order: Order) -> Payment | None:
    """The order's captured payment, locked (after the order: always that order)."""
    return (
        await Payment.filter(order_id=order.id, status=PaymentStatus.CAPTURED)
        .order_by("id")
        .select_for_update()
        .first()
    )


async def shipping_refunded(order_id: int) -> Decimal:
    """The shipping given back or being given back (refunds not FAILED)."""
    rows = await Refund.filter(order_id=order_id, status__in=[RefundStatus.PENDING, RefundStatus.SUCCEEDED])
    return sum((Decimal(r.shipping) for r in rows), Decimal(0))


def paid_for(order: Order, lines: Iterable[OrderLine], currency: str) -> refund_amounts.Paid:
    """What was paid for each of the order's lines and for its shipping (resolvers/refund_amounts.py)."""
    figures = refund_amounts.OrderFigures(
        Decimal(order.subtotal),
        Decimal(order.discount_total),
        Decimal(order.shipping_total),
        Decimal(order.total),
        currency,
    )
    ordered = sorted(lines, key=lambda line: line.id)  # equal remainders go to the earlier line
    return refund_amounts.paid(
        figures, [refund_amounts.PaidLine(line.id, Decimal(line.total), line.quantity) for line in ordered]
    )


async def _taken(line_ids: list[int]) -> dict[int, Decimal]:
    """What the lines' refunds not FAILED took of each line's value."""
    taken: dict[int, Decimal] = {}
    if not line_ids:
        return taken
    rows = await RefundLine.filter(
        order_line_id__in=line_ids, refund__status__in=[RefundStatus.PENDING, RefundStatus.SUCCEEDED]
    )
    for row in rows:
        taken[row.order_line_id] = taken.get(row.order_line_id, Decimal(0)) + Decimal(row.amount)
    return taken


async def reserve(order: Order, request: RefundRequest, actor: Account | None) -> Refund:
    """Step 1, inside a transaction holding `order`'s lock (`locked_order`): check the request and
    record the refund PENDING, its amount and units reserved against the payment and the lines."""
    if not TRANSITIONS[OrderStatus(order.status)] & {S.PARTIALLY_REFUNDED, S.REFUNDED}:
        check_transition(order.status, S.REFUNDED)  # refunded in full, cancelled, or not paid yet
    payment = await captured_payment(order)
    if payment is None:
        raise DomainError(ErrorCode.REFUND_EXCEEDS_CAPTURED, "Nothing was captured for this order.", ["orderId"])
    currency = payment.currency or order.currency
    lines = {line.id: line for line in await OrderLine.filter(order_id=order.id)}
    amounts: dict[int, Decimal] = {}
    for index, wanted in enumerate(request.lines):
        where = ["lines", str(index)]
        line = lines.get(wanted.order_line_id)
        if line is None:
            raise DomainError(ErrorCode.NOT_FOUND, "This order has no such line.", [*where, "orderLineId"])
        if line.id in amounts:
            raise DomainError(ErrorCode.DUPLICATE, "Each line is given once.", [*where, "orderLineId"])
        left = line.quantity - line.quantity_refunded
        if not 1 <= wanted.quantity <= left:
            raise DomainError(
                ErrorCode.INVALID_QUANTITY,
                f"Between 1 and {left} of {line.sku} can still be refunded." if left else f"{line.sku} is refunded.",
                [*where, "quantity"],
            )
        amounts[line.id] = Decimal(0)  # the line's share of what was paid, below
    worth = paid_for(order, lines.values(), currency)
    taken = await _taken(list(amounts))
    for wanted in request.lines:
        line = lines[wanted.order_line_id]
        amounts[line.id] = refund_amounts.line_refund(
            worth.lines[line.id],
            line.quantity,
            wanted.quantity,
            line.quantity - line.quantity_refunded,
            taken.get(line.id, Decimal(0)),
            currency,
        )
    shipping = Decimal(0)
    if request.include_shipping:
        shipping = max(Decimal(0), worth.shipping - await shipping_refunded(order.id))
    refundable = Decimal(payment.captured) - Decimal(payment.refunded)
    amount = request.amount if request.amount is not None else sum(amounts.values(), Decimal(0)) + shipping
    if amount <= 0:
        raise DomainError(ErrorCode.REQUIRED, "Name lines, the shipping or an amount to refund.", ["lines"])
    if amount > refundable:
        raise DomainError(
            ErrorCode.REFUND_EXCEEDS_CAPTURED,
            f"At most {refundable} {currency} can still be refunded; {amount} {currency} was asked for.",
            ["amount"] if request.amount is not None else ["lines"],
        )
    check_transition(order.status, S.REFUNDED if amount == refundable else S.PARTIALLY_REFUNDED)
    refund = await Refund.create(
        order_id=order.id,
        payment_id=payment.id,
        amount=amount,
        currency=currency,
        shipping=min(shipping, amount),
        reason=request.reason,
        key=uuid.uuid4().hex,
        actor=actor.email if actor else "",
    )
    await RefundLine.bulk_create(
        [
            RefundLine(
                refund_id=refund.id,
                order_line_id=wanted.order_line_id,
                quantity=wanted.quantity,
                amount=amounts[wanted.order_line_id],
                restock=wanted.restock,
            )
            for wanted in request.lines
        ]
    )
    # Under the locks: the CHECK constraints are the last line behind these.
    payment.refunded = Decimal(payment.refunded) + amount
    await Payment.filter(id=payment.id).update(refunded=payment.refunded, updated_at=datetime.now(UTC))
    await _count_units(lines, request.lines, +1)
    return refund


async def _count_units(lines: dict[int, OrderLine], wanted: Iterable[LineRequest], sign: int) -> None:
    changed = []
    for request in wanted:
        line = lines[request.order_line_id]
        line.quantity_refunded += sign * request.quantity
        changed.append(line)
    if changed:
        await OrderLine.bulk_update(changed, fields=["quantity_refunded"])


async def settle(refund: Refund, actor: Account | None, *, cancel: bool = False, retried: bool = False) -> Refund:
    """Steps 2 and 3, after the reservation committed: the provider, then the outcome recorded."""
    order = await Order.get(id=refund.order_id)
    payment = await Payment.get_or_none(id=refund.payment_id) if refund.payment_id else None
    if payment is None:
        raise DomainError(ErrorCode.NOT_FOUND, "The refund's payment is gone.", ["orderId"])
    provider = _provider(order, payment)
    try:
        answer = await provider.refund(
            payment.reference or order.payment_reference, Decimal(refund.amount), refund.currency, refund.key
        )
    except Exception:
        # Whether the money moved is unknown: the refund stays PENDING, and `finish_pending` asks
        # again under the same key once it is older than PENDING_BOUND.
        log.exception("refund %s of order %s: the provider did not answer; retried later", refund.key, order.id)
        return refund
    finished = await _finish(refund.id, answer, actor, cancel=cancel)
    if finished.status == RefundStatus.FAILED and not retried:
        raise DomainError(ErrorCode.PAYMENT_DECLINED, answer.message or "The refund was refused.", ["orderId"])
    return finished


async def _finish(refund_id: int, answer: payments.ProviderRefund, actor: Account | None, *, cancel: bool) -> Refund:
    """Step 3: what the provider answered, recorded (once: a refund already finished is left as it is)."""
    async with outbox.transaction():
        current = await Refund.get(id=refund_id)
        order = await locked_order(current.order_id)
        payment = await Payment.filter(id=current.payment_id).select_for_update().first()
        refund = await Refund.filter(id=refund_id).select_for_update().first()
        if refund is None or payment is None or refund.status != RefundStatus.PENDING:
            return refund or current
        refund_lines = list(await RefundLine.filter(refund_id=refund.id).order_by("id"))
        lines = {line.id: line for line in await OrderLine.filter(order_id=order.id)}
        money = f"{refund.amount} {refund.currency}"
        if not answer.approved:
            refund.status = RefundStatus.FAILED
            await refund.save(update_fields=["status", "updated_at"])
            payment.refunded = Decimal(payment.refunded) - Decimal(refund.amount)
            await Payment.filter(id=payment.id).update(refunded=payment.refunded, updated_at=datetime.now(UTC))
            await _count_units(lines, (LineRequest(r.order_line_id, r.quantity) for r in refund_lines), -1)
            why = answer.message or "refused"
            await OrderEvent.create(
                order_id=order.id,
                kind="REFUND_FAILED",
                message=f"Refund of {money} failed: {why}"[:EVENT_MESSAGE_LENGTH],
                actor=actor.email if actor else "",
            )
            return refund
        refund.status, refund.reference = RefundStatus.SUCCEEDED, answer.reference[:128]
        await refund.save(update_fields=["status", "reference", "updated_at"])
        await PaymentEvent.create(payment_id=payment.id, type="REFUNDED", amount=refund.amount, message=refund.key)
        returned = await Return.filter(refund_id=refund.id).exists()
        await _give_back_stock(order, refund_lines, lines, returned, actor)
        await Return.filter(refund_id=refund.id, status=ReturnStatus.RECEIVED).update(
            status=ReturnStatus.REFUNDED, updated_at=datetime.now(UTC)
        )
        succeeded = sum(
            (Decimal(r.amount) for r in await Refund.filter(payment_id=payment.id, status=RefundStatus.SUCCEEDED)),
            Decimal(0),
        )
        target = (
            S.CANCELLED if cancel else S.REFUNDED if succeeded >= Decimal(payment.captured) else S.PARTIALLY_REFUNDED
        )
        events = [("CANCELLED", refund.reason or "Cancelled.")] if cancel else []
        events.append(
            ("REFUNDED", f"{money} refunded." + (f" {refund.reason}" if refund.reason and not cancel else ""))
        )
        # The status the refund leads to, unless the order moved on meanwhile (cancelled while this
        # refund was with the provider): the money is back either way, and said so.
        changed = target == order.status or target in TRANSITIONS[OrderStatus(order.status)]
        if changed:
            order.status = target
        await record_change(
            order,
            ["status"] if changed else [],
            [(kind, message[:EVENT_MESSAGE_LENGTH]) for kind, message in events],
            actor,
            {REFUND: {"id": refund.id, "amount": str(refund.amount), "currency": refund.currency, "cancel": cancel}},
        )
    return refund


async def _give_back_stock(
    order: Order, refund_lines: list[RefundLine], lines: dict[int, OrderLine], returned: bool, actor: Account | None
) -> None:
    """The refunded units' stock: unshipped ones' reservation released, shipped ones restocked on
    request (see the module's docstring), each with its ledger row, in one UPDATE."""
    allocations = [
        a for a in await Allocation.filter(order_id=order.id, stock_id__isnull=False).order_by("id") if a.stock_id
    ]
    moves: list[tuple[Allocation, int, str]] = []  # (allocation, units, RELEASE or RETURN)
    for refunded in refund_lines:
        variant_id = lines[refunded.order_line_id].variant_id
        own = [a for a in allocations if a.variant_id == variant_id]
        if not own:
            continue  # its variant or stock row was deleted since: nothing to put back
        left = refunded.quantity
        if not returned:
            for allocation in reversed(own):  # the newest reservation first, the opposite of shipping
                take = min(left, allocation.quantity)
                if take > 0:
                    moves.append((allocation, take, "RELEASE"))
                    allocation.quantity -= take
                    left -= take
        if left > 0 and refunded.restock:
            moves.append((own[0], left, "RETURN"))
    if not moves:
        return
    deltas = stock_deltas(
        (a.stock_id or 0, units if kind == "RETURN" else 0, -units if kind == "RELEASE" else 0)
        for a, units, kind in moves
    )
    locked = {s.id: s for s in await Stock.filter(id__in=sorted(deltas)).order_by("id").select_for_update()}
    await shift_stock(deltas)  # also tags the cached catalogue answers showing this stock as stale
    after = {stock_id: locked[stock_id].quantity + delta[0] for stock_id, delta in deltas.items() if stock_id in locked}
    await StockMovement.bulk_create(
        [
            StockMovement(
                stock_id=a.stock_id,
                variant_id=a.variant_id,
                kind=kind,
                delta=units if kind == "RETURN" else 0,
                reserved_delta=-units if kind == "RELEASE" else 0,
                quantity_after=after.get(a.stock_id or 0, 0),
                reason=f"order #{order.number} refunded",
                actor=actor.email if actor else "",
            )
            for a, units, kind in moves
            if a.variant_id is not None
        ]
    )
    released = [a for a, _, kind in moves if kind == "RELEASE"]
    if released:
        await Allocation.bulk_update(list({a.id: a for a in released}.values()), fields=["quantity"])


async def finish_pending(older_than: timedelta = PENDING_BOUND, limit: int = 50) -> int:
    """Finish refunds left PENDING longer than `older_than`: the provider is asked again under the
    refund's key (it refunds once per key), and its answer recorded. Each refund is claimed first
    with a conditional UPDATE of its `updated_at`, so workers running this at once take each once.
    How many were finished."""
    now = datetime.now(UTC)
    cutoff = now - older_than
    stale = await Refund.filter(status=RefundStatus.PENDING, updated_at__lt=cutoff).order_by("id").limit(limit)
    finished = 0
    for refund in stale:
        claimed = await Refund.filter(id=refund.id, status=RefundStatus.PENDING, updated_at__lt=cutoff).update(
            updated_at=now
        )
        if not claimed:
            continue
        try:
            done = await settle(refund, None, retried=True)
        except DomainError as error:
            log.error("refund %s: %s", refund.key, error.message)
            continue
        if done.status != RefundStatus.PENDING:
            finished += 1
            log.warning("refund %s of order %s finished late: %s", refund.key, refund.order_id, done.status)
    return finished
