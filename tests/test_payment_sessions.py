"""Payment sessions, as a storefront uses them: checkoutPaymentInitialize for the cart's total, then
checkoutComplete(paymentId); 3-D Secure (test-card's tok_requires_action) ending with the
processor's signed webhook."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from models import Cart, Order, OrderEvent, OutboxEvent, Payment, PaymentStatus, Stock, WebhookEvent
from models.changes import Change
from resolvers import card_books, emails, payments, webhooks_out
from schema.ids import encode_id
from tests.test_checkout import CHECKOUT, PAID, make_variant, ready_cart
from tests.test_checkout_payments import card_ledger, entries_since

INITIALIZE = """mutation($t: ID!, $p: String!, $r: String, $k: String) {
  checkoutPaymentInitialize(cartToken: $t, provider: $p, returnUrl: $r, token: $k) {
    payment { id provider status amount currency clientSecret redirectUrl captured refunded events { type amount } }
    userErrors { field code message } } }"""
COMPLETE = """mutation($t: ID!, $id: ID, $p: PaymentInput, $k: String) {
  checkoutComplete(cartToken: $t, paymentId: $id, payment: $p, idempotencyKey: $k) {
    order { id token status total { amount } }
    payment { id status clientSecret redirectUrl captured }
    userErrors { field code message } } }"""
ORDER = """query($t: ID!) { order(token: $t) { status events { kind }
  payments { id provider status amount currency captured events { type amount at } } } }"""
ADD_LINE = """mutation($t: ID!, $v: ID!) { cartLinesAdd(cartToken: $t, lines: [{variantId: $v, quantity: 1}]) {
  userErrors { code } } }"""


def the_test_card() -> payments.TestCardPayment:
    card = payments.provider("test-card")
    assert isinstance(card, payments.TestCardPayment)
    return card


async def initialize(gql, token: str, card_token: str | None = "tok_visa", **more: Any) -> dict[str, Any]:
    variables = {"t": token, "p": "test-card", "k": card_token, **more}
    return dict((await gql.data(INITIALIZE, variables))["checkoutPaymentInitialize"])


async def complete(gql, token: str, payment_id: str | None, **more: Any) -> dict[str, Any]:
    return dict((await gql.data(COMPLETE, {"t": token, "id": payment_id, **more}))["checkoutComplete"])


async def send_webhook(client, webhook: payments.SignedWebhook, provider: str = "test-card") -> Any:
    return await client.post(f"/webhooks/payments/{provider}", content=webhook.body, headers=webhook.headers)


async def finish_3ds(client, order_token: str, succeed: bool = True) -> payments.SignedWebhook:
    """The shopper finishes 3-D Secure: the processor charges (or not) and signs its webhook."""
    payment = await Payment.get(order__token=order_token)
    assert payment.amount is not None
    return the_test_card().finish_action(payment.reference, payment.key, payment.amount, payment.currency, succeed)


async def announced(order: Order) -> list[Change]:
    """The order's committed changes, as the outbox hands them to its consumers."""
    rows = await OutboxEvent.filter(kind="order").order_by("id")
    return [
        Change(row.kind, row.payload, tuple(row.topics), event_id=str(row.event_id))
        for row in rows
        if row.payload.get("id") == order.id
    ]


async def paid_announcements(order: Order) -> tuple[int, int]:
    """How many ORDER_PAID webhooks and payment_received emails the order's changes call for."""
    changes = await announced(order)
    hooks = sum(WebhookEvent.ORDER_PAID in webhooks_out.events_of(c) for c in changes)
    letters = sum(emails.email_kind(c) == emails.PAYMENT_RECEIVED for c in changes)
    return hooks, letters


def charges_of(key: str) -> list[card_books.Entry]:
    return [e for e in card_ledger().entries() if e.key == key]


