"""Fault drills (issue 12): a real deployment breaks under storefront traffic, and nothing is lost.

Each drill runs `uvicorn --workers 2` on PostgreSQL with a Redis process of its own (rate limits
and the response cache on), drives browsing and checkouts through the GraphQL API, breaks one
dependency, mends it, and then checks directly in the database that stock equals its ledger, each
cart became at most one order, order numbers are unique, every paid order carries its own charge,
no charge is left in the test-card processor's books (shared by both workers) that no order holds
once the gateway's payment recovery has run, and that every reply a client got was a success or an
error the contract documents.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from redis.asyncio import Redis

from testbed.processes import worker_pids
from testbed.servers import Server, start, wait_healthy
from tests import databases, drill_invariants, payment_books
from tests.conftest import reachable_postgres_admin
from tests.drill_database import STAFF_EMAIL, STAFF_PASSWORD, prepare
from tests.drill_invariants import ClientView
from tests.drill_traffic import Catalogue, Storefront, Traffic, check_out, ready_cart
from tests.live import RedisProcess
from tests.pg_server import PostgresProcess

# Slow: real processes. Quiet: one httpx INFO record per request would bury a failing drill's report.
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("quiet_http_client")]

DISCOUNT_CODE = "DRILL10"
DISCOUNT_LIMIT = 4
# On: the limiter and the cache are what talks to Redis on every request. High enough that the
# drill's one client address is rarely refused (429s it gets are documented, and retried).
RATE_LIMITS = {"RATE_LIMIT_PER_SECOND": "300", "RATE_LIMIT_BURST": "600"}


@dataclass
class Deployment:
    """A seeded database, the gateway serving it with two workers, and a client of the storefront."""

    database_url: str
    server: Server
    http: httpx.AsyncClient
    catalogue: Catalogue
    opening: dict[int, tuple[int, int]]
    staff_token: str
    card_books: Path  # the test-card processor's books, shared by both workers

    def traffic(self, *, shoppers: int = 3, disconnects_allowed: bool = False) -> Traffic:
        return Traffic(
            self.http, self.catalogue, DISCOUNT_CODE, shoppers=shoppers, disconnects_allowed=disconnects_allowed
        )

    async def admin(self, query: str, variables: dict[str, object]) -> dict[str, object]:
        response = await self.http.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"authorization": f"Bearer {self.staff_token}"},
        )
        body = response.json()
        assert response.status_code == 200 and not body.get("errors"), body
        payload = next(iter(body["data"].values()))
        assert payload["userErrors"] == [], payload
        return body["data"]

    async def violations(self, told: ClientView) -> list[str]:
        # Traffic has stopped: the gateway's own recovery gives back what a killed worker's checkout
        # charged, and then no charge may be left that no order holds.
        await payment_books.recover_payments(self.database_url, self.card_books)
        return await drill_invariants.violations(
            self.database_url, self.opening, told
        ) + await payment_books.unsettled_charges(self.database_url, self.card_books)


@dataclass(frozen=True)
class Source:
    """Where a drill's database comes from: a server, and a prepared database there to copy (or none)."""

    admin_url: str
    template: str | None = None


@pytest.fixture(scope="module")
async def shared_postgres() -> AsyncIterator[Source]:
    """The shared test server, with a database prepared once that each drill copies (preparing
    one took ~10 s on a busy machine, a copy well under one)."""
    admin = await reachable_postgres_admin()
    url, template = await databases.create_postgres_database(admin)
    try:
        await asyncio.to_thread(prepare, url)
        yield Source(admin, template)
    finally:
        await databases.drop_postgres_database(admin, template)


