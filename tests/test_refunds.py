"""Partial refunds through the API: the amount, the payment's books, the stock, the order's status,
and what is announced (the ORDER_REFUNDED webhook and an email per refund); over-refunds refused
with nothing changed; concurrent full refunds on PostgreSQL, exactly one given."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from gateway import mail
from gateway.app import create_app
from gateway.job_stats import JobStats
from gateway.jobs import Housekeeping, Jobs
from gateway.settings import load_settings
from gateway.worker import customer_emails
from models import (
    DiscountCode,
    DiscountKind,
    Order,
    OutboxEvent,
    Payment,
    Permission,
    ProductVariant,
    Refund,
    RefundStatus,
    Stock,
    StockMovement,
    WebhookDelivery,
    WebhookSubscription,
)
from models.changes import CATALOGUE, Change
from resolvers import card_books, emails, outbox, payments, refunds, webhooks_out
from resolvers.card_books import Entry
from tests.conftest import GraphQLClient
from tests.staff import bearer, token_for
from tests.test_checkout import CHECKOUT, PAID, make_variant, ready_cart
from tests.test_emails import Inbox, deliver, free_port, parts

REFUND = """mutation($o: ID!, $l: [OrderRefundLineInput!], $s: Boolean! = false, $a: Decimal, $r: String) {
  orderRefundCreate(orderId: $o, lines: $l, includeShipping: $s, amount: $a, reason: $r) {
    refund { id status reason includesShipping amount { amount } shipping { amount }
             lines { orderLine { id sku } quantity amount { amount } restock } }
    order { status lines { id quantityRefunded } refunds { status amount { amount } } }
    userErrors { field code message } } }"""
SHIP = """mutation($o: ID!, $l: [ShipmentLineInput!]!, $n: String!) {
  shipmentCreate(orderId: $o, lines: $l, carrier: "dhl", trackingNumber: $n) { userErrors { code } } }"""
ORDER = "query($t: ID!) { order(token: $t) { id status total { amount } shippingTotal { amount } lines { id quantity unitPrice { amount } } } }"


async def call(client: Any, headers: dict[str, str], query: str, variables: dict[str, Any]) -> dict[str, Any]:
    body = (await client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)).json()
    assert not body.get("errors"), body
    payload: dict[str, Any] = next(iter(body["data"].values()))
    return payload


async def paid_order(gql: Any, quantity: int = 2) -> tuple[dict[str, Any], Any]:
    """A paid order of `quantity` units of a variant of its own (5 in stock): the order as
    `ORDER` reads it, with its token, and the variant."""
    variant = await make_variant()
    placed = await gql.data(CHECKOUT, {"t": await ready_cart(gql, [(variant.sku, quantity)]), "p": PAID})
    token = placed["checkoutComplete"]["order"]["token"]
    order: dict[str, Any] = (await gql.data(ORDER, {"t": token}))["order"]
    order["token"] = token
    return order, variant


async def ship_all(client: Any, order: dict[str, Any]) -> None:
    shipper = bearer(await token_for(Permission.MANAGE_SHIPMENTS))
    lines = [{"orderLineId": line["id"], "quantity": line["quantity"]} for line in order["lines"]]
    shipped = await call(client, shipper, SHIP, {"o": order["id"], "l": lines, "n": uuid.uuid4().hex[:12]})
    assert shipped["userErrors"] == []


def refunds_in_books(reference: str) -> list[Entry]:
    provider = payments.provider("test-card")
    assert isinstance(provider, payments.TestCardPayment)
    return [e for e in provider.books.entries() if e.kind == "REFUND" and e.reference == reference]


async def staff() -> dict[str, str]:
    return bearer(await token_for(Permission.MANAGE_ORDERS))


# What leaves the system about an order: its emails, through a real SMTP server as a worker sends
# them, and its webhook delivery rows, as the webhooks consumer plans them.
Arrived = Callable[[str], Awaitable[list[EmailMessage]]]


@asynccontextmanager
async def post_office() -> AsyncIterator[Arrived]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    await OutboxEvent.filter(delivered_at=None).update(delivered_at=datetime.now(UTC))  # not this test's
    server = mail.SmtpServer.parse(f"smtp://127.0.0.1:{port}")
    sender = customer_emails(load_settings({"EMAIL_FROM": "Test Shop <shop@example.com>"}), server.send)
    week = timedelta(days=7)
    jobs = Jobs("sqlite://:memory:", Housekeeping(timedelta(seconds=1), week, week, week), JobStats(), mailer=sender)
    await jobs.open()

    async def plan_webhooks(changes: list[Change]) -> None:
        await webhooks_out.plan(changes)

    outbox.register(emails.CONSUMER, jobs.plan_emails)
    outbox.register("webhooks", plan_webhooks)
    subscription = await WebhookSubscription.create(
        url="http://127.0.0.1:9/hooks",
        events=["ORDER_REFUNDED", "ORDER_CANCELLED"],
        secret=webhooks_out.generate_secret(),
    )
    seen = 0

    async def arrived(order_token: str) -> list[EmailMessage]:
        nonlocal seen
        order = await Order.get(token=order_token)
        waiting = await OutboxEvent.filter(delivered_at=None, kind__in=["order", "return"])
        mine = [
            str(row.event_id)
            for row in waiting
            if row.payload.get("id" if row.kind == "order" else "order_id") == order.id
        ]
        await deliver(jobs, mine)
        new, seen = inbox.messages[seen:], len(inbox.messages)
        return new

    try:
        yield arrived
    finally:
        outbox.unregister(emails.CONSUMER)
        outbox.unregister("webhooks")
        await subscription.delete()
        await jobs.close()
        controller.stop()


async def refunded_webhooks(order_id: int) -> list[WebhookDelivery]:
    rows = await WebhookDelivery.filter(event_type="ORDER_REFUNDED").order_by("id")
    return [row for row in rows if row.payload["data"]["object"]["id"] == order_id]


async def test_a_partial_refund_with_restock_then_the_rest(db, gql, client):
    headers = await staff()
    order, variant = await paid_order(gql, 2)
    await ship_all(client, order)
    line = order["lines"][0]
    unit = Decimal(line["unitPrice"]["amount"])
    model = await Order.get(token=order["token"])
    async with post_office() as arrived:
        await arrived(order["token"])  # the confirmation and the shipping email: not this test's
        last_event = await OutboxEvent.all().order_by("-id").first()
        assert last_event is not None
        first = await call(
            client,
            headers,
            REFUND,
            {"o": order["id"], "l": [{"orderLineId": line["id"], "quantity": 1, "restock": True}], "r": "too big"},
        )
        assert first["userErrors"] == []
        refund = first["refund"]
        assert refund["status"] == "SUCCEEDED" and Decimal(refund["amount"]["amount"]) == unit
        assert refund["includesShipping"] is False and refund["reason"] == "too big"
        assert refund["lines"] == [
            {
                "orderLine": {"id": line["id"], "sku": variant.sku},
                "quantity": 1,
                "amount": {"amount": line["unitPrice"]["amount"]},
                "restock": True,
            }
        ]
        assert first["order"]["status"] == "PARTIALLY_REFUNDED"
        assert first["order"]["lines"] == [{"id": line["id"], "quantityRefunded": 1}]
        assert first["order"]["refunds"] == [{"status": "SUCCEEDED", "amount": refund["amount"]}]
        # The unit came back on hand (2 shipped from 5, one back), with its ledger row.
        stock = await Stock.get(variant_id=variant.id, warehouse__code="central")
        assert (stock.quantity, stock.reserved) == (4, 0)
        [movement] = await StockMovement.filter(variant_id=variant.id, kind="RETURN")
        assert (movement.delta, movement.quantity_after) == (1, 4)
        # The cached catalogue answers showing the product's stock are evicted, once committed.
        stale = await OutboxEvent.filter(kind=CATALOGUE, id__gt=last_event.id)
        assert [f"product:{variant.product_id}" in row.tags for row in stale] == [True]
        assert [e.amount for e in refunds_in_books(model.payment_reference)] == [unit]
        payment = await Payment.get(order_id=model.id)
        assert payment.refunded == unit
        [email] = await arrived(order["token"])
        assert email["Subject"] == f"Order #{model.number} refunded"
        assert f"{unit:.2f} EUR of order #{model.number} has been refunded" in parts(email)[0]
        assert len(await refunded_webhooks(model.id)) == 1

        rest = await call(
            client, headers, REFUND, {"o": order["id"], "l": [{"orderLineId": line["id"], "quantity": 1}], "s": True}
        )
        assert rest["userErrors"] == []
        shipping = Decimal(order["shippingTotal"]["amount"])
        assert Decimal(rest["refund"]["amount"]["amount"]) == unit + shipping
        assert rest["refund"]["includesShipping"] is True
        assert Decimal(rest["refund"]["shipping"]["amount"]) == shipping
        total = Decimal(order["total"]["amount"])
        assert rest["order"]["status"] == ("REFUNDED" if 2 * unit + shipping == total else "PARTIALLY_REFUNDED")
        assert rest["order"]["status"] == "REFUNDED"  # the seeded store includes tax in its prices
        [second] = await arrived(order["token"])
        assert "now refunded in full" in parts(second)[0]
        assert len(await refunded_webhooks(model.id)) == 2  # one per refund
        # Not restocked: on hand stays where the first refund left it.
        assert (await Stock.get(variant_id=variant.id, warehouse__code="central")).quantity == 4
        assert sum(e.amount for e in refunds_in_books(model.payment_reference)) == total
        again = await call(client, headers, REFUND, {"o": order["id"], "a": "1.00"})
        assert [e["code"] for e in again["userErrors"]] == ["INVALID_TRANSITION"]


APPLY = "mutation($t: ID!, $c: String!) { cartApplyDiscountCode(cartToken: $t, code: $c) { userErrors { code } } }"


@asynccontextmanager
async def tax_exclusive_shop(db: Any, tmp_path: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway of a shop whose prices exclude tax (added at checkout), on the test database."""
    settings = {
        "DATABASE_URL": db.url,
        "RATE_LIMIT_PER_SECOND": "0",
        "PRICES_INCLUDE_TAX": "0",
        "TEST_CARD_LEDGER": str(tmp_path / "test-card-ledger.jsonl"),
    }
    transport = httpx.ASGITransport(app=create_app(load_settings(settings)), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
        yield http


async def discounted_order(gql: Any) -> dict[str, Any]:
    """A paid order to Germany (19 % VAT) with a 15 % discount code: 2 x 7.33 and 1 x 12.45, so a
    subtotal of 27.11 (4.07 off) under the free-shipping threshold, and Standard shipping at 4.95."""
    code = await DiscountCode.create(code=f"REF{uuid.uuid4().hex[:6].upper()}", kind=DiscountKind.PERCENTAGE, value=15)
    pair, single = await make_variant(), await make_variant()
    await ProductVariant.filter(id=pair.id).update(price=Decimal("7.33"))
    await ProductVariant.filter(id=single.id).update(price=Decimal("12.45"))
    token = await ready_cart(gql, [(pair.sku, 2), (single.sku, 1)])
    assert (await gql.data(APPLY, {"t": token, "c": code.code}))["cartApplyDiscountCode"]["userErrors"] == []
    placed = (await gql.data(CHECKOUT, {"t": token, "p": PAID}))["checkoutComplete"]
    assert placed["userErrors"] == [], placed
    order: dict[str, Any] = (await gql.data(ORDER, {"t": placed["order"]["token"]}))["order"]
    order["token"] = placed["order"]["token"]
    return order


@pytest.mark.parametrize(
    ("included", "total", "steps"),
    [
        # Tax included: 27.99 paid, 4.95 of it for the shipping; 23.04 for the goods, split 12.46 to
        # the pair and 10.58 to the single (largest remainder), the pair's units 6.23 each.
        (True, "27.99", ["6.23", "6.23", "10.58", "4.95"]),
        # Tax added: 27.99 + 5.32 = 33.31 paid; the shipping 5.89 (4.95 and its tax), the pair 14.83
        # (7.42 for one unit, then the 7.41 left), the single 12.59.
        (False, "33.31", ["7.42", "7.41", "12.59", "5.89"]),
    ],
)
async def test_a_discounted_order_refunded_line_by_line_gives_back_what_was_paid(
    db, gql, client, tmp_path, included, total, steps
):
    async with AsyncExitStack() as stack:
        if not included:
            client = await stack.enter_async_context(tax_exclusive_shop(db, tmp_path))
            gql = GraphQLClient(client)
        headers = await staff()
        order = await discounted_order(gql)
        assert order["total"]["amount"] == total
        pair = next(line for line in order["lines"] if line["quantity"] == 2)
        single = next(line for line in order["lines"] if line["quantity"] == 1)
        requests: list[dict[str, Any]] = [
            {"l": [{"orderLineId": pair["id"], "quantity": 1}]},
            {"l": [{"orderLineId": pair["id"], "quantity": 1}]},
            {"l": [{"orderLineId": single["id"], "quantity": 1}]},
            {"s": True},
        ]
        answers = [await call(client, headers, REFUND, {"o": order["id"], **asked}) for asked in requests]
        assert [a["userErrors"] for a in answers] == [[]] * 4  # never REFUND_EXCEEDS_CAPTURED
        assert [a["refund"]["amount"]["amount"] for a in answers] == steps
        assert [a["refund"]["status"] for a in answers] == ["SUCCEEDED"] * 4
        # Each refund line holds what its units were worth: the line's refunds add up to it.
        assert [[line["amount"]["amount"] for line in a["refund"]["lines"]] for a in answers] == [
            [steps[0]],
            [steps[1]],
            [steps[2]],
            [],
        ]
        assert [a["order"]["status"] for a in answers] == ["PARTIALLY_REFUNDED"] * 3 + ["REFUNDED"]
        model = await Order.get(token=order["token"])
        payment = await Payment.get(order_id=model.id)
        assert payment.refunded == payment.captured == Decimal(total)
        assert sum(e.amount for e in refunds_in_books(model.payment_reference)) == Decimal(total)


async def test_an_unshipped_unit_gives_its_reservation_back(db, gql, client):
    order, variant = await paid_order(gql, 2)
    refunded = await call(
        client,
        await staff(),
        REFUND,
        {"o": order["id"], "l": [{"orderLineId": order["lines"][0]["id"], "quantity": 1}]},
    )
    assert refunded["order"]["status"] == "PARTIALLY_REFUNDED"
    stock = await Stock.get(variant_id=variant.id, warehouse__code="central")
    assert (stock.quantity, stock.reserved) == (5, 1)
    [release] = await StockMovement.filter(variant_id=variant.id, kind="RELEASE")
    assert (release.delta, release.reserved_delta) == (0, -1)
    # What is left ships: the refunded unit does not.
    shipper = bearer(await token_for(Permission.MANAGE_SHIPMENTS))
    line = order["lines"][0]["id"]
    both = await call(client, shipper, SHIP, {"o": order["id"], "l": [{"orderLineId": line, "quantity": 2}], "n": "R1"})
    assert [e["code"] for e in both["userErrors"]] == ["INVALID_QUANTITY"]
    one = await call(
        client,
        shipper,
        SHIP,
        {"o": order["id"], "l": [{"orderLineId": line, "quantity": 1}], "n": uuid.uuid4().hex[:12]},
    )
    assert one["userErrors"] == []
    after = await gql.data("query($t: ID!) { order(token: $t) { status events { kind } } }", {"t": order["token"]})
    assert after["order"]["status"] == "PARTIALLY_REFUNDED" and after["order"]["events"][-1]["kind"] == "SHIPPED"
    stock = await Stock.get(variant_id=variant.id, warehouse__code="central")
    assert (stock.quantity, stock.reserved) == (4, 0)


async def test_an_amount_given_and_the_shipping_alone(db, gql, client):
    headers = await staff()
    order, _ = await paid_order(gql, 1)
    shipping = Decimal(order["shippingTotal"]["amount"])
    only_shipping = await call(client, headers, REFUND, {"o": order["id"], "s": True})
    assert Decimal(only_shipping["refund"]["amount"]["amount"]) == shipping
    assert only_shipping["refund"]["lines"] == []
    # The shipping is given back once: asked again, there is none left to give.
    assert [e["code"] for e in (await call(client, headers, REFUND, {"o": order["id"], "s": True}))["userErrors"]] == [
        "REQUIRED"
    ]
    some = await call(client, headers, REFUND, {"o": order["id"], "a": "1.50", "r": "goodwill"})
    assert some["userErrors"] == [] and some["refund"]["amount"]["amount"] == "1.50"
    model = await Order.get(token=order["token"])
    assert (await Payment.get(order_id=model.id)).refunded == shipping + Decimal("1.50")
    for bad in ("0", "-1", "0.001", "1.005", "NaN"):
        refused = await call(client, headers, REFUND, {"o": order["id"], "a": bad})
        assert [e["code"] for e in refused["userErrors"]] == ["INVALID_AMOUNT"], bad


async def test_over_refunds_are_refused_and_change_nothing(db, gql, client):
    headers = await staff()
    order, variant = await paid_order(gql, 2)
    line = order["lines"][0]
    model = await Order.get(token=order["token"])
    before = await Payment.get(order_id=model.id)
    too_much = str(Decimal(order["total"]["amount"]) + Decimal("0.01"))
    refused = await call(client, headers, REFUND, {"o": order["id"], "a": too_much})
    assert refused["refund"] is None and refused["order"] is None
    [error] = refused["userErrors"]
    assert error["code"] == "REFUND_EXCEEDS_CAPTURED" and error["field"] == ["amount"]
    assert order["total"]["amount"] in error["message"]
    three = await call(client, headers, REFUND, {"o": order["id"], "l": [{"orderLineId": line["id"], "quantity": 3}]})
    assert [(e["code"], e["field"]) for e in three["userErrors"]] == [("INVALID_QUANTITY", ["lines", "0", "quantity"])]
    twice = await call(
        client,
        headers,
        REFUND,
        {
            "o": order["id"],
            "l": [{"orderLineId": line["id"], "quantity": 1}, {"orderLineId": line["id"], "quantity": 1}],
        },
    )
    assert [e["code"] for e in twice["userErrors"]] == ["DUPLICATE"]
    other, _ = await paid_order(gql, 1)
    foreign = await call(
        client, headers, REFUND, {"o": order["id"], "l": [{"orderLineId": other["lines"][0]["id"], "quantity": 1}]}
    )
    assert [e["code"] for e in foreign["userErrors"]] == ["NOT_FOUND"]
    nothing = await call(client, headers, REFUND, {"o": order["id"]})
    assert [e["code"] for e in nothing["userErrors"]] == ["REQUIRED"]
    after = await Payment.get(order_id=model.id)
    assert after.refunded == before.refunded == 0
    assert not await Refund.filter(order_id=model.id).exists()
    assert refunds_in_books(model.payment_reference) == []
    assert (await Order.get(id=model.id)).status == "PAID"
    stock = await Stock.get(variant_id=variant.id, warehouse__code="central")
    assert (stock.quantity, stock.reserved) == (5, 2)


async def test_a_refused_refund_is_undone(db, gql, client, monkeypatch):
    order, variant = await paid_order(gql, 2)
    model = await Order.get(token=order["token"])

    class Refusing(payments.ManualPayment):
        name = "test-card"

        async def refund(self, reference: str, amount: Decimal, currency: str, key: str) -> payments.ProviderRefund:
            return payments.ProviderRefund(approved=False, message="The card was closed.")

    monkeypatch.setitem(payments.PROVIDERS, "test-card", Refusing())
    refused = await call(
        client,
        await staff(),
        REFUND,
        {"o": order["id"], "l": [{"orderLineId": order["lines"][0]["id"], "quantity": 1}]},
    )
    assert [(e["code"], e["message"]) for e in refused["userErrors"]] == [("PAYMENT_DECLINED", "The card was closed.")]
    [failed] = await Refund.filter(order_id=model.id)
    assert failed.status == RefundStatus.FAILED
    assert (await Payment.get(order_id=model.id)).refunded == 0
    order_now = (
        await gql.data(
            "query($t: ID!) { order(token: $t) { status lines { quantityRefunded } events { kind } refunds { status } } }",
            {"t": order["token"]},
        )
    )["order"]
    assert order_now["status"] == "PAID" and order_now["lines"] == [{"quantityRefunded": 0}]
    assert order_now["events"][-1]["kind"] == "REFUND_FAILED" and order_now["refunds"] == [{"status": "FAILED"}]
    stock = await Stock.get(variant_id=variant.id, warehouse__code="central")
    assert stock.reserved == 2  # nothing given back


async def test_a_refund_left_pending_is_finished_once_under_its_key(db, gql, client, monkeypatch):
    """A process killed after the reservation (or a provider that did not answer): the periodic job
    asks the provider again under the same key, and the books hold one refund."""
    order, _ = await paid_order(gql, 1)
    model = await Order.get(token=order["token"])
    real = payments.provider("test-card")
    assert isinstance(real, payments.TestCardPayment)

    class Silent(payments.TestCardPayment):
        async def refund(self, reference: str, amount: Decimal, currency: str, key: str) -> payments.ProviderRefund:
            await super().refund(reference, amount, currency, key)  # the money moved; the answer is lost
            raise TimeoutError("no answer")

    monkeypatch.setitem(payments.PROVIDERS, "test-card", Silent(real.books))
    pending = await call(client, await staff(), REFUND, {"o": order["id"], "a": "2.00"})
    assert pending["userErrors"] == [] and pending["refund"]["status"] == "PENDING"
    assert pending["order"]["status"] == "PAID"
    monkeypatch.setitem(payments.PROVIDERS, "test-card", real)
    assert await refunds.finish_pending(timedelta(hours=1)) == 0  # not old enough yet
    assert await refunds.finish_pending(timedelta(0)) == 1
    [done] = await Refund.filter(order_id=model.id)
    assert done.status == RefundStatus.SUCCEEDED
    assert [e.amount for e in refunds_in_books(model.payment_reference)] == [Decimal("2.00")]
    assert (await Order.get(id=model.id)).status == "PARTIALLY_REFUNDED"
    assert await refunds.finish_pending(timedelta(0)) == 0


async def test_concurrent_full_refunds_give_the_money_back_once(db, gql, client):
    if db.name != "postgres":
        pytest.skip("SQLite serializes every transaction: concurrency is proven on PostgreSQL")
    headers = await staff()
    order, _ = await paid_order(gql, 2)
    model = await Order.get(token=order["token"])
    everything = {"o": order["id"], "a": order["total"]["amount"]}
    results = await asyncio.gather(*(call(client, headers, REFUND, everything) for _ in range(5)))
    given = [r for r in results if r["refund"] is not None]
    refused = [e["code"] for r in results for e in r["userErrors"]]
    assert len(given) == 1 and given[0]["refund"]["status"] == "SUCCEEDED"
    assert sorted(set(refused)) in (
        ["REFUND_EXCEEDS_CAPTURED"],
        ["INVALID_TRANSITION", "REFUND_EXCEEDS_CAPTURED"],
        ["INVALID_TRANSITION"],
    )
    assert len(refused) == 4
    assert [e.amount for e in refunds_in_books(model.payment_reference)] == [Decimal(order["total"]["amount"])]
    payment = await Payment.get(order_id=model.id)
    assert payment.refunded == payment.captured
    assert (await Order.get(id=model.id)).status == "REFUNDED"


async def test_cancelling_a_paid_order_refunds_it_through_a_refund(db, gql, client):
    order, variant = await paid_order(gql, 2)
    model = await Order.get(token=order["token"])
    cancel = "mutation($id: ID!) { orderCancel(orderId: $id) { order { status refunds { status amount { amount } } } userErrors { code } } }"
    async with post_office() as arrived:
        await arrived(order["token"])
        cancelled = await call(client, await staff(), cancel, {"id": order["id"]})
        assert cancelled["order"]["status"] == "CANCELLED"
        assert cancelled["order"]["refunds"] == [{"status": "SUCCEEDED", "amount": order["total"]}]
        # One email, the cancellation's, which tells of the refund; the webhook is ORDER_CANCELLED.
        [email] = await arrived(order["token"])
        assert email["Subject"] == f"Order #{model.number} cancelled"
        [hook] = await WebhookDelivery.filter(event_type__in=["ORDER_CANCELLED", "ORDER_REFUNDED"])
        assert hook.event_type == "ORDER_CANCELLED" and hook.payload["data"]["object"]["id"] == model.id
    assert [e.amount for e in refunds_in_books(model.payment_reference)] == [Decimal(order["total"]["amount"])]
    stock = await Stock.get(variant_id=variant.id, warehouse__code="central")
    assert (stock.quantity, stock.reserved) == (5, 0)


async def test_who_may_refund(db, gql, client):
    order, _ = await paid_order(gql, 1)
    variables = {"query": REFUND, "variables": {"o": order["id"], "a": "1.00"}}
    anonymous = (await client.post("/graphql", json=variables)).json()
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    customer = bearer(await token_for(staff=False))
    other_staff = bearer(await token_for(Permission.MANAGE_PRODUCTS))
    for headers in (customer, other_staff):
        body = (await client.post("/graphql", json=variables, headers=headers)).json()
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await Payment.get(order__token=order["token"])).refunded == 0


