"""Outgoing webhooks: subscriptions through the API (MANAGE_APPS only, public https targets only),
an order placed through the API reaching a real endpoint signed per Standard Webhooks (verified with
the `standardwebhooks` library), once per event id however often the outbox hands it over; 5xx
tried again, 410 Gone pausing the subscription."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from procrastinate.job_context import JobContext
from procrastinate.jobs import Job
from standardwebhooks.webhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.app import create_app
from gateway.jobs import WEBHOOK_RETRY, WEBHOOK_SEND, WEBHOOKS_CONSUMER
from gateway.settings import load_settings
from models import OutboxEvent, Permission, WebhookAttempt, WebhookDelivery, WebhookSubscription
from resolvers import outbox, webhooks_out
from tests.conftest import GraphQLClient
from tests.live import serve_in_loop
from tests.staff import bearer, token_for
from tests.test_checkout import CHECKOUT, PAID, make_variant, ready_cart

CREATE = """mutation($u: String!, $e: [WebhookEvent!]!, $s: String) {
  webhookSubscriptionCreate(url: $u, events: $e, secret: $s) {
    subscription { id url events active } secret userErrors { field code message } } }"""
UPDATE = """mutation($id: ID!, $a: Boolean) { webhookSubscriptionUpdate(id: $id, active: $a) {
  subscription { active } userErrors { code } } }"""
DELETE = "mutation($id: ID!) { webhookSubscriptionDelete(id: $id) { deletedId userErrors { code } } }"

DELIVERIES = """query($s: ID!, $st: WebhookDeliveryStatus) { webhookDeliveries(subscription: $s, status: $st) {
  edges { node { id eventId eventType status attempts { statusCode durationMs response createdAt } } } } }"""
REDELIVER = """mutation($d: ID!) { webhookRedeliver(deliveryId: $d) {
  delivery { status } userErrors { code } } }"""


async def _deliveries(client: httpx.AsyncClient, subscription: str, status: str | None = None) -> list[Any]:
    token = await token_for(Permission.MANAGE_APPS)
    variables = {"s": subscription, "st": status}
    body = (
        await client.post("/graphql", json={"query": DELIVERIES, "variables": variables}, headers=bearer(token))
    ).json()
    assert not body.get("errors"), body
    return [edge["node"] for edge in body["data"]["webhookDeliveries"]["edges"]]


class Receiver:
    """An endpoint on a free port of this host: what it was sent, and what it answers (in turn)."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.answers: list[int] = []
        self.url = ""
        self.taken = 0  # deliveries a test has taken with `next`

    async def next(self, seconds: float = 30) -> tuple[dict[str, str], bytes]:
        """The first delivery the test has not taken yet, once it has arrived (it may have already)."""
        self.taken += 1
        await self.wait(self.taken, seconds)
        return self.received[self.taken - 1]

    async def handle(self, request: Request) -> Response:
        self.received.append((dict(request.headers), await request.body()))
        return Response("thanks", status_code=self.answers.pop(0) if self.answers else 200)

    async def wait(self, count: int, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while len(self.received) < count:
            assert time.monotonic() < deadline, f"{len(self.received)} of {count} deliveries arrived"
            await asyncio.sleep(0.05)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    endpoint = Receiver()
    async with serve_in_loop(Starlette(routes=[Route("/hook", endpoint.handle, methods=["POST"])])) as ws_url:
        endpoint.url = ws_url.replace("ws://", "http://").replace("/graphql", "/hook")
        yield endpoint


@pytest.fixture
async def served(db: Any, tmp_path: Any) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    """The gateway with its job engine running in this process (on PostgreSQL too, so the test
    needs no worker process), and WEBHOOK_ALLOW_PRIVATE_TARGETS=1 for the local receiver."""
    settings = load_settings(
        {
            "DATABASE_URL": db.url,
            "LOG_LEVEL": "WARNING",
            "RATE_LIMIT_PER_SECOND": "0",
            "TEST_CARD_LEDGER": str(tmp_path / "ledger.jsonl"),
            "WEBHOOK_ALLOW_PRIVATE_TARGETS": "1",
        }
    )
    app = create_app(settings)
    jobs = app.state.jobs
    await app.state.events.start()
    await jobs.start()
    if not jobs.in_process:
        for name, consumer in jobs.consumers.items():
            outbox.register(name, consumer)
        jobs.start_worker()
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
            yield client, app
    finally:
        await jobs.stop()
        for name in jobs.consumers:
            outbox.unregister(name)
        await app.state.events.close()
        await WebhookSubscription.all().delete()


async def _subscribe(client: httpx.AsyncClient, url: str, events: list[str], **more: Any) -> dict[str, Any]:
    token = await token_for(Permission.MANAGE_APPS)
    body = (
        await client.post(
            "/graphql", json={"query": CREATE, "variables": {"u": url, "e": events, **more}}, headers=bearer(token)
        )
    ).json()
    assert not body.get("errors"), body
    return dict(body["data"]["webhookSubscriptionCreate"])


async def test_a_placed_order_reaches_the_endpoint_signed_and_once_per_event(db, served, receiver):
    client, _ = served
    gql = GraphQLClient(client)
    variant = await make_variant()
    before = await OutboxEvent.all().order_by("-id").first()
    earlier = await ready_cart(gql, [(variant.sku, 1)])
    assert (await gql.data(CHECKOUT, {"t": earlier, "p": PAID}))["checkoutComplete"]["order"]
    # By name: the attempt connects to the address checked, with the name in the Host header.
    by_name = receiver.url.replace("127.0.0.1", "localhost")
    created = await _subscribe(client, by_name, ["ORDER_PLACED"])
    assert created["userErrors"] == [] and created["subscription"]["url"] == by_name, created
    secret = created["secret"]
    assert secret.startswith("whsec_")

    since = await OutboxEvent.all().order_by("-id").first()
    cart = await ready_cart(gql, [(variant.sku, 1)])
    order = (await gql.data(CHECKOUT, {"t": cart, "p": PAID}))["checkoutComplete"]["order"]
    await receiver.wait(1)

    headers, body = receiver.received[0]
    assert headers["host"] == by_name.split("/")[2]
    payload = Webhook(secret).verify(body, headers)  # raises unless the signature and timestamp hold
    assert payload["type"] == "ORDER_PLACED"
    assert payload["data"]["object"]["number"] == order["number"]
    events = await OutboxEvent.filter(id__gt=since.id if since else 0, kind="order")
    assert payload["id"] in {str(event.event_id) for event in events}
    assert headers["webhook-id"] == f"msg_{payload['id']}"
    with pytest.raises(Exception, match="signature"):
        Webhook(webhooks_out.generate_secret()).verify(body, headers)  # another secret: refused

    # The outbox hands the same event over again (a retried job, a redelivery): no second delivery;
    # and the order placed before the subscription existed, delivered late, is not sent to it.
    await OutboxEvent.filter(id__gt=before.id if before else 0).update(delivered_at=None)
    assert await outbox.redeliver(timedelta(0))
    await asyncio.sleep(1.5)
    assert len(receiver.received) == 1
    listed = await _deliveries(client, created["subscription"]["id"])
    assert [(d["eventId"], d["eventType"], d["status"]) for d in listed] == [
        (payload["id"], "ORDER_PLACED", "SUCCEEDED")
    ]
    assert [(a["statusCode"], a["response"]) for a in listed[0]["attempts"]] == [(200, "thanks")]
    assert listed[0]["attempts"][0]["durationMs"] >= 0

    # An operator sends it again: the same webhook-id (receivers drop repeats), a second attempt.
    token = await token_for(Permission.MANAGE_APPS)
    again = (
        await client.post(
            "/graphql", json={"query": REDELIVER, "variables": {"d": listed[0]["id"]}}, headers=bearer(token)
        )
    ).json()
    assert again["data"]["webhookRedeliver"]["userErrors"] == [], again
    assert again["data"]["webhookRedeliver"]["delivery"]["status"] == "PENDING"
    await receiver.wait(2)
    assert receiver.received[1][0]["webhook-id"] == headers["webhook-id"]
    assert Webhook(secret).verify(receiver.received[1][1], receiver.received[1][0])["id"] == payload["id"]
    deadline = time.monotonic() + 10
    while len((listed := await _deliveries(client, created["subscription"]["id"]))[0]["attempts"]) < 2:
        assert time.monotonic() < deadline, listed
        await asyncio.sleep(0.05)
    assert listed[0]["status"] == "SUCCEEDED"


async def _subscribed(
    client: httpx.AsyncClient, url: str, event: str, event_id: str, **more: Any
) -> tuple[dict[str, Any], WebhookSubscription, WebhookDelivery]:
    """A subscription through the API, and a delivery of one event to it, written directly."""
    created = await _subscribe(client, url, [event])
    subscription = await WebhookSubscription.get(url=url)
    delivery = await WebhookDelivery.create(
        subscription=subscription,
        event_id=event_id,
        event_type=event,
        payload={"id": event_id, "type": event, "data": {}},
        **more,
    )
    return created, subscription, delivery


async def test_an_endpoint_answering_5xx_is_tried_again_and_410_pauses_it(db, served, receiver):
    client, _ = served
    event_id = "6f1c3c1e-0000-4000-8000-000000000001"
    created, subscription, delivery = await _subscribed(client, receiver.url, "SHIPMENT_CREATED", event_id)
    receiver.answers = [503, 410]
    with pytest.raises(webhooks_out.TryAgain, match="503"):
        await webhooks_out.send(delivery.id, allow_private=True)
    assert await webhooks_out.send(delivery.id, allow_private=True) == "FAILED"
    assert len(receiver.received) == 2
    refreshed = await WebhookSubscription.get(id=subscription.id)
    assert refreshed.active is False and "410" in refreshed.disabled_reason
    stored = await WebhookDelivery.get(id=delivery.id)
    assert (stored.status, stored.attempts) == ("FAILED", 2)
    attempts = await WebhookAttempt.filter(delivery_id=delivery.id).order_by("id")
    assert [(a.status_code, a.response) for a in attempts] == [(503, "thanks"), (410, "thanks")]
    listed = await _deliveries(client, created["subscription"]["id"], "FAILED")
    assert [[a["statusCode"] for a in d["attempts"]] for d in listed] == [[503, 410]]
    assert await _deliveries(client, created["subscription"]["id"], "SUCCEEDED") == []
    token = await token_for(Permission.MANAGE_APPS)
    sid = created["subscription"]["id"]
    resumed = (
        await client.post(
            "/graphql", json={"query": UPDATE, "variables": {"id": sid, "a": True}}, headers=bearer(token)
        )
    ).json()
    assert resumed["data"]["webhookSubscriptionUpdate"] == {"subscription": {"active": True}, "userErrors": []}
    deleted = (
        await client.post("/graphql", json={"query": DELETE, "variables": {"id": sid}}, headers=bearer(token))
    ).json()
    assert deleted["data"]["webhookSubscriptionDelete"] == {"deletedId": sid, "userErrors": []}
    assert not await WebhookDelivery.filter(id=delivery.id).exists()


async def test_only_staff_with_manage_apps_may_subscribe(client):
    variables = {"u": "https://example.com/hook", "e": ["ORDER_PLACED"]}
    for headers, code in (
        ({}, "UNAUTHENTICATED"),
        (bearer(await token_for(Permission.MANAGE_ORDERS)), "FORBIDDEN"),
        (bearer(await token_for(staff=False)), "FORBIDDEN"),
    ):
        body = (await client.post("/graphql", json={"query": CREATE, "variables": variables}, headers=headers)).json()
        assert [e["extensions"]["code"] for e in body["errors"]] == [code], body
        assert body["data"] is None or body["data"]["webhookSubscriptionCreate"] is None


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/hook",  # not https
        "https://127.0.0.1/hook",  # loopback
        "https://localhost:8443/hook",  # loopback, after DNS resolution
        "https://10.1.2.3/hook",  # private
        "https://169.254.169.254/latest/meta-data",  # link-local: the cloud metadata service
        "https://[::1]/hook",  # IPv6 loopback
    ],
)
async def test_private_and_plain_http_targets_are_refused_without_the_setting(client, url):
    token = await token_for(Permission.MANAGE_APPS)
    body = (
        await client.post(
            "/graphql", json={"query": CREATE, "variables": {"u": url, "e": ["ORDER_PAID"]}}, headers=bearer(token)
        )
    ).json()
    result = body["data"]["webhookSubscriptionCreate"]
    assert result["subscription"] is None and result["secret"] is None, body
    assert [(e["field"], e["code"]) for e in result["userErrors"]] == [(["url"], "INVALID")], body
    assert not await WebhookSubscription.filter(url=url).exists()


