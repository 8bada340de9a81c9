"""Stripe end to end: the served gateway (uvicorn, 2 workers, PostgreSQL) opens a PaymentIntent on
localstripe, the shopper passes 3-D Secure there, and the webhook localstripe signs and sends to
`POST /webhooks/payments/stripe` pays the order: once, however often it comes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import stripe

from models import Order, OrderEvent, Payment, PaymentEvent
from tests.live import uvicorn_workers
from tests.localstripe import API_KEY, LocalStripe
from tests.test_checkout_workers import _ready_cart, _variant_with
from tests.test_payment_sessions import COMPLETE, INITIALIZE

pytestmark = pytest.mark.slow  # real uvicorn workers: `make test-fast` skips them

SECRET = "whsec_test_gateway_served"
THREE_D_SECURE = "4000002760003184"


@pytest.fixture
async def gateway(db: Any, localstripe: LocalStripe, tmp_path: Any) -> AsyncIterator[httpx.AsyncClient]:
    if db.name != "postgres":
        pytest.skip("served with 2 worker processes: PostgreSQL")
    env = {
        "DATABASE_URL": db.url,
        "TEST_CARD_LEDGER": str(tmp_path / "ledger.jsonl"),
        "STRIPE_API_KEY": API_KEY,
        "STRIPE_WEBHOOK_SECRET": SECRET,
        "STRIPE_API_BASE": localstripe.url,
    }
    async with uvicorn_workers(env) as (base, _), httpx.AsyncClient(base_url=base, timeout=30) as client:
        localstripe.send_webhooks("gateway", f"{base}/webhooks/payments/stripe", SECRET)
        yield client


async def _graphql(client: httpx.AsyncClient, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    body = (await client.post("/graphql", json={"query": query, "variables": variables})).json()
    assert not body.get("errors"), body
    return dict(next(iter(body["data"].values())))


async def test_three_d_secure_ends_with_stripes_webhook_paying_the_order_once(gateway, localstripe):
    shop = stripe.StripeClient(API_KEY, base_addresses={"api": localstripe.url})
    card = await shop.v1.payment_methods.create_async(
        params={"type": "card", "card": {"number": THREE_D_SECURE, "exp_month": 12, "exp_year": 2030, "cvc": "123"}}
    )
    token = await _ready_cart([await _variant_with(3)])
    opened = await _graphql(gateway, INITIALIZE, {"t": token, "p": "stripe", "k": card.id})
    assert opened["userErrors"] == [] and opened["payment"]["clientSecret"].startswith("pi_"), opened
    done = await _graphql(gateway, COMPLETE, {"t": token, "id": opened["payment"]["id"]})
    assert done["userErrors"] == [], done
    assert (done["order"]["status"], done["payment"]["status"]) == ("AWAITING_PAYMENT", "ACTION_REQUIRED")
    order = await Order.get(token=done["order"]["token"])
    payment = await Payment.get(order_id=order.id)

    # The shopper passes 3-D Secure in Stripe's page; Stripe charges and sends payment_intent.succeeded.
    localstripe.authenticate(payment.reference, done["payment"]["clientSecret"], success=True)
    for _ in range(200):
        order = await Order.get(id=order.id)
        if order.status == "PAID":
            break
        await asyncio.sleep(0.05)
    assert order.status == "PAID" and order.paid_at is not None
    payment = await Payment.get(id=payment.id)
    assert (payment.status, payment.captured) == ("CAPTURED", order.total)
    intent = await shop.v1.payment_intents.retrieve_async(payment.reference)
    assert intent.status == "succeeded"
    # Stripe's own event, kept once under its id beside what the gateway did itself.
    received = await PaymentEvent.filter(payment_id=payment.id, provider_event_id__isnull=False)
    assert [(e.type, e.provider_event_id[:4]) for e in received if e.type == "CAPTURED"] == [("CAPTURED", "evt_")]
    assert await OrderEvent.filter(order_id=order.id, kind="PAID").count() == 1
