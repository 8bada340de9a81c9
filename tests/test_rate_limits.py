"""Token buckets per client, in process and shared through Redis; sign-in throttling."""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack

import httpx
import pytest
from redis.asyncio import Redis

from gateway.app import create_app
from gateway.ratelimit import LEASE_SECONDS, LocalBuckets, RedisBuckets, client_ip
from gateway.settings import load_settings
from tests.conftest import the_test_redis
from tests.staff import bearer, token_for

QUERY = {"query": "{ __typename }"}


def make_client(db, **env: str) -> httpx.AsyncClient:
    app = create_app(load_settings({"DATABASE_URL": db.url, **env}))
    return client_from(app, "203.0.113.7")


def client_from(app, address: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(address, 1234)), base_url="http://gateway.test"
    )


async def sign_in_code(client: httpx.AsyncClient, email: str, password: str) -> str:
    mutation = "mutation($e: String!, $p: String!) { tokenCreate(email: $e, password: $p) { accessToken userErrors { code } } }"
    body = (await client.post("/graphql", json={"query": mutation, "variables": {"e": email, "p": password}})).json()
    if body.get("errors"):
        return body["errors"][0]["extensions"]["code"]
    payload = body["data"]["tokenCreate"]
    return payload["userErrors"][0]["code"] if payload["userErrors"] else "SIGNED_IN"


def test_local_bucket_refills_at_its_rate():
    buckets = LocalBuckets()
    assert [buckets.take_now("k", 2.0, 3, 0.0) for _ in range(3)] == [None, None, None]
    assert buckets.take_now("k", 2.0, 3, 0.0) == pytest.approx(0.5)
    assert buckets.take_now("k", 2.0, 3, 0.5) is None  # one token back after half a second
    assert buckets.take_now("other", 2.0, 3, 0.5) is None  # each client has its own bucket


def test_local_buckets_stay_bounded():
    buckets = LocalBuckets(max_keys=100)
    for n in range(1000):
        buckets.take_now(f"client-{n}", 1.0, 1, 0.0)
    assert len(buckets.buckets) == 100


def test_client_ip_behind_trusted_proxies():
    import ipaddress

    proxies = (ipaddress.ip_network("10.0.0.0/8"),)
    scope = {"client": ("10.1.2.3", 1), "headers": [(b"x-forwarded-for", b"198.51.100.9, 10.0.0.5")]}
    assert client_ip(scope, proxies) == "198.51.100.9"
    assert client_ip(scope, ()) == "10.1.2.3"  # no trusted proxies: the header is ignored
    spoofed = {"client": ("198.51.100.20", 1), "headers": [(b"x-forwarded-for", b"1.2.3.4")]}
    assert client_ip(spoofed, proxies) == "198.51.100.20"  # not from a proxy: not believed


async def test_over_the_limit_is_429_with_retry_after(db):
    async with make_client(db, RATE_LIMIT_PER_SECOND="1", RATE_LIMIT_BURST="3") as client:
        statuses = [(await client.post("/graphql", json=QUERY)).status_code for _ in range(3)]
        refused = await client.post("/graphql", json=QUERY)
        assert statuses == [200, 200, 200] and refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1 and refused.headers["x-request-id"]
        assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        # A signed-in client is counted by its account, not by the address it shares.
        ok = await client.post("/graphql", json=QUERY, headers=bearer(await token_for(staff=False)))
        assert ok.status_code == 200
        assert (await client.get("/healthz")).status_code == 200  # probes are never limited


async def test_made_up_bearer_tokens_buy_no_bucket_and_no_execution(db, sql_counter):
    app = create_app(load_settings({"DATABASE_URL": db.url, "RATE_LIMIT_PER_SECOND": "1", "RATE_LIMIT_BURST": "50"}))
    listing = {"query": "{ products(first: 2) { edges { node { name } } } }"}
    async with client_from(app, "198.51.100.1") as plain, client_from(app, "198.51.100.2") as inventive:
        plain_statuses = [(await plain.post("/graphql", json=listing)).status_code for _ in range(400)]
        sql_counter.statements.clear()
        junk = [
            await inventive.post("/graphql", json=listing, headers={"authorization": f"Bearer junk-{n}"})
            for n in range(400)
        ]
    # Limited like the same address without the header (one token a second refills either run) ...
    limited_plain = plain_statuses.count(429)
    limited_junk = sum(r.status_code == 429 for r in junk)
    assert limited_plain >= 400 - 50 - 10 and abs(limited_junk - limited_plain) <= 10
    # ... and the rest refused before anything ran: no execution, no SQL.
    refused = [r for r in junk if r.status_code != 429]
    assert refused and all(r.status_code == 401 for r in refused)
    assert refused[0].json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert (
        refused[0].headers["www-authenticate"] == 'Bearer error="invalid_token"' and refused[0].headers["x-request-id"]
    )
    assert refused[0].headers["cache-status"] == "gateway; fwd=bypass" and sql_counter.statements == []


