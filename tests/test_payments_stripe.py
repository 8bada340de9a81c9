"""The Stripe provider against localstripe, a stateful Stripe-compatible server this suite starts:
PaymentIntents charged, authorized and captured, 3-D Secure passed and failed, cards declined,
refunds, give-backs in every state, and webhooks localstripe signed and sent, verified with the
SDK's own function."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal

import pytest
import stripe
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from models import Order, Payment
from models.payments import PaymentStatus
from resolvers.payments import GivenBack, WebhookRejected
from resolvers.payments_stripe import StripePayment, from_stripe, to_stripe
from testbed.servers import free_port
from tests.localstripe import API_KEY, LocalStripe

S = PaymentStatus
SECRET = "whsec_test_gateway_localstripe"
CARD = "4242424242424242"
THREE_D_SECURE = "4000002760003184"
DECLINED = "4000000000000341"  # attaches, then is declined when charged


@pytest.fixture
async def stripe_client(localstripe: LocalStripe) -> AsyncIterator[stripe.StripeClient]:
    """The test's own view of the server, to set up cards and read what the provider did."""
    http = stripe.HTTPXClient(timeout=10)
    yield stripe.StripeClient(API_KEY, base_addresses={"api": localstripe.url}, http_client=http)
    await http.close_async()


@asynccontextmanager
async def _provider(localstripe: LocalStripe, **options: object) -> AsyncIterator[StripePayment]:
    provider = StripePayment(API_KEY, SECRET, api_base=localstripe.url, **options)  # type: ignore[arg-type]
    try:
        yield provider
    finally:
        await provider.close()


@pytest.fixture
async def automatic(localstripe: LocalStripe) -> AsyncIterator[StripePayment]:
    async with _provider(localstripe) as provider:
        yield provider


@pytest.fixture
async def manual(localstripe: LocalStripe) -> AsyncIterator[StripePayment]:
    async with _provider(localstripe, capture="manual") as provider:
        yield provider


async def _card(client: stripe.StripeClient, number: str) -> str:
    method = await client.v1.payment_methods.create_async(
        params={"type": "card", "card": {"number": number, "exp_month": 12, "exp_year": 2030, "cvc": "123"}}
    )
    return method.id


_keys = iter(range(1, 1_000_000))


def _key() -> str:
    return f"test-{time.time_ns()}-{next(_keys)}"


async def _paid(provider: StripePayment, client: stripe.StripeClient, amount: str = "12.34", currency: str = "EUR"):
    """A payment initialized and confirmed with a good card."""
    key = _key()
    opened = await provider.initialize(Decimal(amount), currency, key, "", await _card(client, CARD))
    return key, await provider.confirm(opened.reference, Decimal(amount), currency, key, None)


async def test_a_card_is_charged_at_confirm_in_minor_units(automatic, stripe_client):
    key = _key()
    opened = await automatic.initialize(Decimal("12.34"), "EUR", key, "", await _card(stripe_client, CARD))
    assert (opened.status, opened.amount) == (S.PENDING, Decimal("12.34"))
    assert opened.reference.startswith("pi_") and opened.client_secret.startswith(opened.reference)
    intent = await stripe_client.v1.payment_intents.retrieve_async(opened.reference)
    assert (intent.amount, intent.currency, intent.capture_method) == (1234, "eur", "automatic")
    assert intent.metadata.to_dict() == {"gateway_key": key}

    paid = await automatic.confirm(opened.reference, Decimal("12.34"), "EUR", key, None)
    assert (paid.status, paid.reference, paid.amount, paid.message) == (
        S.CAPTURED,
        opened.reference,
        Decimal("12.34"),
        "",
    )
    assert (await stripe_client.v1.payment_intents.retrieve_async(opened.reference)).status == "succeeded"


async def test_a_zero_decimal_currency_is_sent_as_whole_units(automatic, stripe_client):
    _, paid = await _paid(automatic, stripe_client, "500", "JPY")
    assert (paid.status, paid.amount) == (S.CAPTURED, Decimal(500))
    intent = await stripe_client.v1.payment_intents.retrieve_async(paid.reference)
    assert (intent.amount, intent.currency) == (500, "jpy")