async def _new_database(source: Source) -> tuple[str, str]:
    """A migrated and seeded database of the drill's own: its URL and name."""
    if source.template is None:
        url, name = await databases.create_postgres_database(source.admin_url)
        try:
            await asyncio.to_thread(prepare, url)
        except BaseException:
            await databases.drop_postgres_database(source.admin_url, name)
            raise
        return url, name
    name = f"gateway_drill_{uuid.uuid4().hex[:10]}"
    conn = await drill_invariants.connect(source.admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source.template}"')
    finally:
        await conn.close()
    parts = urlsplit(source.admin_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", "")), name


@pytest.fixture
def own_postgres() -> Iterator[PostgresProcess]:
    """A PostgreSQL server of the drill's own: the restart drill must never touch the shared one."""
    server = PostgresProcess()
    try:
        server.start()
        yield server
    finally:
        log = Path(server.directory, "log")
        if log.exists():
            print("--- PostgreSQL log (tail) ---\n" + "\n".join(log.read_text(errors="replace").splitlines()[-20:]))
        server.remove()


@pytest.fixture
def redis() -> Iterator[RedisProcess]:
    server = RedisProcess()
    server.start()
    try:
        yield server
    finally:
        if server.process is not None:
            os.kill(server.process.pid, signal.SIGCONT)  # a drill that failed mid-pause
        server.stop()


@asynccontextmanager
async def deployment(source: Source, redis_url: str, tmp_path: Path) -> AsyncIterator[Deployment]:
    """A fresh seeded database, two workers serving it, and the drill's discount code."""
    database_url, name = await _new_database(source)
    server = None
    card_books = tmp_path / "test-card-ledger.jsonl"
    try:
        opening = await drill_invariants.opening_stock(database_url)
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "CACHE_ENABLED": "1",
            "LOG_LEVEL": "WARNING",
            "TEST_CARD_LEDGER": str(card_books),
            **RATE_LIMITS,
        }
        server = start("drill", "gateway.app:app", env, workers=2)
        await asyncio.to_thread(wait_healthy, server, "/readyz")
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
        async with httpx.AsyncClient(base_url=server.url, timeout=30, limits=limits) as http:
            signed_in = await http.post(
                "/graphql",
                json={
                    "query": "mutation($e: String!, $p: String!) { tokenCreate(email: $e, password: $p) { accessToken } }",
                    "variables": {"e": STAFF_EMAIL, "p": STAFF_PASSWORD},
                },
            )
            shop = Deployment(
                database_url,
                server,
                http,
                await Catalogue.read(http),
                opening,
                signed_in.json()["data"]["tokenCreate"]["accessToken"],
                card_books,
            )
            await shop.admin(
                "mutation($i: DiscountCodeCreateInput!) { discountCodeCreate(input: $i) { userErrors { code message } } }",
                {"i": {"code": DISCOUNT_CODE, "kind": "PERCENTAGE", "value": "10", "usageLimit": DISCOUNT_LIMIT}},
            )
            yield shop
    finally:
        if server is not None:
            # Shown by pytest when the drill failed: what the workers logged.
            print(f"--- gateway log (tail) ---\n{server.log_tail(150)}")
            server.stop()
        await databases.drop_postgres_database(source.admin_url, name)


def _summary(traffic: Traffic) -> str:
    answered = [r for r in traffic.replies if r.status is not None]
    statuses = sorted({str(r.status) for r in traffic.replies})
    return (
        f"{len(traffic.replies)} requests, {len(answered)} answered ({', '.join(statuses)}), "
        f"{sum(1 for r in answered if r.ok)} ok, {len(traffic.told.orders)} orders, {len(traffic.told.refused)} refused"
    )


async def _settled(shop: Deployment, traffic: Traffic) -> list[str]:
    """What went wrong, in words: after the fault a new cart must check out (the service
    recovered), every reply must have been documented, and every invariant must hold."""
    client = Storefront(shop.http, traffic.replies)
    last = await ready_cart(client, [shop.catalogue.plentiful])
    if last is not None:
        await check_out(client, last, traffic.told, traffic.unfinished)
    print(_summary(traffic))
    failures = traffic.problems()
    failures += [
        f"cart {token[:8]}…: the client never learnt whether it became an order" for token in traffic.unfinished
    ]
    if last not in traffic.told.orders:
        failures.append("a checkout after the drill did not place an order")
    failures += await shop.violations(traffic.told)
    return failures


def _listed(failures: list[str]) -> str:
    return "the drill found:\n" + "\n".join(f"- {failure}" for failure in failures)


async def _redis_keys(url: str) -> int:
    client = Redis.from_url(url, socket_timeout=2)
    try:
        return int(await client.dbsize())
    finally:
        await client.aclose()


async def test_redis_killed_during_traffic_and_restarted(shared_postgres, redis, tmp_path):
    async with deployment(shared_postgres, redis.url, tmp_path) as shop:
        traffic = shop.traffic()
        traffic.start()
        await asyncio.sleep(1.5)
        redis.stop()  # SIGKILL
        await asyncio.sleep(2.5)
        redis.start()
        await asyncio.sleep(2.5)
        await traffic.stop()
        failures = await _settled(shop, traffic)
        # Back on Redis: the limiter's buckets and the cache's entries are written there again.
        if await _redis_keys(redis.url) == 0:
            failures.append("nothing was written to Redis after it came back")
        assert not failures, _listed(failures)


async def test_redis_paused_during_traffic(shared_postgres, redis, tmp_path):
    async with deployment(shared_postgres, redis.url, tmp_path) as shop:
        traffic = shop.traffic()
        traffic.start()
        await asyncio.sleep(2)
        assert redis.process is not None
        paused = time.monotonic()
        os.kill(redis.process.pid, signal.SIGSTOP)
        try:
            await asyncio.sleep(4)
        finally:
            os.kill(redis.process.pid, signal.SIGCONT)
        resumed = time.monotonic()
        await asyncio.sleep(2)
        await traffic.stop()
        # Requests sent while Redis hung, each at least a second before it woke: a hang shows.
        during = [r for r in traffic.replies if paused <= r.started < resumed - 1]
        quick = sum(1 for r in during if r.status is not None and r.seconds < 1)
        print(
            f"while paused: {len(during)} requests sent in {resumed - paused - 1:.1f} s, {quick} answered within 1 s, "
            f"slowest {max((r.seconds for r in during), default=0):.2f} s"
        )
        failures = await _settled(shop, traffic)
        # Bounds far from what a working breaker gives (hundreds, nearly all quick) and from a
        # hang (each client stuck on one request): a busy machine does not make them flaky.
        clients = traffic.browsers + traffic.shoppers
        if len(during) < 3 * clients:
            failures.append(f"throughput collapsed: {len(during)} requests from {clients} clients while Redis hung")
        if quick < 0.75 * len(during):
            failures.append(f"only {quick} of {len(during)} requests answered within 1 s while Redis hung")
        assert not failures, _listed(failures)


