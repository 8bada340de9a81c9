"""Payment webhooks settle exactly once, proven against a real server: uvicorn with 2 worker
processes on PostgreSQL, the test-card processor's books shared with this test through a file.

Each proof ends with the same count: one charge in the processor's books, one PAID transition of
the order, one ORDER_PAID delivery per webhook subscription and one payment_received email (both
planned from the order's committed changes by the real outbox consumers, twice, as an
at-least-once delivery would), and every payment event kept.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest

from models import Order, OrderEvent, Payment, PaymentEvent, SentEmail, WebhookDelivery, WebhookSubscription
from resolvers import emails, payments, webhooks_out
from resolvers.card_books import CardBooks
from tests.conftest import ROOT
from tests.live import uvicorn_workers
from tests.test_checkout_workers import _ready_cart, _variant_with
from tests.test_payment_sessions import COMPLETE, INITIALIZE, announced

pytestmark = pytest.mark.slow  # real uvicorn workers: `make test-fast` skips them

SECRET = "whsec_test_card_workers_" + uuid.uuid4().hex


@dataclass
class Served:
    client: httpx.AsyncClient
    card: payments.TestCardPayment  # the processor, as this test plays it: the servers' books and secret
    database_url: str
    subscription: WebhookSubscription
    base: str
    env: dict[str, str]


@pytest.fixture
async def served(db: Any, tmp_path: Any) -> AsyncIterator[Served]:
    if db.name != "postgres":
        pytest.skip("SQLite serializes every transaction: concurrency is proven on PostgreSQL")
    ledger = tmp_path / "test-card-ledger.jsonl"
    # Subscribed before any order: it hears of every change below.
    subscription = await WebhookSubscription.create(
        url="https://hooks.example.com/paid", events=["ORDER_PAID"], secret=webhooks_out.generate_secret()
    )
    env = {
        "DATABASE_URL": db.url,
        "TEST_CARD_LEDGER": str(ledger),
        "TEST_CARD_WEBHOOK_SECRET": SECRET,
        # The proofs hold locks for a moment on purpose: well within this.
        "DATABASE_STATEMENT_TIMEOUT": "30",
    }
    try:
        async with (
            uvicorn_workers(env) as (base, _),
            httpx.AsyncClient(base_url=base, timeout=60, limits=httpx.Limits(max_connections=50)) as client,
        ):
            card = payments.TestCardPayment(CardBooks(ledger), SECRET)
            yield Served(client, card, db.url, subscription, base, env)
    finally:
        await WebhookSubscription.filter(id=subscription.id).delete()


async def _graphql(client: httpx.AsyncClient, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body.get("errors"), body
    return dict(body["data"])


async def _opened(served: Served) -> tuple[str, dict[str, Any]]:
    """A checkout-ready cart and a payment session for it that will need 3-D Secure."""
    token = await _ready_cart([await _variant_with(5)])
    variables = {"t": token, "p": "test-card", "k": "tok_requires_action"}
    opened = (await _graphql(served.client, INITIALIZE, variables))["checkoutPaymentInitialize"]
    assert opened["userErrors"] == [], opened
    return token, opened["payment"]


async def _complete(served: Served, token: str, payment_id: str) -> dict[str, Any]:
    done = (await _graphql(served.client, COMPLETE, {"t": token, "id": payment_id}))["checkoutComplete"]
    assert done["userErrors"] == [], done
    return dict(done)


async def _awaiting(served: Served) -> Order:
    token, payment = await _opened(served)
    done = await _complete(served, token, payment["id"])
    assert done["order"]["status"] == "AWAITING_PAYMENT" and done["payment"]["status"] == "ACTION_REQUIRED"
    return await Order.get(token=done["order"]["token"])


async def _finished(served: Served, payment: Payment, succeed: bool = True) -> payments.SignedWebhook:
    assert payment.amount is not None
    return served.card.finish_action(payment.reference, payment.key, payment.amount, payment.currency, succeed)


async def _deliver(served: Served, webhook: payments.SignedWebhook) -> str:
    response = await served.client.post("/webhooks/payments/test-card", content=webhook.body, headers=webhook.headers)
    assert response.status_code == 200, response.text
    return str(response.json()["result"])


async def _assert_paid_once(served: Served, order: Order, payment_events: list[str]) -> None:
    order = await Order.get(id=order.id)
    assert order.status == "PAID" and order.paid_at is not None
    payment = await Payment.get(order_id=order.id)
    assert payment.status == "CAPTURED" and payment.captured == payment.amount == order.total
    charges = [e for e in served.card.books.entries() if e.key == payment.key]
    assert [(e.kind, e.amount) for e in charges] == [("CHARGE", order.total)]
    assert await OrderEvent.filter(order_id=order.id, kind="PAID").count() == 1
    assert [e.type for e in await PaymentEvent.filter(payment_id=payment.id).order_by("id")] == payment_events
    # What the order's committed changes call for, planned by the real consumers, twice over.
    changes = await announced(order)
    mailer = emails.Emails(send=None, sender="shop@example.com")  # type: ignore[arg-type]  # composes only
    for _ in range(2):
        await webhooks_out.plan(changes)
        await mailer.plan(changes)
    event_ids = [uuid.UUID(c.event_id) for c in changes]
    deliveries = await WebhookDelivery.filter(subscription_id=served.subscription.id, event_id__in=event_ids)
    assert [d.event_type for d in deliveries] == ["ORDER_PAID"]
    assert await SentEmail.filter(order_id=order.id, kind=emails.PAYMENT_RECEIVED).count() == 1


async def _waiting_on_lock(database_url: str, table: str, count: int = 1) -> None:
    """Until `count` statements on `table` wait for a row lock (another transaction holds it)."""
    conn = await asyncpg.connect(database_url.replace("postgres://", "postgresql://", 1))
    try:
        for _ in range(300):
            waiting = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND query LIKE $1",
                f'%"{table}"%',
            )
            if waiting >= count:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"nothing waited for a lock on {table}")
    finally:
        await conn.close()


async def test_a_success_arriving_before_checkout_complete_commits(served):
    """3-D Secure finished so fast that the processor's webhook comes while checkoutComplete is
    still inside its transaction: the checkout has confirmed (ACTION_REQUIRED) and waits, here, for
    the order counter, which this test holds locked; the webhook then waits for the payment's row,
    which the checkout holds. Released, the checkout commits AWAITING_PAYMENT, and the webhook,
    finding the payment ordered meanwhile, starts again with the order's lock and pays it."""
    token, opened = await _opened(served)
    row = await Payment.get(cart_token=token)
    holder = await asyncpg.connect(served.database_url.replace("postgres://", "postgresql://", 1))
    try:
        transaction = holder.transaction()
        await transaction.start()
        await holder.execute("SELECT * FROM order_counter WHERE id = 1 FOR UPDATE")
        checkout = asyncio.create_task(_complete(served, token, opened["id"]))
        await _waiting_on_lock(served.database_url, "order_counter")
        # The shopper finished 3-D Secure: the processor charged and sends its webhook.
        webhook = await _finished(served, row)
        delivery = asyncio.create_task(_deliver(served, webhook))
        await _waiting_on_lock(served.database_url, "payment")
        assert not checkout.done() and not delivery.done()
        await transaction.rollback()
    finally:
        await holder.close()
    done, result = await checkout, await delivery

    assert done["order"]["status"] == "AWAITING_PAYMENT" and done["payment"]["status"] == "ACTION_REQUIRED"
    assert result == "applied"
    order = await Order.get(token=done["order"]["token"])
    await _assert_paid_once(served, order, ["INITIALIZED", "ACTION_REQUIRED", "CAPTURED"])
    # Delivered again later: a duplicate.
    assert await _deliver(served, webhook) == "duplicate"
    await _assert_paid_once(served, order, ["INITIALIZED", "ACTION_REQUIRED", "CAPTURED"])