async def test_a_subscription_made_when_allowed_is_not_sent_to_a_private_address_later(db, served, receiver):
    await _subscribe(served[0], receiver.url, ["ORDER_PLACED"])
    subscription = await WebhookSubscription.get(url=receiver.url)
    delivery = await WebhookDelivery.create(
        subscription=subscription,
        event_id="6f1c3c1e-0000-4000-8000-000000000002",
        event_type="ORDER_PLACED",
        payload={},
    )
    # Checked again at delivery time: without the setting, the loopback receiver gets nothing.
    assert await webhooks_out.send(delivery.id, allow_private=False) == "FAILED"
    assert receiver.received == []
    attempts = await WebhookAttempt.filter(delivery_id=delivery.id)
    assert [a.status_code for a in attempts] == [None] and "cannot receive webhooks" in attempts[0].response


def test_the_consumer_is_registered_by_name():
    assert WEBHOOKS_CONSUMER == "webhooks"


@pytest.mark.slow  # waits out the job's first real retry delay (5 s)
async def test_a_5xx_answer_is_retried_by_the_sending_job_until_it_succeeds(db, served, receiver):
    client, _ = served
    created = await _subscribe(client, receiver.url, ["ORDER_PAID"])
    receiver.answers = [503]
    gql = GraphQLClient(client)
    cart = await ready_cart(gql, [((await make_variant()).sku, 1)])
    assert (await gql.data(CHECKOUT, {"t": cart, "p": PAID}))["checkoutComplete"]["order"]["status"] == "PAID"
    await receiver.wait(2, seconds=40)  # the job's retry policy: the second try within ~5 s (+ polling)
    assert receiver.received[0][0]["webhook-id"] == receiver.received[1][0]["webhook-id"]
    deadline = time.monotonic() + 10
    while (listed := await _deliveries(client, created["subscription"]["id"]))[0]["status"] != "SUCCEEDED":
        assert time.monotonic() < deadline, listed
        await asyncio.sleep(0.05)
    assert listed[0]["eventType"] == "ORDER_PAID"
    assert [a["statusCode"] for a in listed[0]["attempts"]] == [503, 200]


