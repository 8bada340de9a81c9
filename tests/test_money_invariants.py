"""Money stays exact: a few hundred seeded random sequences of capture, shipping, partial and full
refunds, cancellations and returns (with the provider refusing now and then), each operation
checked against the invariants that tie the payment, its refunds, the order and the card
processor's books together.

The operations are the resolvers the mutations call (what the API tests prove through GraphQL is
not proven again here); the orders are written directly, so a sequence costs milliseconds. On
SQLite only: the invariants are about arithmetic and bookkeeping, not concurrency (the concurrent
full refunds are tests/test_refunds.py's, on PostgreSQL).
"""

from __future__ import annotations

import random
import secrets
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest

from models import (
    Allocation,
    Order,
    OrderLine,
    OrderStatus,
    Payment,
    PaymentStatus,
    ProductVariant,
    Refund,
    RefundLine,
    RefundStatus,
    Return,
    ReturnLine,
    ReturnStatus,
    Stock,
)
from resolvers import orders_admin, payments, pricing, refunds, returns, returns_admin, shipments_admin
from resolvers.errors import DomainError, ErrorCode
from tests.test_checkout import make_variant

SEQUENCES = 250
OPERATIONS = 9
CENT = Decimal("0.01")
WEIGHTS = {"capture": 2, "ship": 4, "lines": 4, "amount": 3, "full": 1, "cancel": 1, "return": 7}
S = OrderStatus


class Flaky(payments.TestCardPayment):
    """The test card, refusing a refund when the sequence's dice say so."""

    def __init__(self, books: Any, dice: random.Random) -> None:
        super().__init__(books)
        self.dice = dice

    async def refund(self, reference: str, amount: Decimal, currency: str, key: str) -> payments.ProviderRefund:
        if self.dice.random() < 0.1:
            return payments.ProviderRefund(approved=False, message="refused by the dice")
        return await super().refund(reference, amount, currency, key)


@dataclass
class Sequence:
    order_id: int
    card: bool  # paid by the test card (captured at once, in the books) or manual (captured by markPaid)
    reference: str
    derived: set[int] = field(default_factory=set)  # refunds whose amount the gateway derived


def money(dice: random.Random, low: int, high: int) -> Decimal:
    return Decimal(dice.randint(low, high)) * CENT