async def test_an_amount_the_currency_cannot_hold_is_refused_before_stripe_is_asked(automatic):
    with pytest.raises(ValueError, match="JPY"):
        await automatic.initialize(Decimal("500.5"), "JPY", _key(), "", None)


def test_stripes_own_exponents():
    assert to_stripe(Decimal("12.34"), "eur") == 1234 and to_stripe(Decimal("1.230"), "KWD") == 1230
    assert to_stripe(Decimal("100"), "ISK") == 10000  # Stripe sends the króna with two zero decimals
    assert from_stripe(10000, "ISK") == Decimal(100)
    assert to_stripe(Decimal("100"), "MGA") == 100  # and the ariary with none
    for amount, currency in (("1.5", "ISK"), ("1.50", "MGA")):
        with pytest.raises(ValueError):
            to_stripe(Decimal(amount), currency)


async def test_the_card_and_the_amount_can_come_at_confirm(automatic, stripe_client):
    key = _key()
    opened = await automatic.initialize(Decimal("10.00"), "EUR", key, "", None)
    assert opened.status is S.PENDING
    # The cart changed since the session opened; the shopper's card arrives with checkoutComplete.
    paid = await automatic.confirm(opened.reference, Decimal("11.50"), "EUR", key, await _card(stripe_client, CARD))
    assert (paid.status, paid.amount) == (S.CAPTURED, Decimal("11.50"))
    # int(): localstripe keeps an updated amount as the form's text
    assert int((await stripe_client.v1.payment_intents.retrieve_async(opened.reference)).amount) == 1150


async def test_confirm_without_a_card_says_the_payment_is_pending(automatic):
    key = _key()
    opened = await automatic.initialize(Decimal("10.00"), "EUR", key, "", None)
    waiting = await automatic.confirm(opened.reference, Decimal("10.00"), "EUR", key, None)
    assert (waiting.status, waiting.client_secret) == (S.PENDING, opened.client_secret)


async def test_manual_capture_authorizes_then_captures(manual, stripe_client):
    key, held = await _paid(manual, stripe_client)
    assert (held.status, held.amount) == (S.AUTHORIZED, Decimal("12.34"))
    assert (await stripe_client.v1.payment_intents.retrieve_async(held.reference)).status == "requires_capture"
    taken = await manual.capture(held.reference, Decimal("12.34"), "EUR", key)
    assert (taken.status, taken.amount) == (S.CAPTURED, Decimal("12.34"))
    assert (await stripe_client.v1.payment_intents.retrieve_async(held.reference)).status == "succeeded"


async def test_a_partial_capture_takes_less_and_gives_back_only_what_it_took(manual, stripe_client):
    key, held = await _paid(manual, stripe_client)
    taken = await manual.capture(held.reference, Decimal("10.00"), "EUR", key)
    assert (taken.status, taken.amount) == (S.CAPTURED, Decimal("10.00"))
    assert await manual.give_back(held.reference, key) == GivenBack(held.reference, Decimal("10.00"), "EUR")


async def test_three_d_secure_asks_the_shopper_then_confirm_reports_the_charge(automatic, stripe_client, localstripe):
    key = _key()
    opened = await automatic.initialize(Decimal("20.00"), "EUR", key, "", await _card(stripe_client, THREE_D_SECURE))
    asked = await automatic.confirm(opened.reference, Decimal("20.00"), "EUR", key, None)
    # No return URL: the storefront finishes it in the page with Stripe.js and the client secret.
    assert (asked.status, asked.client_secret, asked.redirect_url) == (S.ACTION_REQUIRED, opened.client_secret, "")
    assert (await automatic.confirm(opened.reference, Decimal("20.00"), "EUR", key, None)).status is S.ACTION_REQUIRED

    localstripe.authenticate(opened.reference, asked.client_secret, success=True)
    paid = await automatic.confirm(opened.reference, Decimal("20.00"), "EUR", key, None)
    assert (paid.status, paid.amount) == (S.CAPTURED, Decimal("20.00"))