async def test_a_session_pays_for_the_carts_total(gql):
    variant = await make_variant()
    token = await ready_cart(gql, [(variant.sku, 2)])
    before = card_ledger().entries()

    opened = await initialize(gql, token, r="http://localhost:3000/checkout/done")
    assert opened["userErrors"] == []
    payment = opened["payment"]
    cart_total = (await gql.data("query($t: ID!) { cart(token: $t) { total { amount } } }", {"t": token}))["cart"]
    assert payment["status"] == "PENDING" and payment["amount"] == cart_total["total"]["amount"]
    assert payment["currency"] == "EUR" and payment["provider"] == "test-card" and payment["clientSecret"]
    assert payment["redirectUrl"] is None and payment["captured"] == "0.00"
    assert [e["type"] for e in payment["events"]] == ["INITIALIZED"]
    assert (await entries_since(before, token)) == []  # nothing charged before checkoutComplete

    done = await complete(gql, token, payment["id"])
    assert done["userErrors"] == [] and done["order"]["status"] == "PAID"
    assert done["payment"]["id"] == payment["id"] and done["payment"]["status"] == "CAPTURED"
    assert done["payment"]["captured"] == payment["amount"]
    row = await Payment.get(id=int(await _pk(payment["id"])))
    assert [(e.kind, e.amount, e.key) for e in (await entries_since(before, token))] == [
        ("CHARGE", row.amount, row.key)
    ]
    order = (await gql.data(ORDER, {"t": done["order"]["token"]}))["order"]
    assert [p["id"] for p in order["payments"]] == [payment["id"]]
    assert [e["type"] for e in order["payments"][0]["events"]] == ["INITIALIZED", "CAPTURED"]
    assert (await Stock.get(variant_id=variant.id, warehouse__code="central")).reserved == 2

    # Again with the same payment: the same order, nothing charged twice.
    again = await complete(gql, token, payment["id"])
    assert again["order"]["token"] == done["order"]["token"] and len(charges_of(row.key)) == 1


async def _pk(global_id: str) -> int:
    from schema.ids import decode_id_of

    return decode_id_of(global_id, "Payment")


async def test_3d_secure_waits_for_the_processors_webhook(gql, client):
    variant = await make_variant()
    token = await ready_cart(gql, [(variant.sku, 2)])
    payment = (await initialize(gql, token, "tok_requires_action"))["payment"]

    done = await complete(gql, token, payment["id"])
    assert done["userErrors"] == [] and done["order"]["status"] == "AWAITING_PAYMENT"
    assert done["payment"]["status"] == "ACTION_REQUIRED" and done["payment"]["clientSecret"]
    assert done["payment"]["clientSecret"] == payment["clientSecret"]
    order = await Order.get(token=done["order"]["token"])
    row = await Payment.get(order_id=order.id)
    assert row.expires_at is not None  # PAYMENT_TIMEOUT runs from here
    central = await Stock.get(variant_id=variant.id, warehouse__code="central")
    assert central.reserved == 2 and charges_of(row.key) == []

    webhook = await finish_3ds(client, order.token)
    response = await send_webhook(client, webhook)
    assert (response.status_code, response.json()["result"]) == (200, "applied")

    seen = (await gql.data(ORDER, {"t": order.token}))["order"]
    assert seen["status"] == "PAID" and [e["kind"] for e in seen["events"]] == ["PLACED", "PAID"]
    [shown] = seen["payments"]
    assert shown["status"] == "CAPTURED" and shown["captured"] == shown["amount"] == done["order"]["total"]["amount"]
    assert [e["type"] for e in shown["events"]] == ["INITIALIZED", "ACTION_REQUIRED", "CAPTURED"]
    assert (await Stock.get(id=central.id)).reserved == 2  # still reserved, now for a paid order
    assert [e.kind for e in charges_of(row.key)] == ["CHARGE"]
    assert (await paid_announcements(order)) == (1, 1)

    # The processor delivers it again: nothing changes.
    response = await send_webhook(client, webhook)
    assert (response.status_code, response.json()["result"]) == (200, "duplicate")
    assert await OrderEvent.filter(order_id=order.id, kind="PAID").count() == 1
    assert (await paid_announcements(order)) == (1, 1)
    assert [e.kind for e in charges_of(row.key)] == ["CHARGE"]
    assert (await Payment.get(id=row.id)).expires_at is None