async def test_every_token_of_one_account_shares_its_bucket(db):
    from resolvers import accounts
    from tests.staff import SECRET

    email = f"two.devices.{uuid.uuid4().hex[:8]}@example.com"
    await accounts.register_customer(email, "long enough password")
    phone, laptop = [
        bearer((await accounts.sign_in(email, "long enough password", SECRET)).access_token) for _ in range(2)
    ]
    async with make_client(db, RATE_LIMIT_PER_SECOND="1", RATE_LIMIT_BURST="4") as client:
        statuses = [
            (await client.post("/graphql", json=QUERY, headers=device)).status_code for device in [phone, laptop] * 3
        ]
    assert statuses[:4] == [200] * 4 and 429 in statuses[4:]


async def test_any_other_authorization_is_refused_without_executing(client):
    for header in ("Bearer", "Bearer not.a.jwt", "Basic dXNlcjpwYXNz", "junk"):
        response = await client.post("/graphql", json=QUERY, headers={"authorization": header})
        assert response.status_code == 401 and response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert (await client.post("/graphql", json=QUERY)).status_code == 200


async def test_sign_in_is_throttled_per_email(db):
    async with make_client(db, LOGIN_ATTEMPTS_PER_MINUTE="3") as client:
        mutation = {
            "query": 'mutation { tokenCreate(email: "victim@example.com", password: "guess") { userErrors { code } } }'
        }
        codes = []
        for _ in range(4):
            body = (await client.post("/graphql", json=mutation)).json()
            codes.append(
                body["errors"][0]["extensions"]["code"]
                if body.get("errors")
                else body["data"]["tokenCreate"]["userErrors"][0]["code"]
            )
        assert codes == ["INVALID_CREDENTIALS"] * 3 + ["RATE_LIMITED"]


async def test_a_guesser_elsewhere_cannot_lock_the_owner_out(db):
    from resolvers import accounts

    email = f"victim.{uuid.uuid4().hex[:8]}@example.com"
    await accounts.register_customer(email, "the right password")
    app = create_app(load_settings({"DATABASE_URL": db.url, "LOGIN_ATTEMPTS_PER_MINUTE": "3"}))
    async with client_from(app, "198.51.100.66") as attacker, client_from(app, "203.0.113.8") as owner:
        guesses = [await sign_in_code(attacker, email, f"guess {n}") for n in range(4)]
        assert guesses == ["INVALID_CREDENTIALS"] * 3 + ["RATE_LIMITED"]
        # The owner, from their own address, signs in all the same.
        assert await sign_in_code(owner, email, "the right password") == "SIGNED_IN"


async def test_guessing_one_account_from_many_addresses_meets_a_ceiling(db):
    email = f"target.{uuid.uuid4().hex[:8]}@example.com"
    app = create_app(load_settings({"DATABASE_URL": db.url, "LOGIN_ATTEMPTS_PER_MINUTE": "1"}))
    codes = []
    for n in range(14):  # a botnet: one guess per address; the account's ceiling is ten a minute here
        async with client_from(app, f"192.0.2.{n + 1}") as bot:
            codes.append(await sign_in_code(bot, email, "guess"))
    # (The bucket refills one guess every six seconds while this runs, hence "in" for the rest.)
    assert codes[:10] == ["INVALID_CREDENTIALS"] * 10 and "RATE_LIMITED" in codes[10:]


async def test_redis_buckets_are_shared_between_workers(redis_url):
    first, second = Redis.from_url(redis_url), Redis.from_url(redis_url)
    try:
        worker_a, worker_b = RedisBuckets(first), RedisBuckets(second)
        key = f"test:{uuid.uuid4().hex}"
        # 20 tokens in all, whichever worker asks: leases are taken from the same bucket.
        results = [await (worker_a if n % 2 else worker_b).take(key, 0.001, 20) for n in range(30)]
        assert sum(1 for r in results if r is None) == 20
        assert all(r is not None and r > 0 for r in results[-5:])
    finally:
        await first.aclose()
        await second.aclose()


async def test_redis_failure_falls_back_to_local_limits():
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    try:
        buckets = RedisBuckets(dead)
        results = [await buckets.take("k", 1.0, 2) for _ in range(3)]
        assert results[:2] == [None, None] and results[2] is not None
    finally:
        await dead.aclose()


async def test_concurrent_requests_respect_the_shared_burst(db, redis_url):
    async with make_client(db, REDIS_URL=redis_url, RATE_LIMIT_PER_SECOND="1", RATE_LIMIT_BURST="10") as client:
        token = bearer(await token_for(staff=False))
        responses = await asyncio.gather(*(client.post("/graphql", json=QUERY, headers=token) for _ in range(20)))
        assert sum(r.status_code == 200 for r in responses) <= 10 + 4  # at most one lease over the burst
        assert any(r.status_code == 429 for r in responses)


def unique_address() -> str:
    """An address no other test (nor an earlier run, whose Redis buckets may linger) has used."""
    return f"2001:db8::{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}"


