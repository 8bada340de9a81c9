"""Fault drills for durable changes (issue 15): after a crash between a commit and its
announcement, after Redis went away during a burst of stock changes and orders, and while the SMTP
server is away, cached listings come right again within seconds, and every order placed meanwhile
reaches the webhook endpoint and the customer's inbox exactly once.

Real processes on PostgreSQL: web servers (uvicorn), `python -m gateway worker`, and a Redis server
of the drill's own. Listings are read from a server whose response cache (its own memory and the
shared Redis tier) holds them; stock is changed through another one. An SMTP server (aiosmtpd) and
a webhook endpoint run in the test process; the endpoint checks each delivery's signature with the
`standardwebhooks` package, and the SMTP server parses each message.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiosmtpd.controller import Controller
from standardwebhooks.webhooks import Webhook
from starlette.applications import Starlette
from starlette.routing import Route

from testbed.servers import Server, start, wait_healthy
from tests import databases
from tests.conftest import ROOT, reachable_postgres_admin
from tests.drill_database import STAFF_EMAIL, STAFF_PASSWORD, prepare
from tests.live import RedisProcess, serve_in_loop
from tests.test_checkout import ADDRESS
from tests.test_emails import Inbox, free_port
from tests.test_webhooks_out import Receiver

# Slow: real processes. Quiet: one httpx INFO record per request would bury a failing drill's report.
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("quiet_http_client")]

LISTINGS = (
    "{ products(first: 40) { edges { node { variants { sku quantityAvailable } } } } }",
    "{ products(first: 40, filter: { inStock: true }, sort: PRICE_ASC) { edges { node { variants { sku quantityAvailable } } } } }",
)
ADJUST = """mutation($v: ID!, $d: Int!) { stockAdjust(variantId: $v, warehouse: "central", delta: $d, reason: "drill") {
  userErrors { code message } } }"""
VARIANTS = "{ products(first: 40) { edges { node { variants { id sku quantityAvailable } } } } }"
RECOVERED_WITHIN = 20.0  # seconds: the redelivery runs every 5 s for events older than 1 s
SUBSCRIBE = """mutation($u: String!, $s: String) { webhookSubscriptionCreate(url: $u, events: [ORDER_PLACED], secret: $s) {
  userErrors { code message } } }"""
CART = """mutation($i: CartCreateInput) { cartCreate(input: $i) { cart { token } userErrors { code message } } }"""
SHIP = """mutation($t: ID!, $a: AddressInput!) { cartUpdateShippingAddress(cartToken: $t, address: $a) {
  cart { availableShippingMethods { id } } userErrors { code message } } }"""
METHOD = """mutation($t: ID!, $m: ID!) { cartUpdateShippingMethod(cartToken: $t, shippingMethodId: $m) {
  userErrors { code message } } }"""
CHECKOUT = """mutation($t: ID!) { checkoutComplete(cartToken: $t, payment: { provider: "manual" }) {
  order { number } userErrors { code message } } }"""
DELIVERED_WITHIN = 30.0  # seconds for every webhook and email of the orders to arrive


@pytest.fixture(scope="module")
async def template() -> AsyncIterator[tuple[str, str]]:
    """A database migrated, seeded and given a staff account once; each drill copies it."""
    admin = await reachable_postgres_admin()
    url, name = await databases.create_postgres_database(admin)
    try:
        await asyncio.to_thread(prepare, url)
        yield admin, name
    finally:
        await databases.drop_postgres_database(admin, name)


@pytest.fixture
def redis() -> Iterator[RedisProcess]:
    server = RedisProcess()
    server.start()
    try:
        yield server
    finally:
        server.stop()


class Outside:
    """What the shop talks to, in this process: an SMTP server (started when `smtp_up`) and a
    webhook endpoint."""

    def __init__(self, receiver: Receiver) -> None:
        self.inbox = Inbox()
        self.smtp_port = free_port()
        self.receiver = receiver
        self.secret = "whsec_" + base64.b64encode(os.urandom(24)).decode()
        self._smtp: Controller | None = None

    def smtp_up(self) -> None:
        self._smtp = Controller(self.inbox, hostname="127.0.0.1", port=self.smtp_port)
        self._smtp.start()

    def smtp_down(self) -> None:
        if self._smtp is not None:
            self._smtp.stop()
            self._smtp = None

    @property
    def env(self) -> dict[str, str]:
        return {"EMAIL_URL": f"smtp://127.0.0.1:{self.smtp_port}", "WEBHOOK_ALLOW_PRIVATE_TARGETS": "1"}

    def confirmations(self) -> list[int]:
        """The order numbers of the confirmations received, one per message."""
        subjects = [str(message["Subject"]) for message in self.inbox.messages]
        return [int(subject.split("#")[1].split()[0]) for subject in subjects if subject.endswith(" confirmed")]

    def webhooks(self) -> list[tuple[str, str]]:
        """(webhook-id, event id) of each delivery received, its signature checked."""
        verified = []
        for headers, body in self.receiver.received:
            payload = Webhook(self.secret).verify(body, headers)  # raises unless signed with our secret
            assert payload["type"] == "ORDER_PLACED", payload
            verified.append((headers["webhook-id"], str(payload["id"])))
        return verified


@pytest.fixture
async def outside() -> AsyncIterator[Outside]:
    receiver = Receiver()
    async with serve_in_loop(Starlette(routes=[Route("/hook", receiver.handle, methods=["POST"])])) as ws_url:
        receiver.url = ws_url.replace("ws://", "http://").replace("/graphql", "/hook")
        world = Outside(receiver)
        try:
            yield world
        finally:
            world.smtp_down()


@dataclass
class Shop:
    env: dict[str, str]
    servers: list[Server]
    worker: subprocess.Popen[bytes]
    worker_log: Path

    def serve(self, name: str, workers: int = 1, **extra: str) -> Server:
        server = start(name, "gateway.app:app", {**self.env, **extra}, workers=workers)
        self.servers.append(server)
        wait_healthy(server, "/readyz")
        return server


def _start_worker(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "gateway", "worker", "--concurrency", "2"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


@asynccontextmanager
async def shop(
    template: tuple[str, str], redis_url: str, tmp_path: Path, world: Outside | None = None
) -> AsyncIterator[Shop]:
    """A copy of the template database, a job worker on it, and room for web servers (sending
    emails and webhooks to `world`)."""
    admin, name = template
    url, copy = await databases.create_postgres_database(admin, template=name)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": redis_url,
        "CACHE_ENABLED": "1",
        "LOG_LEVEL": "WARNING",
        "RATE_LIMIT_PER_SECOND": "0",
        "OUTBOX_REDELIVER_AFTER": "1",
        "TEST_CARD_LEDGER": str(tmp_path / "ledger.jsonl"),
        **(world.env if world is not None else {}),
    }
    worker_log = tmp_path / f"worker-{uuid.uuid4().hex[:6]}.log"
    worker = _start_worker(env, worker_log)
    running = Shop(env, [], worker, worker_log)
    try:
        yield running
    finally:
        for server in running.servers:
            print(f"--- {server.name} log (tail) ---\n{server.log_tail(40)}")
            server.stop()
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(10)
        print("--- worker log (tail) ---\n" + "\n".join(worker_log.read_text(errors="replace").splitlines()[-40:]))
        await databases.drop_postgres_database(admin, copy)


async def _graphql(
    http: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None, token: str = ""
) -> Any:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = await http.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)
    body = response.json()
    assert response.status_code == 200 and not body.get("errors"), body
    return body["data"]


async def _staff_token(http: httpx.AsyncClient) -> str:
    data = await _graphql(
        http,
        "mutation($e: String!, $p: String!) { tokenCreate(email: $e, password: $p) { accessToken } }",
        {"e": STAFF_EMAIL, "p": STAFF_PASSWORD},
    )
    return str(data["tokenCreate"]["accessToken"])


async def _listing(http: httpx.AsyncClient, query: str) -> tuple[dict[str, int], str]:
    """What a listing shows (sku -> available) and its Cache-Status."""
    response = await http.post("/graphql", json={"query": query})
    body = response.json()
    assert response.status_code == 200 and not body.get("errors"), body
    shown = {
        variant["sku"]: variant["quantityAvailable"]
        for edge in body["data"]["products"]["edges"]
        for variant in edge["node"]["variants"]
    }
    return shown, response.headers.get("cache-status", "")


async def _correct_within(http: httpx.AsyncClient, expected: dict[str, int], seconds: float) -> list[str]:
    """Wait until every listing shows `expected` in 10 answers running (whichever worker answers);
    what was still wrong when time ran out."""
    deadline = time.monotonic() + seconds
    wrong: list[str] = []
    while time.monotonic() < deadline:
        wrong = []
        for _ in range(10):
            for query in LISTINGS:
                shown, status = await _listing(http, query)
                wrong += [
                    f"{sku}: shows {shown[sku]}, is {count} ({status})"
                    for sku, count in expected.items()
                    if sku in shown and shown[sku] != count
                ]
        if not wrong:
            return []
        await asyncio.sleep(0.5)
    return wrong


async def _subscribe(http: httpx.AsyncClient, token: str, world: Outside) -> None:
    data = await _graphql(http, SUBSCRIBE, {"u": world.receiver.url, "s": world.secret}, token)
    assert data["webhookSubscriptionCreate"]["userErrors"] == []


async def _cart(http: httpx.AsyncClient, variant_id: str, number: int) -> str:
    """A cart ready for checkout: one of the variant, an email, an address and a shipping method."""
    variables = {"i": {"lines": [{"variantId": variant_id, "quantity": 1}], "email": f"drill{number}@example.com"}}
    created = (await _graphql(http, CART, variables))["cartCreate"]
    assert created["userErrors"] == [], created
    token = str(created["cart"]["token"])
    addressed = (await _graphql(http, SHIP, {"t": token, "a": ADDRESS}))["cartUpdateShippingAddress"]
    method = addressed["cart"]["availableShippingMethods"][0]["id"]
    assert (await _graphql(http, METHOD, {"t": token, "m": method}))["cartUpdateShippingMethod"]["userErrors"] == []
    return token


async def _place_order(http: httpx.AsyncClient, variant_id: str, number: int) -> int:
    """Check out a new cart through `http`; the order's number."""
    placed = (await _graphql(http, CHECKOUT, {"t": await _cart(http, variant_id, number)}))["checkoutComplete"]
    assert placed["userErrors"] == [], placed
    return int(placed["order"]["number"])