async def test_the_same_webhook_delivered_20_times_at_once(served):
    order = await _awaiting(served)
    webhook = await _finished(served, await Payment.get(order_id=order.id))

    results = await asyncio.gather(*(_deliver(served, webhook) for _ in range(20)))

    assert sorted(results) == ["applied"] + ["duplicate"] * 19
    await _assert_paid_once(served, order, ["INITIALIZED", "ACTION_REQUIRED", "CAPTURED"])


async def test_a_failure_after_a_success(served):
    order = await _awaiting(served)
    payment = await Payment.get(order_id=order.id)
    succeeded, failed = await _finished(served, payment), await _finished(served, payment, succeed=False)
    assert await _deliver(served, succeeded) == "applied"

    # The failure, and both again, delivered at once many times: each applied once, in any order.
    results = await asyncio.gather(*(_deliver(served, w) for w in [failed, succeeded] * 5))

    assert sorted(results) == ["applied"] + ["duplicate"] * 9
    await _assert_paid_once(served, order, ["INITIALIZED", "ACTION_REQUIRED", "CAPTURED", "DECLINED"])
    assert (await Order.get(id=order.id)).status == "PAID"


async def test_a_developer_finishes_3d_secure_from_the_command_line(served):
    """`python -m gateway test-card-webhook REFERENCE`: what `make run` users do instead of a bank's page."""
    order = await _awaiting(served)
    payment = await Payment.get(order_id=order.id)

    def command(*more: str) -> subprocess.CompletedProcess[str]:
        url = f"{served.base}/webhooks/payments/test-card"
        return subprocess.run(
            [sys.executable, "-m", "gateway", "test-card-webhook", *more, "--url", url],
            cwd=ROOT,
            env={**os.environ, **served.env},
            capture_output=True,
            text=True,
            timeout=60,
        )

    done = await asyncio.to_thread(command, payment.client_secret)  # what the client was given
    assert done.returncode == 0 and '"result":"applied"' in done.stdout, done.stderr
    await _assert_paid_once(served, order, ["INITIALIZED", "ACTION_REQUIRED", "CAPTURED"])
    failed = await asyncio.to_thread(command, payment.reference, "--fail")  # too late: kept as an event only
    assert failed.returncode == 0 and '"result":"applied"' in failed.stdout, failed.stderr
    await _assert_paid_once(served, order, ["INITIALIZED", "ACTION_REQUIRED", "CAPTURED", "DECLINED"])
    unknown = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "gateway", "test-card-webhook", "test_nobody"],
        cwd=ROOT,
        env={**os.environ, **served.env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert unknown.returncode == 2 and "no test-card payment" in unknown.stderr