async def test_failed_authentication_is_declined(automatic, stripe_client, localstripe):
    key = _key()
    opened = await automatic.initialize(Decimal("20.00"), "EUR", key, "", await _card(stripe_client, THREE_D_SECURE))
    asked = await automatic.confirm(opened.reference, Decimal("20.00"), "EUR", key, None)
    localstripe.authenticate(opened.reference, asked.client_secret, success=False)
    failed = await automatic.confirm(opened.reference, Decimal("20.00"), "EUR", key, None)
    assert failed.status is S.DECLINED and "authentication" in failed.message


async def test_a_declined_card_is_declined_with_stripes_message(automatic, stripe_client):
    key = _key()
    opened = await automatic.initialize(Decimal("12.34"), "EUR", key, "", await _card(stripe_client, DECLINED))
    declined = await automatic.confirm(opened.reference, Decimal("12.34"), "EUR", key, None)
    assert declined.status is S.DECLINED and "declined" in declined.message.lower()
    # Asked again (a retried checkout), it still says so, without charging anything.
    again = await automatic.confirm(opened.reference, Decimal("12.34"), "EUR", key, None)
    assert again.status is S.DECLINED and "declined" in again.message.lower()
    assert await automatic.give_back(opened.reference, key) == GivenBack()


async def test_the_return_url_travels_in_metadata_to_confirm(automatic, stripe_client):
    key = _key()
    url = "https://shop.example/checkout/return?cart=abc"
    opened = await automatic.initialize(Decimal("5.00"), "EUR", key, url, await _card(stripe_client, CARD))
    intent = await stripe_client.v1.payment_intents.retrieve_async(opened.reference)
    assert intent.metadata.to_dict() == {"gateway_key": key, "return_url": url}
    # Stripe takes return_url on confirm; localstripe does not implement it and refuses it by
    # name, which shows the provider sent it.
    with pytest.raises(stripe.InvalidRequestError, match="return_url"):
        await automatic.confirm(opened.reference, Decimal("5.00"), "EUR", key, None)

    too_long = "https://shop.example/" + "x" * 500
    opened = await automatic.initialize(Decimal("5.00"), "EUR", _key(), too_long, None)
    intent = await stripe_client.v1.payment_intents.retrieve_async(opened.reference)
    assert "return_url" not in intent.metadata.to_dict()  # more than Stripe's metadata holds


async def test_a_partial_refund_then_the_rest(automatic, stripe_client):
    key, paid = await _paid(automatic, stripe_client)
    first = await automatic.refund(paid.reference, Decimal("4.00"), "EUR", f"{key}-r1")
    rest = await automatic.refund(paid.reference, Decimal("8.34"), "EUR", f"{key}-r2")
    assert first.approved and rest.approved and first.reference != rest.reference
    refunds = await stripe_client.v1.refunds.list_async(params={"payment_intent": paid.reference})
    assert sorted(refund.amount for refund in refunds.data) == [400, 834]
    assert await automatic.give_back(paid.reference, key) == GivenBack()  # nothing left


async def test_a_refund_stripe_refuses_is_not_approved(automatic, stripe_client):
    key = _key()
    opened = await automatic.initialize(Decimal("12.34"), "EUR", key, "", await _card(stripe_client, DECLINED))
    await automatic.confirm(opened.reference, Decimal("12.34"), "EUR", key, None)
    refused = await automatic.refund(opened.reference, Decimal("1.00"), "EUR", f"{key}-r1")
    assert not refused.approved and "failed payment" in refused.message


async def test_give_back_cancels_a_payment_that_holds_nothing(automatic, stripe_client):
    key = _key()
    opened = await automatic.initialize(Decimal("12.34"), "EUR", key, "", await _card(stripe_client, CARD))
    assert await automatic.give_back(opened.reference, key) == GivenBack()
    assert (await stripe_client.v1.payment_intents.retrieve_async(opened.reference)).status == "canceled"
    assert await automatic.give_back(opened.reference, key) == GivenBack()
    cancelled = await automatic.confirm(opened.reference, Decimal("12.34"), "EUR", key, None)
    assert cancelled.status is S.CANCELLED