def _context(jobs: Any, attempts: int, delivery_id: int) -> JobContext:
    """What the worker hands the sending job on a run after `attempts` earlier ones."""
    job = _job(attempts).evolve(task_kwargs={"delivery_id": delivery_id})
    return JobContext(app=jobs.app, job=job, start_timestamp=time.time(), abort_reason=lambda: None)


async def test_the_last_attempt_of_the_sending_job_marks_the_delivery_failed(db, served, receiver):
    client, app = served
    event_id = "6f1c3c1e-0000-4000-8000-000000000003"
    created, _, delivery = await _subscribed(client, receiver.url, "ORDER_PAID", event_id, queued=True)
    send = app.state.jobs.app.tasks[WEBHOOK_SEND]
    receiver.answers = [500, 500]
    # Any attempt but the last: the job raises, and the retry policy schedules the next one.
    with pytest.raises(webhooks_out.TryAgain, match="500"):
        await send(_context(app.state.jobs, WEBHOOK_RETRY.retries - 1, delivery.id), delivery_id=delivery.id)
    assert (await WebhookDelivery.get(id=delivery.id)).status == "PENDING"
    assert WEBHOOK_RETRY.get_retry_decision(exception=webhooks_out.TryAgain(), job=_job(WEBHOOK_RETRY.retries - 1))
    # The last one the policy allows: it fails for good, and says so, rather than raising.
    await send(_context(app.state.jobs, WEBHOOK_RETRY.retries, delivery.id), delivery_id=delivery.id)
    assert WEBHOOK_RETRY.get_retry_decision(exception=webhooks_out.TryAgain(), job=_job(WEBHOOK_RETRY.retries)) is None
    listed = await _deliveries(client, created["subscription"]["id"], "FAILED")
    assert [[a["statusCode"] for a in d["attempts"]] for d in listed] == [[500, 500]]
    metrics = (await client.get("/metrics")).text
    for outcome in ("retry", "failed"):
        assert f'gateway_webhook_attempts_total{{outcome="{outcome}"}} 1.0' in metrics, metrics
    assert "gateway_webhook_attempt_seconds_count 2.0" in metrics

    # An operator sends it again: a new job, with all its attempts; the endpoint now answers 200.
    token = await token_for(Permission.MANAGE_APPS)
    again = (
        await client.post(
            "/graphql", json={"query": REDELIVER, "variables": {"d": listed[0]["id"]}}, headers=bearer(token)
        )
    ).json()
    assert again["data"]["webhookRedeliver"] == {"delivery": {"status": "PENDING"}, "userErrors": []}, again
    await receiver.wait(3)
    deadline = time.monotonic() + 10
    while (await WebhookDelivery.get(id=delivery.id)).status != "SUCCEEDED":
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)


def _job(attempts: int) -> Job:
    return Job(id=1, queue="default", lock=None, queueing_lock=None, task_name=WEBHOOK_SEND, attempts=attempts)


async def test_two_sending_jobs_for_one_delivery_at_once_send_it_once(db, served, receiver):
    """A delivery planned twice (the redelivery planned its event again while the first job waited
    in a backlog) has two sending jobs: run at once, one sends and the other finds it sent."""
    if db.name != "postgres":
        pytest.skip("SQLite's one process runs its jobs one at a time: concurrency is proven on PostgreSQL")
    client, _ = served
    event_id = "6f1c3c1e-0000-4000-8000-000000000004"
    _, _, delivery = await _subscribed(client, receiver.url, "ORDER_PAID", event_id, queued=True)
    outcomes = await asyncio.gather(*(webhooks_out.send(delivery.id, allow_private=True) for _ in range(2)))
    assert sorted(outcomes) == [webhooks_out.NOT_SENT, "SUCCEEDED"]
    assert len(receiver.received) == 1
    assert (await WebhookDelivery.get(id=delivery.id)).attempts == 1
