"""Fault drills for durable changes (issue 15): cached listings come right again after a crash
between a commit and its announcement, and after Redis went away during a burst of stock changes.

Real processes on PostgreSQL: web servers (uvicorn), `python -m gateway worker`, and a Redis server
of the drill's own. Listings are read from a server whose response cache (its own memory and the
shared Redis tier) holds them; stock is changed through another one.
"""

from __future__ import annotations

import asyncio
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

import httpx
import pytest

from testbed.servers import Server, start, wait_healthy
from tests import databases
from tests.conftest import ROOT, reachable_postgres_admin
from tests.drill_database import STAFF_EMAIL, STAFF_PASSWORD, prepare
from tests.live import RedisProcess

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
async def shop(template: tuple[str, str], redis_url: str, tmp_path: Path) -> AsyncIterator[Shop]:
    """A copy of the template database, a job worker on it, and room for web servers."""
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


async def test_a_process_killed_between_commit_and_announcement(template, redis, tmp_path):
    async with shop(template, redis.url, tmp_path) as running:
        reader = await asyncio.to_thread(running.serve, "reader")
        doomed = await asyncio.to_thread(running.serve, "doomed", TEST_ONLY_KILL_AFTER_COMMIT="catalogue")
        async with (
            httpx.AsyncClient(base_url=reader.url, timeout=30) as reading,
            httpx.AsyncClient(base_url=doomed.url, timeout=30) as writing,
        ):
            variants = await _graphql(reading, VARIANTS)
            variant = variants["products"]["edges"][0]["node"]["variants"][0]
            for query in LISTINGS:  # cached now, in the reader's memory and in Redis
                await _listing(reading, query)
                assert (await _listing(reading, query))[1] == "gateway; hit"
            token = await _staff_token(writing)
            with pytest.raises(httpx.TransportError):  # the process died before it could answer
                await _graphql(writing, ADJUST, {"v": variant["id"], "d": 5}, token)
            assert await asyncio.to_thread(doomed.process.wait, 10) == -signal.SIGKILL
            # Committed, yet announced to no one: the reader still answers from its cache.
            shown, status = await _listing(reading, LISTINGS[0])
            print(f"right after the kill: {shown[variant['sku']]} ({status})")
            expected = {variant["sku"]: variant["quantityAvailable"] + 5}
            wrong = await _correct_within(reading, expected, RECOVERED_WITHIN)
            assert not wrong, f"still stale after {RECOVERED_WITHIN:.0f} s: {wrong[:5]}"


async def test_redis_stopped_during_a_burst_of_stock_changes(template, redis, tmp_path):
    async with shop(template, redis.url, tmp_path) as running:
        reader = await asyncio.to_thread(running.serve, "reader", 2)
        writer = await asyncio.to_thread(running.serve, "writer")
        async with (
            httpx.AsyncClient(base_url=reader.url, timeout=30) as reading,
            httpx.AsyncClient(base_url=writer.url, timeout=30) as writing,
        ):
            variants = [
                variant
                for edge in (await _graphql(reading, VARIANTS))["products"]["edges"]
                for variant in edge["node"]["variants"]
            ][:6]
            for _ in range(6):  # both workers' memory and Redis hold every listing
                for query in LISTINGS:
                    await _listing(reading, query)
            token = await _staff_token(writing)
            added = {variant["sku"]: 0 for variant in variants}
            rng = random.Random(15)

            async def adjust() -> None:
                variant = rng.choice(variants)
                await _graphql(writing, ADJUST, {"v": variant["id"], "d": 1}, token)
                added[variant["sku"]] += 1

            for round_number in range(12):
                if round_number == 4:
                    redis.stop()  # SIGKILL, mid-burst
                await asyncio.gather(*(adjust() for _ in range(4)))
                # Readers keep asking meanwhile (answers bypass the cache while Redis is away).
                await _listing(reading, LISTINGS[round_number % 2])
            redis.start()  # empty: what Redis held is gone, and each worker's memory may be stale
            expected = {variant["sku"]: variant["quantityAvailable"] + added[variant["sku"]] for variant in variants}
            assert sum(added.values()) == 48
            wrong = await _correct_within(reading, expected, RECOVERED_WITHIN)
            assert not wrong, f"still stale after {RECOVERED_WITHIN:.0f} s: {wrong[:5]}"
