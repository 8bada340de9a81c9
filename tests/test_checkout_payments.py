"""Money last: a card is charged only after every check that can refuse the order, and a charge
that still ends without an order is given back in the same request."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal

import pytest

from models import Cart, DiscountCode, DiscountKind, Order, Payment, PaymentStatus, Stock, StockMovement
from resolvers import card_books, checkout_complete, outbox, payments
from tests.test_checkout import CHECKOUT, PAID, make_variant, ready_cart

APPLY = (
    "mutation($t: ID!, $c: String!) { cartApplyDiscountCode(cartToken: $t, code: $c) { userErrors { code message } } }"
)


def card_ledger() -> card_books.CardBooks:
    card = payments.provider("test-card")
    assert isinstance(card, payments.TestCardPayment)
    return card.books


async def entries_since(before: list[card_books.Entry], *cart_tokens: str) -> list[card_books.Entry]:
    """What the processor recorded since `before` was read (its books only grow) for the payments
    of these carts: a checkout an earlier test cancelled may still be giving its money back
    (shielded from the cancellation), into the same books."""
    keys = set(await Payment.filter(cart_token__in=cart_tokens).values_list("key", flat=True))
    entries = card_ledger().entries()
    references = {e.reference for e in entries if e.key in keys}
    return [e for e in entries[len(before) :] if e.key in keys or e.reference in references]


class DelegatingCard:
    """A provider that passes every call to another: subclasses change what they test."""

    name = "delegating-card"

    def __init__(self, card: payments.PaymentProvider) -> None:
        self.card = card

    async def initialize(
        self, amount: Decimal, currency: str, key: str, return_url: str, token: str | None
    ) -> payments.ProviderPayment:
        return await self.card.initialize(amount, currency, key, return_url, token)

    async def confirm(
        self, reference: str, amount: Decimal, currency: str, key: str, token: str | None
    ) -> payments.ProviderPayment:
        return await self.card.confirm(reference, amount, currency, key, token)

    async def capture(self, reference: str, amount: Decimal, currency: str, key: str) -> payments.ProviderPayment:
        return await self.card.capture(reference, amount, currency, key)

    async def refund(self, reference: str, amount: Decimal, currency: str, key: str) -> payments.ProviderRefund:
        return await self.card.refund(reference, amount, currency, key)

    async def give_back(self, reference: str, key: str) -> payments.GivenBack:
        return await self.card.give_back(reference, key)

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> payments.ProviderEvent:
        return self.card.parse_webhook(body, headers)


class LongReferenceCard(DelegatingCard):
    """A processor that charges the card, then answers with a reference longer than an order can
    hold: the order's insert fails after the money has moved."""

    name = "long-reference-card"
    PADDING = "-" + "x" * 200

    async def confirm(
        self, reference: str, amount: Decimal, currency: str, key: str, token: str | None
    ) -> payments.ProviderPayment:
        answer = await self.card.confirm(reference, amount, currency, key, token)
        return replace(answer, reference=answer.reference + self.PADDING)

    async def capture(self, reference: str, amount: Decimal, currency: str, key: str) -> payments.ProviderPayment:
        return await self.card.capture(reference.removesuffix(self.PADDING), amount, currency, key)

    async def refund(self, reference: str, amount: Decimal, currency: str, key: str) -> payments.ProviderRefund:
        return await self.card.refund(reference.removesuffix(self.PADDING), amount, currency, key)

    async def give_back(self, reference: str, key: str) -> payments.GivenBack:
        return await self.card.give_back(reference.removesuffix(self.PADDING), key)