async def test_give_back_cancels_a_payment_waiting_for_the_shopper(automatic, stripe_client):
    key = _key()
    opened = await automatic.initialize(Decimal("20.00"), "EUR", key, "", await _card(stripe_client, THREE_D_SECURE))
    assert (await automatic.confirm(opened.reference, Decimal("20.00"), "EUR", key, None)).status is S.ACTION_REQUIRED
    assert await automatic.give_back(opened.reference, key) == GivenBack()
    assert (await stripe_client.v1.payment_intents.retrieve_async(opened.reference)).status == "canceled"


async def test_give_back_voids_an_authorization_once(manual, stripe_client):
    key, held = await _paid(manual, stripe_client)
    assert await manual.give_back(held.reference, key) == GivenBack(held.reference, Decimal("12.34"), "EUR")
    assert (await stripe_client.v1.payment_intents.retrieve_async(held.reference)).status == "canceled"
    assert await manual.give_back(held.reference, key) == GivenBack()


async def test_give_back_refunds_a_capture_once(automatic, stripe_client):
    key, paid = await _paid(automatic, stripe_client, "500", "JPY")
    assert await automatic.give_back(paid.reference, key) == GivenBack(paid.reference, Decimal(500), "JPY")
    assert await automatic.give_back(paid.reference, key) == GivenBack()
    refunds = await stripe_client.v1.refunds.list_async(params={"payment_intent": paid.reference})
    assert [refund.amount for refund in refunds.data] == [500]


async def test_give_back_refunds_what_partial_refunds_left(automatic, stripe_client):
    key, paid = await _paid(automatic, stripe_client)
    assert (await automatic.refund(paid.reference, Decimal("2.34"), "EUR", f"{key}-r1")).approved
    assert await automatic.give_back(paid.reference, key) == GivenBack(paid.reference, Decimal("10.00"), "EUR")
    assert await automatic.give_back(paid.reference, key) == GivenBack()


async def test_every_call_has_a_bound():
    """A server that accepts the connection and never answers: the call fails within its timeout."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        provider = StripePayment(
            API_KEY, api_base=f"http://127.0.0.1:{silent.getsockname()[1]}", timeout=0.5, retries=0
        )
        started = time.monotonic()
        with pytest.raises(stripe.APIConnectionError):
            await provider.initialize(Decimal("1.00"), "EUR", _key(), "", None)
        assert time.monotonic() - started < 5
        await provider.close()


def test_the_api_key_is_never_shown():
    provider = StripePayment("sk_test_do_not_print_me", capture="manual")
    assert "sk_test" not in repr(provider) and "sk_test" not in str(provider)
    with pytest.raises(ValueError, match="capture"):
        StripePayment(API_KEY, capture="later")  # type: ignore[arg-type]


class Receiver:
    """Where localstripe posts its webhooks: every request as it arrived, headers and raw body."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []

    async def handle(self, request: Request) -> Response:
        self.received.append((dict(request.headers), await request.body()))
        return Response(status_code=200)

    async def event(self, event_type: str, reference: str, seconds: float = 15) -> tuple[dict[str, str], bytes]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for headers, body in self.received:
                data = json.loads(body)
                if data["type"] == event_type and data["data"]["object"]["id"] == reference:
                    return headers, body
            await asyncio.sleep(0.05)
        raise AssertionError(f"no {event_type} for {reference} within {seconds}s: {len(self.received)} webhooks")