async def _orders_placed(database_url: str) -> dict[str, int]:
    """Every committed order's ORDER_PLACED event (its first version in the outbox): event id -> number."""
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch("SELECT event_id::text AS event_id, payload FROM outbox WHERE kind = 'order'")
        numbers = {row["id"]: row["number"] for row in await connection.fetch('SELECT id, number FROM "order"')}
    finally:
        await connection.close()
    placed = {}
    for row in rows:
        payload = json.loads(row["payload"]) if isinstance(row["payload"], str) else row["payload"]
        if payload["row"]["version"] == 1:
            placed[row["event_id"]] = numbers[payload["id"]]
    assert len(placed) == len(numbers), "an order without its ORDER_PLACED event"
    return placed


async def _each_once(database_url: str, world: Outside, seconds: float = DELIVERED_WITHIN) -> dict[str, int]:
    """Wait until every committed order's webhook and confirmation email arrived; assert none arrived
    twice (after a second more for late repeats). The orders, by event id."""
    placed = await _orders_placed(database_url)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if {event for _, event in world.webhooks()} >= placed.keys() and set(world.confirmations()) >= set(
            placed.values()
        ):
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.0)
    webhooks, confirmations = world.webhooks(), world.confirmations()
    assert {event for _, event in webhooks} == placed.keys(), f"webhooks missing after {seconds:.0f} s"
    assert len({message_id for message_id, _ in webhooks}) == len(webhooks), f"a webhook-id twice: {webhooks}"
    assert sorted(confirmations) == sorted(placed.values()), "confirmations missing or repeated"
    return placed