async def test_the_one_step_form_waits_for_3d_secure_too(gql, client):
    variant = await make_variant()
    token = await ready_cart(gql, [(variant.sku, 1)])
    done = await complete(gql, token, None, p={"provider": "test-card", "token": "tok_requires_action"})
    assert done["order"]["status"] == "AWAITING_PAYMENT" and done["payment"]["status"] == "ACTION_REQUIRED"
    order = await Order.get(token=done["order"]["token"])
    assert (await send_webhook(client, await finish_3ds(client, order.token))).json()["result"] == "applied"
    assert (await Order.get(id=order.id)).status == "PAID"


async def test_a_cart_changed_since_the_payment_opened_cannot_complete_with_it(gql):
    variant, more = await make_variant(), await make_variant()
    token = await ready_cart(gql, [(variant.sku, 1)])
    payment = (await initialize(gql, token))["payment"]
    added = await gql.data(ADD_LINE, {"t": token, "v": encode_id("ProductVariant", more.id)})
    assert added["cartLinesAdd"]["userErrors"] == []
    before = card_ledger().entries()

    refused = await complete(gql, token, payment["id"])
    assert refused["order"] is None and refused["payment"] is None
    assert [(e["code"], e["field"]) for e in refused["userErrors"]] == [("PAYMENT_AMOUNT_MISMATCH", ["paymentId"])]
    # Nothing changed: no order, no charge, no reservation, the payment as it was.
    assert not await Order.filter(cart__token=token).exists()
    assert (await entries_since(before, token)) == [] and (await Cart.get(token=token)).completed_at is None
    for each in (variant, more):
        assert (await Stock.get(variant_id=each.id, warehouse__code="central")).reserved == 0
    row = await Payment.get(id=await _pk(payment["id"]))
    assert row.status == PaymentStatus.PENDING and row.order_id is None
    assert [e.type for e in await row.events.all()] == ["INITIALIZED"]

    # A new payment for the new total completes.
    fresh = (await initialize(gql, token))["payment"]
    assert Decimal(fresh["amount"]) > Decimal(payment["amount"])
    assert (await complete(gql, token, fresh["id"]))["order"]["status"] == "PAID"


async def test_a_payment_pays_only_for_its_own_cart_and_only_once(gql):
    variant = await make_variant()
    mine, theirs = await ready_cart(gql, [(variant.sku, 1)]), await ready_cart(gql, [(variant.sku, 1)])
    payment = (await initialize(gql, theirs))["payment"]

    refused = await complete(gql, mine, payment["id"])
    assert [(e["code"], e["field"]) for e in refused["userErrors"]] == [("PAYMENT_NOT_USABLE", ["paymentId"])]
    assert not await Order.filter(cart__token=mine).exists()

    assert (await complete(gql, theirs, payment["id"]))["order"]["status"] == "PAID"
    # Used: another cart of the same total cannot pay with it.
    other = await ready_cart(gql, [(variant.sku, 1)])
    assert [e["code"] for e in (await complete(gql, other, payment["id"]))["userErrors"]] == ["PAYMENT_NOT_USABLE"]
    # A declined one is ended too.
    declined = (await initialize(gql, other, "tok_decline"))["payment"]
    assert [e["code"] for e in (await complete(gql, other, declined["id"]))["userErrors"]] == ["PAYMENT_DECLINED"]
    assert [e["code"] for e in (await complete(gql, other, declined["id"]))["userErrors"]] == ["PAYMENT_NOT_USABLE"]
    assert (await Payment.get(id=await _pk(declined["id"]))).status == PaymentStatus.DECLINED