async def test_postgres_restarted_during_traffic(own_postgres, redis, tmp_path):
    async with deployment(Source(own_postgres.url), redis.url, tmp_path) as shop:
        traffic = shop.traffic()
        traffic.start()
        await asyncio.sleep(1.5)
        # What `pg_ctl restart -m fast` does: sessions cut, in-flight transactions rolled back.
        await asyncio.to_thread(own_postgres.stop)
        await asyncio.to_thread(own_postgres.start)
        await asyncio.sleep(3)
        await traffic.stop()
        failures = await _settled(shop, traffic)
        assert not failures, _listed(failures)


HOT_UNITS = 10
HOT_CARTS = 30


async def test_worker_killed_during_concurrent_checkouts(shared_postgres, redis, tmp_path):
    async with deployment(shared_postgres, redis.url, tmp_path) as shop:
        # One variant everyone wants, 10 units in one warehouse: 30 carts race for it.
        hot = next(v for v in shop.catalogue.variant_ids if v != shop.catalogue.plentiful)
        for warehouse, units in (("central", HOT_UNITS), ("north", 0)):
            await shop.admin(
                "mutation($v: ID!, $w: String!, $q: Int!) { stockSet(variantId: $v, warehouse: $w, quantity: $q) "
                "{ userErrors { code message } } }",
                {"v": hot, "w": warehouse, "q": units},
            )
        traffic = shop.traffic(shoppers=0, disconnects_allowed=True)
        client = traffic.client()
        tokens = [
            token
            for batch in range(0, HOT_CARTS, 6)
            for token in await asyncio.gather(
                *(ready_cart(client, [hot]) for _ in range(batch, min(batch + 6, HOT_CARTS)))
            )
        ]
        assert None not in tokens, traffic.problems()
        workers = worker_pids(shop.server.process.pid)
        assert len(workers) == 2
        traffic.start()
        checkouts = asyncio.gather(*(check_out(client, token, traffic.told, traffic.unfinished) for token in tokens))
        # Killed once the first checkout is answered: the rest are queued or running in both workers.
        # Polled: the replies are a plain list the traffic appends to; no event marks the first.
        while not checkouts.done() and not any(r.operation == "checkoutComplete" for r in traffic.replies):  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        os.kill(workers[0], signal.SIGKILL)
        await checkouts
        await traffic.stop()
        cut = sum(1 for r in traffic.replies if r.status is None)
        print(f"killed worker {workers[0]}: {cut} requests cut off; workers now {worker_pids(shop.server.process.pid)}")
        failures = await _settled(shop, traffic)
        outcome = (len([t for t in tokens if t in traffic.told.orders]), len(traffic.told.refused))
        if outcome != (HOT_UNITS, HOT_CARTS - HOT_UNITS):
            failures.append(
                f"{outcome[0]} orders and {outcome[1]} refusals for {HOT_UNITS} units and {HOT_CARTS} carts"
            )
        if cut == 0:
            failures.append("the killed worker had no request in flight: the drill proved nothing")
        assert not failures, _listed(failures)


async def test_the_checks_see_a_ledger_a_counter_and_a_client_told_wrong(shared_postgres):
    # The drills pass only if these checks can fail: break the data behind their back.
    url, name = await _new_database(shared_postgres)
    try:
        opening = await drill_invariants.opening_stock(url)
        assert await drill_invariants.violations(url, opening, ClientView()) == []
        conn = await drill_invariants.connect(url)
        try:
            stock = await conn.fetchval("SELECT MIN(id) FROM stock")
            await conn.execute("UPDATE stock SET quantity = quantity + 1 WHERE id = $1", stock)
            await conn.execute("UPDATE discount_code SET used_count = 1 WHERE code = 'WELCOME10'")
        finally:
            await conn.close()
        found = await drill_invariants.violations(url, opening, ClientView(orders={"no-such-cart": 1001}))
        assert len(found) == 3, found
        assert found[0].startswith(f"stock {stock}: on hand ")
        assert found[1] == "discount WELCOME10: used_count 1, 0 orders carry it"
        assert found[2].startswith("a client was told order #1001 for cart no-such-")
    finally:
        await databases.drop_postgres_database(shared_postgres.admin_url, name)
