"""The Redis tier: shared by workers (here: two apps in one process, each with its own in-process
tier and event-bus connection, as two workers have), stampedes across them, and Redis failing."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from redis.asyncio import Redis

from models import Permission
from schema.ids import encode_id
from tests.cache_client import BYPASS, HIT, LISTING, STORED, cache_metrics, gateway, post
from tests.live import RedisProcess
from tests.staff import bearer, token_for
from tests.test_cache import PRODUCT, drop_own_products, own_product  # noqa: F401  (fixture)


async def test_workers_share_the_redis_tier_and_evictions_reach_every_worker(db, redis_url):
    product_id, variant = await own_product(units=2, price="20.00")
    staff = bearer(await token_for(Permission.MANAGE_PRODUCTS))
    update = "mutation($id: ID!, $i: VariantUpdateInput!) { variantUpdate(id: $id, input: $i) { userErrors { code } } }"
    async with gateway(db, REDIS_URL=redis_url) as (one, _), gateway(db, REDIS_URL=redis_url) as (two, _):
        await _until_connected(one, two)
        first = await post(one, PRODUCT, {"id": product_id})
        assert first.headers["cache-status"] == STORED
        shared = await post(two, PRODUCT, {"id": product_id})
        assert shared.headers["cache-status"] == HIT and shared.content == first.content
        assert (await cache_metrics(two))["redis"] == 1
        assert (await post(two, PRODUCT, {"id": product_id})).headers["cache-status"] == HIT  # now local there
        assert (await cache_metrics(two))["local"] == 1

        await post(one, update, {"id": encode_id("ProductVariant", variant.id), "i": {"price": "21.00"}}, headers=staff)
        deadline = time.monotonic() + 1.0
        while True:  # worker two's own tier is evicted through the event bus
            price = (await post(two, PRODUCT, {"id": product_id})).json()["data"]["product"]["variants"][0]["price"][
                "amount"
            ]
            if price == "21.00" or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.02)
        assert price == "21.00"


async def test_the_currency_keeps_entries_apart_in_a_shared_redis(db, redis_url):
    async with (
        gateway(db, REDIS_URL=redis_url) as (eur, _),
        gateway(db, REDIS_URL=redis_url, STORE_CURRENCY="USD") as (usd, _),
    ):
        await _until_connected(eur, usd)
        assert (await post(eur, LISTING, {"n": 1})).headers["cache-status"] == STORED
        dollars = await post(usd, LISTING, {"n": 1})
        assert dollars.headers["cache-status"] == STORED
        assert dollars.json()["data"]["products"]["edges"][0]["node"]["variants"][0]["price"]["currency"] == "USD"


async def test_a_stampede_across_workers_executes_once(db, redis_url):
    query = (
        "query Stampede($n: Int) { products(first: $n, sort: PRICE_DESC) { edges { node { name variants { sku } } } } }"
    )
    async with gateway(db, REDIS_URL=redis_url) as (one, _), gateway(db, REDIS_URL=redis_url) as (two, _):
        await _until_connected(one, two)
        responses = await asyncio.gather(*(post(client, query, {"n": 3}) for _ in range(6) for client in (one, two)))
        assert all(r.status_code == 200 for r in responses) and len({r.content for r in responses}) == 1
        counts = [await cache_metrics(one), await cache_metrics(two)]
        assert sum(c["miss"] for c in counts) == 1  # one execution in all
        assert sum(c["hit"] for c in counts) == 11
        assert [r.headers["cache-status"] for r in responses].count(STORED) == 1


async def test_a_lock_that_cannot_be_had_degrades_to_executing(db, redis_url):
    async with (
        gateway(db, REDIS_URL=redis_url) as (one, _),
        gateway(db, REDIS_URL=redis_url, CACHE_LOCK_TIMEOUT_MS="300") as (two, _),
    ):
        await _until_connected(one, two)
        assert (await post(one, LISTING, {"n": 5})).headers["cache-status"] == STORED
        redis = Redis.from_url(redis_url)
        try:
            # The one entry stored (the test's Redis database starts empty).
            [entry] = [name async for name in redis.scan_iter("gateway:cache:e:*")]
            key = entry.decode().removeprefix("gateway:cache:e:")
            # Another process holds the fill lock and never finishes; the entry is gone.
            await redis.delete(f"gateway:cache:e:{key}")
            await redis.set(f"gateway:cache:l:{key}", "someone-else", px=60_000)
            started = time.monotonic()
            response = await post(two, LISTING, {"n": 5})
            waited = time.monotonic() - started
        finally:
            await redis.aclose()
        assert response.status_code == 200 and not response.json().get("errors")
        assert response.headers["cache-status"] == STORED and 0.3 <= waited < 5
        assert (await cache_metrics(two))["lock_timeouts"] == 1


@pytest.mark.slow  # a Redis of its own, stopped and started
async def test_redis_stopped_mid_run_then_back(db, caplog):
    server = RedisProcess()
    server.start()
    try:
        async with gateway(db, REDIS_URL=server.url) as (client, _app):
            await _until_connected(client)
            assert (await post(client, LISTING, {"n": 2})).headers["cache-status"] == STORED
            assert (await post(client, LISTING, {"n": 2})).headers["cache-status"] == HIT

            server.stop()
            statuses = []
            with caplog.at_level(logging.ERROR, logger="gateway.cache"):
                deadline = time.monotonic() + 5
                while time.monotonic() < deadline:
                    response = await post(client, LISTING, {"n": 2})
                    assert response.status_code == 200 and response.json()["data"]["products"]["edges"]
                    statuses.append(response.headers["cache-status"])
                    if statuses[-3:] == [BYPASS] * 3:
                        break
                    await asyncio.sleep(0.05)
                for n in (3, 4, 5):  # new queries too: answered, past the cache
                    other = await post(client, LISTING, {"n": n})
                    assert other.status_code == 200 and other.headers["cache-status"] == BYPASS
            assert statuses[-1] == BYPASS
            assert len([r for r in caplog.records if r.name == "gateway.cache" and r.levelno >= logging.ERROR]) <= 1
            ready = await client.get("/readyz")
            # Redis away is reported, not a 503: the gateway still serves (CONTRACT.md).
            assert ready.status_code == 200 and ready.json()["redis"] == "degraded"

            server.start()
            deadline = time.monotonic() + 15
            while True:  # resumes by itself; Redis restarted empty (--save ''), so first a store
                response = await post(client, LISTING, {"n": 2})
                assert response.status_code == 200
                status = response.headers["cache-status"]
                if status == STORED or time.monotonic() > deadline:
                    break
                assert status == BYPASS, status  # nothing else while it comes back
                await asyncio.sleep(0.1)
            assert status == STORED
            assert (await post(client, LISTING, {"n": 2})).headers["cache-status"] == HIT
            ready = await client.get("/readyz")
            assert ready.status_code == 200 and ready.json()["cache"] == "ok" and ready.json()["redis"] == "ok"
    finally:
        server.stop()


async def _until_connected(*clients) -> None:
    """The event-bus listeners subscribe in the background; the cache waits for them (and
    /readyz says so)."""
    deadline = time.monotonic() + 5
    for client in clients:
        while (await client.get("/readyz")).json().get("cache") != "ok":
            assert time.monotonic() < deadline, "the event bus never connected to Redis"
            await asyncio.sleep(0.02)