async def test_exactly_one_of_payment_and_payment_id(gql):
    variant = await make_variant()
    token = await ready_cart(gql, [(variant.sku, 1)])
    payment = (await initialize(gql, token))["payment"]
    for both_or_neither in ({"p": PAID, "id": payment["id"]}, {"id": None}):
        answer = (await gql.data(COMPLETE, {"t": token, **both_or_neither}))["checkoutComplete"]
        assert [(e["code"], e["field"]) for e in answer["userErrors"]] == [("INVALID", ["paymentId"])]
    assert not await Order.filter(cart__token=token).exists()
    assert (await gql.data(CHECKOUT, {"t": token, "p": PAID}))["checkoutComplete"]["order"]["status"] == "PAID"


async def test_what_checkout_would_refuse_is_refused_when_initializing(gql):
    variant = await make_variant()
    token = await ready_cart(gql, [(variant.sku, 1)])
    empty = (await gql.data("mutation { cartCreate { cart { token } } }"))["cartCreate"]["cart"]["token"]
    cases = [
        ({"t": "no-such-cart"}, ("NOT_FOUND", ["cartToken"])),
        ({"t": empty}, ("CART_EMPTY", ["cartToken"])),
        ({"t": token, "p": "no-such-provider"}, ("UNKNOWN_PAYMENT_PROVIDER", ["provider"])),
        ({"t": token, "r": "https://evil.example.com/steal"}, ("REDIRECT_URL_NOT_ALLOWED", ["returnUrl"])),
        ({"t": token, "r": "http://localhost:3000/" + "x" * 3000}, ("REDIRECT_URL_NOT_ALLOWED", ["returnUrl"])),
        ({"t": token, "k": "x" * 300}, ("TOO_LONG", ["token"])),
    ]
    for variables, error in cases:
        answer = (await gql.data(INITIALIZE, {"p": "test-card", **variables}))["checkoutPaymentInitialize"]
        assert answer["payment"] is None
        assert [(e["code"], e["field"]) for e in answer["userErrors"]] == [error], variables
    assert not await Payment.filter(cart_token__in=[token, empty]).exists()

    assert (await gql.data(CHECKOUT, {"t": token, "p": PAID}))["checkoutComplete"]["order"]
    completed = (await gql.data(INITIALIZE, {"t": token, "p": "test-card"}))["checkoutPaymentInitialize"]
    assert [e["code"] for e in completed["userErrors"]] == ["CART_COMPLETED"]


async def test_initializing_costs_a_fixed_handful_of_statements(gql, sql_counter):
    variant = await make_variant()
    token = await ready_cart(gql, [(variant.sku, 1)])
    sql_counter.statements.clear()
    assert (await initialize(gql, token))["userErrors"] == []
    # Read: the cart, its lines, their variants, the shipping method, the tax rate. Written: the
    # payment and its first event. Then the answer's `events` field reads them back, once.
    assert len(sql_counter.statements) == 8, "\n".join(s[:100] for s in sql_counter.statements)


async def test_a_payment_is_read_by_id_by_whoever_may_read_its_order(gql):
    variant = await make_variant()
    token = await ready_cart(gql, [(variant.sku, 1)])
    payment = (await initialize(gql, token))["payment"]
    node = "query($id: ID!) { node(id: $id) { ... on Payment { status } } }"
    assert (await gql.data(node, {"id": payment["id"]}))["node"] is None  # a guest's: its token grants it, not its ID


async def test_manual_payments_go_through_sessions_too(gql):
    variant = await make_variant()
    token = await ready_cart(gql, [(variant.sku, 1)])
    opened = (await gql.data(INITIALIZE, {"t": token, "p": "manual"}))["checkoutPaymentInitialize"]
    assert opened["userErrors"] == [] and opened["payment"]["status"] == "PENDING"
    assert opened["payment"]["clientSecret"] is None
    done = await complete(gql, token, opened["payment"]["id"])
    # Promised, not collected: staff mark it paid when the money arrives.
    assert done["order"]["status"] == "PLACED" and done["payment"]["status"] == "AUTHORIZED"