async def concurrent_statuses(clients: list[httpx.AsyncClient], count: int) -> list[int]:
    """`count` requests at once, spread over `clients` in turn."""
    responses = await asyncio.gather(*(clients[n % len(clients)].post("/graphql", json=QUERY) for n in range(count)))
    return [response.status_code for response in responses]


@pytest.fixture(params=["in process", "redis, 2 workers"])
async def workers(request, db) -> AsyncIterator[Callable[[], list[httpx.AsyncClient]]]:
    """Clients of one address on the gateway's workers, burst 200 and one token a second:
    in process (one worker), or two workers sharing Redis."""
    if db.name != "sqlite":
        pytest.skip("the limiter is the same whatever the database")
    env = {"DATABASE_URL": db.url, "RATE_LIMIT_PER_SECOND": "1", "RATE_LIMIT_BURST": "200"}
    count = 1
    async with AsyncExitStack() as stack:
        if request.param != "in process":
            env["REDIS_URL"] = await stack.enter_async_context(the_test_redis())
            count = 2
        apps = [create_app(load_settings(env)) for _ in range(count)]
        opened: list[httpx.AsyncClient] = []

        def clients() -> list[httpx.AsyncClient]:
            address = unique_address()
            opened.extend(client_from(app, address) for app in apps)
            return opened[-count:]

        yield clients
        for client in opened:
            await client.aclose()


async def test_concurrent_requests_within_the_burst_are_never_refused(workers):
    clients = workers()
    # The case: the client came, paused (its lease lapsed), then came back all at once.
    assert await concurrent_statuses(clients, 1) == [200]
    await asyncio.sleep(LEASE_SECONDS + 0.2)
    statuses = await concurrent_statuses(clients, 150)
    assert statuses.count(429) == 0 and statuses.count(200) == 150


async def test_concurrent_requests_past_the_burst_are_refused_exactly_past_it(workers):
    clients = workers()
    started = time.monotonic()
    statuses = await concurrent_statuses(clients, 300)
    refilled = math.ceil(time.monotonic() - started)  # one token a second came back meanwhile
    assert set(statuses) <= {200, 429}
    assert 100 - refilled <= statuses.count(429) <= 100


async def test_redis_leases_add_up_across_workers_and_come_back_unused(redis_url):
    first, second = Redis.from_url(redis_url), Redis.from_url(redis_url)
    try:
        worker_a, worker_b = RedisBuckets(first), RedisBuckets(second)
        key = f"test:{uuid.uuid4().hex}"
        # Almost no refill (0.001 a second): the figures are exact.
        assert await worker_a.take(key, 0.001, 200) is None  # worker A leases more than one token
        await asyncio.sleep(LEASE_SECONDS + 0.1)  # ... which lapse unspent, and are owed back
        results = await asyncio.gather(*((worker_a, worker_b)[n % 2].take(key, 0.001, 200) for n in range(250)))
        assert sum(result is None for result in results) == 199
        assert all(result is None or result > 0 for result in results)
        # What the workers still hold is theirs to spend or give back: none of it is lost.
        left = await first.hget(f"gateway:rl:{key}", "t")
        held = sum(pool.tokens + pool.returns for worker in (worker_a, worker_b) for pool in worker.pools.values())
        assert float(left) + held == pytest.approx(0, abs=0.01)
    finally:
        await first.aclose()
        await second.aclose()


async def test_tokens_given_back_reach_the_shared_bucket_and_stop_at_the_burst(redis_url):
    first, second = Redis.from_url(redis_url), Redis.from_url(redis_url)
    try:
        worker_a, worker_b = RedisBuckets(first), RedisBuckets(second)
        key = f"test:{uuid.uuid4().hex}"
        assert await worker_a.take(key, 0.001, 100, cost=90) is None
        assert await worker_b.take(key, 0.001, 100, cost=20) is not None  # 10 left, wherever they are
        worker_a.give_back(key, 0.001, 100, 60)  # the operation used 30 of its 90
        assert worker_a.available(key, 0.001, 100) == pytest.approx(70, abs=1)
        # Owed back, and given back with worker A's next round trip:
        assert await worker_a.take(key, 0.001, 100, cost=50) is None
        assert await worker_b.take(key, 0.001, 100, cost=20) is None
        worker_a.give_back(key, 0.001, 100, 1000)  # more than was ever taken: the bucket stops at 100
        assert await worker_a.take(key, 0.001, 100, cost=100) is None
        assert await worker_b.take(key, 0.001, 100, cost=1) is not None
    finally:
        await first.aclose()
        await second.aclose()


def test_local_buckets_take_costs_and_get_them_back():
    buckets = LocalBuckets()
    assert buckets.take_now("k", 1.0, 100, 0.0, cost=90) is None
    assert buckets.take_now("k", 1.0, 100, 0.0, cost=20) == pytest.approx(10)  # 10 short, at 1 a second
    buckets.give_back("k", 1.0, 100, 1000)
    assert buckets.available("k", 1.0, 100) == 100  # never above the burst
    assert buckets.available("unseen", 1.0, 100) == 100