async def place(dice: random.Random, variants: list[ProductVariant], books: Any) -> Sequence:
    """An order as checkout leaves it: lines, reservations, and a payment (captured or not)."""
    chosen = dice.sample(variants, dice.randint(1, len(variants)))
    lines = [(v, dice.randint(1, 4), money(dice, 1, 9999)) for v in chosen]
    subtotal = sum((price * quantity for _, quantity, price in lines), Decimal(0))
    # Priced as checkout prices: now and then a discount, and tax included in prices or added.
    kind = dice.choice([None, None, "PERCENTAGE", "FIXED_AMOUNT", "FREE_SHIPPING"])
    value = Decimal(dice.randint(1, 50)) if kind == "PERCENTAGE" else money(dice, 0, int(subtotal * 100) // 3)
    figures = pricing.totals(
        subtotal,
        "EUR",
        discount_kind=kind,
        discount_value=value,
        shipping=money(dice, 0, 1500),
        tax_rate=dice.choice([Decimal(0), Decimal("0.07"), Decimal("0.19")]),
        prices_include_tax=dice.random() < 0.5,
    )
    total = figures.total
    card = dice.random() < 0.7
    reference = f"test_{secrets.token_hex(8)}"
    key = uuid.uuid4().hex
    order = await Order.create(
        number=1_000_000 + dice.randint(0, 10**9),
        token=uuid.uuid4().hex,
        email="money@example.com",
        status=S.PAID if card else S.PLACED,
        currency="EUR",
        subtotal=subtotal,
        discount_total=figures.discount,
        shipping_total=figures.shipping,
        tax_total=figures.tax,
        total=total,
        shipping_address={"country": "DE", "city": "Berlin", "line1": "Street 1", "postal_code": "10115"},
        shipping_method_name="Standard",
        shipping_carrier="dhl",
        payment_provider="test-card" if card else "manual",
        payment_reference=reference,
    )
    central = {
        s.variant_id: s for s in await Stock.filter(variant_id__in=[v.id for v in chosen], warehouse__code="central")
    }
    for variant, quantity, price in lines:
        await OrderLine.create(
            order_id=order.id,
            variant_id=variant.id,
            sku=variant.sku,
            product_name="Money",
            variant_name="",
            quantity=quantity,
            unit_price=price,
            total=price * quantity,
        )
        stock = central[variant.id]
        await Allocation.create(order_id=order.id, variant_id=variant.id, stock_id=stock.id, quantity=quantity)
        await Stock.filter(id=stock.id).update(reserved=stock.reserved + quantity)
    if card:
        books.charge(key, total, "EUR", reference)
    await Payment.create(
        key=key,
        provider="test-card" if card else "manual",
        cart_token=uuid.uuid4().hex,
        status=PaymentStatus.CAPTURED if card else PaymentStatus.AUTHORIZED,
        amount=total,
        currency="EUR",
        reference=reference,
        captured=total if card else Decimal(0),
        order_id=order.id,
    )
    return Sequence(order.id, card, reference)


async def operate(dice: random.Random, seq: Sequence, outcomes: Counter[str]) -> None:
    """One random operation; a refusal (DomainError) must leave the money where it was."""
    order = await Order.get(id=seq.order_id)
    lines = list(await OrderLine.filter(order_id=order.id).order_by("id"))
    # Ending operations (a full refund, a cancellation) rarer than the rest, so sequences go far.
    kind = dice.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
    before = await _money_state(order.id)
    try:
        if kind == "capture":
            await orders_admin.mark_paid(order.id, None)
        elif kind == "ship":
            picks = [(line.id, dice.randint(1, line.quantity)) for line in lines if dice.random() < 0.7] or [
                (lines[0].id, 1)
            ]
            await shipments_admin.create_shipment(order.id, picks, "dhl", uuid.uuid4().hex[:16], None)
        elif kind == "lines":
            wanted = [
                refunds.LineRequest(
                    line.id, dice.randint(1, max(1, line.quantity - line.quantity_refunded)), dice.random() < 0.5
                )
                for line in lines
                if dice.random() < 0.6
            ]
            refund = await orders_admin.refund_create(
                order.id, refunds.RefundRequest(wanted, dice.random() < 0.4), None
            )
            seq.derived.add(refund.id)
        elif kind == "amount":
            left = before[0] - before[1]
            high = max(1, int(left * 100) + (50 if dice.random() < 0.2 else 0))
            await orders_admin.refund_create(order.id, refunds.RefundRequest(amount=money(dice, 1, high)), None)
        elif kind == "full":
            await orders_admin.refund(order.id, None)
        elif kind == "cancel":
            await orders_admin.cancel(order.id, "dice", None)
        else:
            await _return(dice, order, lines)
    except DomainError as error:
        outcomes[f"{kind} {error.code}"] += 1
        if kind == "lines" and error.code == ErrorCode.REFUND_EXCEEDS_CAPTURED and before[0] > 0:
            # Lines refunded at what was paid for them fit in what was captured, unless an amount
            # given by staff took more than the lines it stood for.
            given = await Refund.filter(order_id=order.id, status__not=RefundStatus.FAILED)
            assert not all([await _derived(r) for r in given]), "lines refused though only lines were refunded"
        assert await _money_state(order.id) == before, f"{kind} refused but changed money"
    else:
        outcomes[kind] += 1


async def _return(dice: random.Random, order: Order, lines: list[OrderLine]) -> None:
    open_return = await Return.filter(
        order_id=order.id, status__in=[ReturnStatus.REQUESTED, ReturnStatus.APPROVED]
    ).first()
    if open_return is None:
        # Mostly units that can be returned, now and then more than that (refused).
        shipped = [line for line in lines if line.quantity_shipped > line.quantity_returned] or lines
        line = dice.choice(shipped)
        most = max(1, line.quantity_shipped - line.quantity_returned) + (1 if dice.random() < 0.1 else 0)
        await returns.request(
            order.token, [returns.LineRequest(dice.randint(1, most), order_line_id=line.id)], "", None
        )
    elif open_return.status == ReturnStatus.REQUESTED:
        await (
            returns_admin.approve(open_return.id, None)
            if dice.random() < 0.8
            else returns_admin.reject(open_return.id, "", None)
        )
    else:
        own = await ReturnLine.filter(return_request_id=open_return.id)
        received = [returns.LineRequest(dice.randint(0, r.quantity), return_line_id=r.id) for r in own]
        await returns_admin.receive(open_return.id, received, dice.random() < 0.5, None)


async def _money_state(order_id: int) -> tuple[Decimal, Decimal, list[int]]:
    payment = await Payment.get(order_id=order_id)
    refunded_units = [line.quantity_refunded for line in await OrderLine.filter(order_id=order_id).order_by("id")]
    return Decimal(payment.captured), Decimal(payment.refunded), refunded_units


async def _derived(refund: Refund) -> bool:
    """A refund of what its lines and shipping were worth (not an amount staff gave)."""
    parts = await RefundLine.filter(refund_id=refund.id)
    return sum((Decimal(p.amount) for p in parts), Decimal(refund.shipping)) == Decimal(refund.amount)


def exact(amount: Any) -> bool:
    return isinstance(amount, Decimal) and amount.is_finite() and amount.as_tuple().exponent >= -2


async def check(seq: Sequence, books: Any) -> bool:
    """The invariants; True when everything came back through refunds of lines and shipping."""
    order = await Order.get(id=seq.order_id)
    payment = await Payment.get(order_id=order.id)
    captured, refunded = Decimal(payment.captured), Decimal(payment.refunded)
    assert exact(payment.captured) and exact(payment.refunded)
    assert Decimal(0) <= refunded <= captured <= Decimal(order.total)
    all_refunds = list(await Refund.filter(order_id=order.id))
    assert not [r for r in all_refunds if r.status == RefundStatus.PENDING]  # the provider always answered
    succeeded = [r for r in all_refunds if r.status == RefundStatus.SUCCEEDED]
    assert sum((Decimal(r.amount) for r in succeeded), Decimal(0)) == refunded
    for refund in all_refunds:
        assert exact(refund.amount) and exact(refund.shipping) and Decimal(refund.amount) > 0
        if refund.id in seq.derived:
            parts = [Decimal(line.amount) for line in await RefundLine.filter(refund_id=refund.id)]
            assert all(exact(p) for p in parts)
            assert sum(parts, Decimal(0)) + Decimal(refund.shipping) == Decimal(refund.amount)
    # What was paid for each line and the shipping: refunds never take more, and refunds of
    # everything, each what its lines and shipping were worth, give back exactly what was paid.
    lines = list(await OrderLine.filter(order_id=order.id))
    worth = refunds.paid_for(order, lines, "EUR")
    assert sum(worth.lines.values(), worth.shipping) == Decimal(order.total)
    assert sum((Decimal(r.shipping) for r in succeeded), Decimal(0)) <= worth.shipping
    all_back = False
    taken = {line.id: Decimal(0) for line in lines}
    for refund in succeeded:
        for part in await RefundLine.filter(refund_id=refund.id):
            taken[part.order_line_id] += Decimal(part.amount)
    for line in lines:
        assert taken[line.id] <= worth.lines[line.id]
        if line.quantity_refunded == line.quantity:
            assert taken[line.id] == worth.lines[line.id]
    shipping = sum((Decimal(r.shipping) for r in succeeded), Decimal(0))
    if (
        all([await _derived(r) for r in succeeded])
        and all(line.quantity_refunded == line.quantity for line in lines)
        and shipping == worth.shipping
        and captured == Decimal(order.total)
    ):
        assert refunded == captured
        all_back = True
    # The status says what the money says.
    if refunded == 0:
        assert order.status not in (S.PARTIALLY_REFUNDED, S.REFUNDED)
    elif refunded == captured:
        assert order.status in (S.REFUNDED, S.CANCELLED)
    else:
        assert order.status == S.PARTIALLY_REFUNDED
    units = {line.id: 0 for line in lines}
    for refund in succeeded:
        for line in await RefundLine.filter(refund_id=refund.id):
            units[line.order_line_id] += line.quantity
    for line in lines:
        assert 0 <= line.quantity_refunded <= line.quantity and line.quantity_refunded == units[line.id]
        assert 0 <= line.quantity_returned <= line.quantity_shipped <= line.quantity
    for stock in await Stock.filter(variant_id__in=[line.variant_id for line in lines]):
        assert 0 <= stock.reserved <= stock.quantity
    if seq.card:
        entries = [e for e in books.entries() if e.reference == seq.reference]
        balance = sum((e.amount if e.kind == "CHARGE" else -e.amount for e in entries), Decimal(0))
        assert balance == captured - refunded
    return all_back


async def test_random_sequences_keep_the_money_exact(db, monkeypatch):
    if db.name != "sqlite":
        pytest.skip("arithmetic and bookkeeping: SQLite is enough (and fast)")
    real = payments.provider("test-card")
    assert isinstance(real, payments.TestCardPayment)
    variants = [await make_variant() for _ in range(3)]
    await Stock.filter(variant_id__in=[v.id for v in variants], warehouse__code="central").update(quantity=10**8)
    started = time.monotonic()
    operations = 0
    outcomes: Counter[str] = Counter()
    all_back: set[int] = set()  # sequences that refunded every line and the shipping at their worth
    for seed in range(SEQUENCES):
        dice = random.Random(seed)
        monkeypatch.setitem(payments.PROVIDERS, "test-card", Flaky(real.books, dice))
        seq = await place(dice, variants, real.books)
        for _ in range(OPERATIONS):
            await operate(dice, seq, outcomes)
            operations += 1
            try:
                if await check(seq, real.books):
                    all_back.add(seed)
            except AssertionError as error:
                raise AssertionError(f"seed {seed}, after operation {operations}: {error}") from error
    print(
        f"{len(all_back)} sequences refunded in full line by line; "
        f"{SEQUENCES} sequences, {operations} operations in {time.monotonic() - started:.1f} s: {sorted(outcomes.items())}"
    )
    # The sequences reached what they are about: refunds made, refused by the provider and over
    # the captured amount, returns refunded, manual orders captured.
    for reached in ("lines", "amount", "full", "cancel", "capture", "ship", "return", "lines PAYMENT_DECLINED"):
        assert outcomes[reached] > 0, reached
    assert outcomes["amount REFUND_EXCEEDS_CAPTURED"] + outcomes["lines REFUND_EXCEEDS_CAPTURED"] > 0
    assert await Return.filter(status=ReturnStatus.REFUNDED).exists()
    assert all_back  # the lines and the shipping refunded at their worth gave back all that was captured