@pytest.fixture
async def receiver(localstripe: LocalStripe) -> AsyncIterator[Receiver]:
    endpoint = Receiver()
    port = free_port()
    app = Starlette(routes=[Route("/webhooks/payments/stripe", endpoint.handle, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "the webhook receiver did not start"
        await asyncio.sleep(0.01)
    localstripe.send_webhooks("gateway", f"http://127.0.0.1:{port}/webhooks/payments/stripe", SECRET)
    try:
        yield endpoint
    finally:
        server.should_exit = True
        await task


async def test_a_webhook_localstripe_signed_is_verified_and_mapped(receiver, automatic, stripe_client):
    _, paid = await _paid(automatic, stripe_client)
    headers, body = await receiver.event("payment_intent.succeeded", paid.reference)
    event = automatic.parse_webhook(body, headers)
    assert event.event_id == json.loads(body)["id"] and event.event_id.startswith("evt_")
    assert (event.type, event.reference, event.status) == ("payment_intent.succeeded", paid.reference, S.CAPTURED)
    assert (event.amount, event.currency) == (Decimal("12.34"), "EUR")
    # Header names in any case, as servers and proxies spell them.
    assert automatic.parse_webhook(body, {k.upper(): v for k, v in headers.items()}) == event


async def test_a_declined_payments_webhook_says_declined(receiver, automatic, stripe_client):
    key = _key()
    opened = await automatic.initialize(Decimal("3.00"), "EUR", key, "", await _card(stripe_client, DECLINED))
    await automatic.confirm(opened.reference, Decimal("3.00"), "EUR", key, None)
    headers, body = await receiver.event("payment_intent.payment_failed", opened.reference)
    event = automatic.parse_webhook(body, headers)
    assert (event.reference, event.status) == (opened.reference, S.DECLINED)


async def test_a_tampered_or_unsigned_webhook_is_rejected(receiver, automatic, stripe_client, localstripe):
    _, paid = await _paid(automatic, stripe_client)
    headers, body = await receiver.event("payment_intent.succeeded", paid.reference)
    tampered = body.replace(b'"amount": 1234', b'"amount": 1')
    assert tampered != body
    with pytest.raises(WebhookRejected):
        automatic.parse_webhook(tampered, headers)
    with pytest.raises(WebhookRejected):
        automatic.parse_webhook(body, {k: v for k, v in headers.items() if k.lower() != "stripe-signature"})
    async with _provider(localstripe) as other:
        other._webhook_secret = "whsec_another_endpoints_secret"
        with pytest.raises(WebhookRejected):
            other.parse_webhook(body, headers)
    unconfigured = StripePayment(API_KEY, api_base=localstripe.url)
    with pytest.raises(WebhookRejected):
        unconfigured.parse_webhook(body, headers)
    await unconfigured.close()


def _signed(payload: dict[str, object], secret: str = SECRET) -> tuple[bytes, dict[str, str]]:
    """A webhook signed as Stripe documents it (HMAC-SHA256 of `timestamp.body`), for event types
    localstripe does not send."""
    body = json.dumps(payload).encode()
    timestamp = int(time.time())
    signature = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return body, {"Stripe-Signature": f"t={timestamp},v1={signature}"}


def _stripe_event(event_type: str, obj: dict[str, object]) -> dict[str, object]:
    return {"id": "evt_1", "object": "event", "type": event_type, "data": {"object": obj}}


@pytest.mark.parametrize(
    "event_type,status,field",
    [
        ("payment_intent.amount_capturable_updated", S.AUTHORIZED, "amount_capturable"),
        ("payment_intent.canceled", S.CANCELLED, "amount"),
        ("payment_intent.requires_action", S.ACTION_REQUIRED, "amount"),
        ("payment_intent.created", None, "amount"),
    ],
)
def test_payment_intent_events(event_type, status, field):
    intent = {"id": "pi_1", "object": "payment_intent", "currency": "jpy", "amount": 900, field: 700}
    body, headers = _signed(_stripe_event(event_type, intent))
    event = StripePayment(API_KEY, SECRET).parse_webhook(body, headers)
    assert (event.event_id, event.reference, event.status) == ("evt_1", "pi_1", status)
    assert (event.amount, event.currency) == (Decimal(700), "JPY")


def test_a_refund_webhook_carries_the_refunded_total_and_no_status():
    charge = {"id": "ch_1", "object": "charge", "payment_intent": "pi_1", "currency": "eur", "amount": 1234}
    body, headers = _signed(_stripe_event("charge.refunded", charge | {"amount_refunded": 534}))
    event = StripePayment(API_KEY, SECRET).parse_webhook(body, headers)
    assert (event.type, event.reference, event.status, event.amount, event.currency) == (
        "charge.refunded",
        "pi_1",
        None,
        Decimal("5.34"),
        "EUR",
    )


def test_a_signed_body_that_is_not_json_is_a_value_error():
    body = b"not json"
    timestamp = int(time.time())
    signature = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    with pytest.raises(ValueError):
        StripePayment(API_KEY, SECRET).parse_webhook(body, {"stripe-signature": f"t={timestamp},v1={signature}"})


async def _checkout(gql, localstripe: LocalStripe, stripe_client, number: str, capture: str = "automatic"):
    """checkoutComplete as a storefront calls it, with a payment method Stripe.js created from the
    card `number`; the payload and the payment method."""
    from resolvers import payments
    from tests.test_checkout import CHECKOUT, make_variant, ready_cart

    before = dict(payments.PROVIDERS)
    async with _provider(localstripe, capture=capture) as provider:
        payments.install(provider)
        try:
            variant = await make_variant()
            token = await ready_cart(gql, [(variant.sku, 2)])
            method = await _card(stripe_client, number)
            body = await gql.post(CHECKOUT, {"t": token, "p": {"provider": "stripe", "token": method}})
        finally:
            payments.PROVIDERS.clear()
            payments.PROVIDERS.update(before)
    return body["data"]["checkoutComplete"], method


@pytest.mark.parametrize(
    "number,capture,order_status,payment_status,intent_status",
    [
        (CARD, "automatic", "PAID", S.CAPTURED, "succeeded"),
        (CARD, "manual", "PLACED", S.AUTHORIZED, "requires_capture"),
        (THREE_D_SECURE, "automatic", "AWAITING_PAYMENT", S.ACTION_REQUIRED, "requires_action"),
    ],
)
async def test_checkout_complete_pays_through_stripe(
    gql, db, localstripe, stripe_client, number, capture, order_status, payment_status, intent_status
):
    result, method = await _checkout(gql, localstripe, stripe_client, number, capture)
    assert result["userErrors"] == [] and result["order"]["status"] == order_status, result
    order = await Order.get(token=result["order"]["token"])
    payment = await Payment.get(order_id=order.id)
    assert (payment.provider, payment.status) == ("stripe", payment_status)
    intent = await stripe_client.v1.payment_intents.retrieve_async(payment.reference)
    assert (intent.status, intent.payment_method) == (intent_status, method)
    assert from_stripe(int(intent.amount), intent.currency) == Decimal(result["order"]["total"]["amount"])


async def test_checkout_complete_with_a_declined_card_places_no_order(gql, db, localstripe, stripe_client):
    result, _ = await _checkout(gql, localstripe, stripe_client, DECLINED)
    assert result["order"] is None
    assert [(e["code"], "declined" in e["message"].lower()) for e in result["userErrors"]] == [
        ("PAYMENT_DECLINED", True)
    ]


def test_the_app_installs_stripe_only_when_keyed(localstripe, tmp_path):
    from gateway.app import create_app
    from gateway.settings import load_settings
    from resolvers import payments

    before = dict(payments.PROVIDERS)
    ledger = str(tmp_path / "ledger.jsonl")
    try:
        payments.PROVIDERS.pop("stripe", None)
        create_app(load_settings({"TEST_CARD_LEDGER": ledger}))
        assert payments.provider("stripe") is None
        env = {"STRIPE_API_KEY": API_KEY, "STRIPE_API_BASE": localstripe.url, "STRIPE_CAPTURE": "manual"}
        create_app(load_settings({**env, "TEST_CARD_LEDGER": ledger}))
        installed = payments.provider("stripe")
        assert isinstance(installed, StripePayment) and installed.capture_method == "manual"
    finally:
        payments.PROVIDERS.clear()
        payments.PROVIDERS.update(before)