async def _variants(http: httpx.AsyncClient) -> list[dict[str, Any]]:
    return [
        variant
        for edge in (await _graphql(http, VARIANTS))["products"]["edges"]
        for variant in edge["node"]["variants"]
    ]


def _in_stock(variants: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    """`count` variants with stock to sell one of, from different products than the first ones."""
    found = [variant for variant in variants[12:] if variant["quantityAvailable"] >= 2][:count]
    assert len(found) == count, "the seeded catalogue has too few variants in stock"
    return found


async def test_a_process_killed_between_commit_and_announcement(template, redis, outside, tmp_path):
    outside.smtp_up()
    async with shop(template, redis.url, tmp_path, outside) as running:
        reader, doomed, doomed_order = await asyncio.gather(
            asyncio.to_thread(running.serve, "reader"),
            asyncio.to_thread(running.serve, "doomed", TEST_ONLY_KILL_AFTER_COMMIT="catalogue"),
            asyncio.to_thread(running.serve, "doomed-order", TEST_ONLY_KILL_AFTER_COMMIT="order"),
        )
        async with (
            httpx.AsyncClient(base_url=reader.url, timeout=30) as reading,
            httpx.AsyncClient(base_url=doomed.url, timeout=30) as writing,
            httpx.AsyncClient(base_url=doomed_order.url, timeout=30) as ordering,
        ):
            variants = await _variants(reading)
            variant, bought = variants[0], _in_stock(variants, 4)
            await _subscribe(reading, await _staff_token(reading), outside)
            for query in LISTINGS:  # cached now, in the reader's memory and in Redis
                await _listing(reading, query)
                assert (await _listing(reading, query))[1] == "gateway; hit"
            token = await _staff_token(writing)
            doomed_cart = await _cart(ordering, bought[0]["id"], 0)

            async def killed(http: httpx.AsyncClient, query: str, variables: dict[str, Any], token: str = "") -> None:
                with pytest.raises(httpx.TransportError):  # the process died before it could answer
                    await _graphql(http, query, variables, token)

            # Both kills, with orders placed through the reader meanwhile.
            await asyncio.gather(
                killed(writing, ADJUST, {"v": variant["id"], "d": 5}, token),
                killed(ordering, CHECKOUT, {"t": doomed_cart}),
                *(_place_order(reading, sold["id"], number) for number, sold in enumerate(bought[1:], 1)),
            )
            assert await asyncio.to_thread(doomed.process.wait, 10) == -signal.SIGKILL
            assert await asyncio.to_thread(doomed_order.process.wait, 10) == -signal.SIGKILL
            # Committed, yet announced to no one: the reader still answers from its cache.
            shown, status = await _listing(reading, LISTINGS[0])
            print(f"right after the kill: {shown[variant['sku']]} ({status})")
            expected = {variant["sku"]: variant["quantityAvailable"] + 5}
            expected |= {sold["sku"]: sold["quantityAvailable"] - 1 for sold in bought}
            wrong = await _correct_within(reading, expected, RECOVERED_WITHIN)
            assert not wrong, f"still stale after {RECOVERED_WITHIN:.0f} s: {wrong[:5]}"
            placed = await _each_once(databases.postgres_url(running.env["DATABASE_URL"]), outside)
            assert len(placed) == 4  # the killed checkout's order too


async def test_redis_stopped_during_a_burst_of_stock_changes(template, redis, outside, tmp_path):
    outside.smtp_up()
    async with shop(template, redis.url, tmp_path, outside) as running:
        reader, writer = await asyncio.gather(
            asyncio.to_thread(running.serve, "reader", 2), asyncio.to_thread(running.serve, "writer")
        )
        async with (
            httpx.AsyncClient(base_url=reader.url, timeout=30) as reading,
            httpx.AsyncClient(base_url=writer.url, timeout=30) as writing,
        ):
            every = await _variants(reading)
            variants, bought = every[:6], _in_stock(every, 12)
            for _ in range(6):  # both workers' memory and Redis hold every listing
                for query in LISTINGS:
                    await _listing(reading, query)
            token = await _staff_token(writing)
            await _subscribe(writing, token, outside)
            added = {variant["sku"]: 0 for variant in variants}
            rng = random.Random(15)

            async def adjust() -> None:
                variant = rng.choice(variants)
                await _graphql(writing, ADJUST, {"v": variant["id"], "d": 1}, token)
                added[variant["sku"]] += 1

            for round_number in range(12):
                if round_number == 4:
                    redis.stop()  # SIGKILL, mid-burst
                # Four stock changes and an order (its webhook and email planned while Redis is away).
                await asyncio.gather(
                    *(adjust() for _ in range(4)), _place_order(writing, bought[round_number]["id"], round_number)
                )
                # Readers keep asking meanwhile (answers bypass the cache while Redis is away).
                await _listing(reading, LISTINGS[round_number % 2])
            redis.start()  # empty: what Redis held is gone, and each worker's memory may be stale
            expected = {variant["sku"]: variant["quantityAvailable"] + added[variant["sku"]] for variant in variants}
            expected |= {sold["sku"]: sold["quantityAvailable"] - 1 for sold in bought}
            assert sum(added.values()) == 48
            wrong = await _correct_within(reading, expected, RECOVERED_WITHIN)
            assert not wrong, f"still stale after {RECOVERED_WITHIN:.0f} s: {wrong[:5]}"
            placed = await _each_once(databases.postgres_url(running.env["DATABASE_URL"]), outside)
            assert len(placed) == 12


async def _count(database_url: str, query: str) -> int:
    connection = await asyncpg.connect(database_url)
    try:
        return int(await connection.fetchval(query))
    finally:
        await connection.close()


async def _within(seconds: float, check: Any) -> bool:
    """Whether `check()` came true within `seconds`."""
    deadline = time.monotonic() + seconds
    while not await check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.2)
    return True