def test_the_books_refund_once_per_key(tmp_path):
    books = card_books.CardBooks(tmp_path / "books.jsonl")
    first = books.refund("k1", "ch_1", Decimal("5.00"), "EUR")
    again = books.refund("k1", "ch_1", Decimal("5.00"), "EUR")
    other = books.refund("k2", "ch_1", Decimal("1.00"), "EUR")
    assert first == again and other.amount == Decimal("1.00")
    assert [e.amount for e in books.entries()] == [Decimal("5.00"), Decimal("1.00")]


@pytest.mark.parametrize(
    ("status", "refund", "webhooks", "email"),
    [
        ("PARTIALLY_REFUNDED", True, ["ORDER_REFUNDED"], "refunded"),
        # A later change of a partly refunded order (a parcel scanned) announces no refund again.
        ("PARTIALLY_REFUNDED", False, [], None),
        ("REFUNDED", True, ["ORDER_REFUNDED"], "refunded"),
        # A cancellation's refund: the cancellation first, and its one email tells of the money.
        ("CANCELLED", True, ["ORDER_CANCELLED", "ORDER_REFUNDED"], "cancelled"),
        ("SHIPPED", False, ["ORDER_FULFILLED"], None),
    ],
)
def test_what_a_refund_announces(status, refund, webhooks, email):
    payload: dict[str, Any] = {"id": 1, "row": {"id": 1, "version": 3, "status": status}}
    if refund:
        payload["refund"] = {"id": 7, "amount": "5.00", "currency": "EUR", "cancel": status == "CANCELLED"}
    change = Change("order", payload, event_id=str(uuid.uuid4()))
    assert [event.value for event in webhooks_out.events_of(change)] == webhooks
    assert emails.email_kind(change) == email