async def test_a_charge_whose_order_fails_is_refunded(gql, monkeypatch, db):
    card = payments.provider("test-card")
    assert card is not None
    monkeypatch.setitem(payments.PROVIDERS, LongReferenceCard.name, LongReferenceCard(card))
    variant = await make_variant()
    token = await ready_cart(gql, [(variant.sku, 2)])
    before, orders = card_ledger().entries(), await Order.all().count()

    body = await gql.post(CHECKOUT, {"t": token, "p": {"provider": LongReferenceCard.name, "token": "tok_visa"}})
    assert body["errors"] and "Traceback" not in str(body)
    assert body["data"] is None or body["data"]["checkoutComplete"] is None

    payment = await Payment.get(cart_token=token)
    made = await entries_since(before, token)
    assert [entry.kind for entry in made] == ["CHARGE", "REFUND"]
    assert made[0].reference == made[1].reference and made[0].amount == made[1].amount > 0
    assert made[0].reference not in card_ledger().held()
    # The payment records what happened: charged under its key, given back, no order.
    assert (payment.status, payment.key, payment.order_id) == (PaymentStatus.CANCELLED, made[0].key, None)
    assert (payment.reference, payment.amount) == (made[0].reference, made[0].amount)
    assert [e.type for e in await payment.events.all().order_by("id")] == ["REFUNDED", "CANCELLED"]
    assert await Order.all().count() == orders
    central = await Stock.get(variant_id=variant.id, warehouse__code="central")
    assert (central.quantity, central.reserved) == (5, 0)
    assert await StockMovement.filter(variant_id=variant.id).count() == 0
    assert (await Cart.get(token=token)).completed_at is None
    # The cart is untouched: with a working card it checks out.
    retried = (await gql.data(CHECKOUT, {"t": token, "p": PAID}))["checkoutComplete"]
    assert retried["userErrors"] == [] and retried["order"]["status"] == "PAID"


async def test_fifty_buyers_for_a_code_limited_to_ten(gql, db):
    if db.name != "postgres":
        pytest.skip("SQLite serializes every transaction: concurrency is proven on PostgreSQL")
    variant = await make_variant()
    await Stock.filter(variant_id=variant.id, warehouse__code="central").update(quantity=60)
    code = await DiscountCode.create(
        code=f"TEN{uuid.uuid4().hex[:6].upper()}", kind=DiscountKind.PERCENTAGE, value=10, usage_limit=10
    )
    tokens = await asyncio.gather(*(ready_cart(gql, [(variant.sku, 1)]) for _ in range(50)))
    for token in tokens:
        assert (await gql.data(APPLY, {"t": token, "c": code.code}))["cartApplyDiscountCode"]["userErrors"] == []
    before = card_ledger().entries()

    results = [
        r["checkoutComplete"] for r in await asyncio.gather(*(gql.data(CHECKOUT, {"t": t, "p": PAID}) for t in tokens))
    ]

    placed = [r["order"] for r in results if r["order"]]
    assert len(placed) == 10
    assert sorted(e["code"] for r in results for e in r["userErrors"]) == ["DISCOUNT_CODE_INVALID"] * 40
    references = {o.payment_reference for o in await Order.filter(discount_code=code.code)}
    assert len(references) == 10
    made = await entries_since(before, *tokens)
    assert {e.reference for e in made if e.kind == "CHARGE"} == references  # the refused were never charged
    assert set(card_ledger().held()) >= references
    assert not {e.reference for e in made} - references  # no charge, void or refund without an order
    assert (await DiscountCode.get(id=code.id)).used_count == 10
    assert (await Stock.get(variant_id=variant.id, warehouse__code="central")).reserved == 10


async def test_a_failure_after_the_commit_keeps_the_payment(gql, db):
    """Announcing an order happens after its commit: failing there leaves the order, which keeps its money."""
    variant = await make_variant()
    token = await ready_cart(gql, [(variant.sku, 1)])
    before = card_ledger().entries()

    async def broken_sink(changes: list[outbox.Change]) -> None:
        raise ConnectionError("the event bus is away")

    outbox.use_sink(broken_sink)
    try:
        with pytest.raises(ConnectionError):
            await checkout_complete.complete(token, "test-card", "tok_visa", None, True, None)
    finally:
        outbox.use_sink(None)
    order = await Order.get(cart__token=token)
    assert [(e.kind, e.reference) for e in await entries_since(before, token)] == [("CHARGE", order.payment_reference)]
    assert order.payment_reference in card_ledger().held()
    payment = await Payment.get(cart_token=token)
    assert (payment.status, payment.order_id, payment.reference, payment.captured) == (
        PaymentStatus.CAPTURED,
        order.id,
        order.payment_reference,
        order.total,
    )