async def test_an_smtp_server_away_holds_back_only_the_emails(template, redis, outside, tmp_path):
    """Emails are jobs of their own: while the SMTP server is away, cache invalidation and webhooks
    go out at once, and the emails arrive, once each, when it is back."""
    async with shop(template, redis.url, tmp_path, outside) as running:  # no SMTP server yet
        database = databases.postgres_url(running.env["DATABASE_URL"])
        reader, writer = await asyncio.gather(
            asyncio.to_thread(running.serve, "reader"), asyncio.to_thread(running.serve, "writer")
        )
        async with (
            httpx.AsyncClient(base_url=reader.url, timeout=30) as reading,
            httpx.AsyncClient(base_url=writer.url, timeout=30) as writing,
        ):
            variants = await _variants(reading)
            variant, bought = variants[0], _in_stock(variants, 4)
            for query in LISTINGS:
                await _listing(reading, query)
            token = await _staff_token(writing)
            await _subscribe(writing, token, outside)
            await asyncio.gather(
                _graphql(writing, ADJUST, {"v": variant["id"], "d": 3}, token),
                *(_place_order(writing, sold["id"], number) for number, sold in enumerate(bought)),
            )
            expected = {variant["sku"]: variant["quantityAvailable"] + 3}
            expected |= {sold["sku"]: sold["quantityAvailable"] - 1 for sold in bought}
            assert not await _correct_within(reading, expected, 5.0)
            placed = await _orders_placed(database)

            async def delivered() -> bool:  # the worker delivered every event to every consumer
                return await _count(database, "SELECT count(*) FROM outbox WHERE delivered_at IS NULL") == 0

            async def hooked() -> bool:
                return {event for _, event in outside.webhooks()} >= placed.keys()

            async def tried() -> bool:  # each email's job ran and failed, and waits for its retry
                query = "SELECT count(*) FROM sent_email WHERE status = 'PENDING' AND attempts >= 1"
                return await _count(database, query) == len(placed)

            assert await _within(5.0, delivered), "the outbox delivery waited for the SMTP server"
            assert await _within(5.0, hooked), "webhooks waited for the SMTP server"
            assert await _within(5.0, tried), "the emails were not tried"
            assert outside.inbox.messages == []
            outside.smtp_up()  # back: each email's next retry sends it (EMAIL_RETRY: within 5 s, + polling)
            back = time.monotonic()
            assert await _each_once(database, outside) == placed
            print(f"emails arrived within {time.monotonic() - back - 1:.1f} s of the SMTP server's return")
