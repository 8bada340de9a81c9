"""Every wait on Redis bounded: the circuit breaker, each Redis user's fallback while it is open,
and a gateway whose Redis hangs (SIGSTOP) serving on without waiting on it for every request."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from gateway.breaker import Breaker, RedisUnavailable, redis_client
from gateway.cache_redis import RedisTier
from gateway.events import RedisBus
from gateway.persisted import RedisDocuments
from gateway.ratelimit import RedisBuckets
from gateway.settings import ConfigError, load_settings
from tests.cache_client import BYPASS, HIT, LISTING, STORED, gateway, metric, post
from tests.live import RedisProcess


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    "name,value",
    [
        ("REDIS_TIMEOUT_MS", "0"),
        ("REDIS_TIMEOUT_MS", "fast"),
        ("REDIS_BREAKER_SECONDS", "0"),
        ("REDIS_BREAKER_SECONDS", "1.5"),
    ],
)
def test_bad_bounds_stop_start_up_naming_the_variable(name, value):
    with pytest.raises(ConfigError, match=f"^{name}:"):
        load_settings({name: value})
    assert load_settings({}).redis_timeout_ms == 500 and load_settings({}).redis_breaker_seconds == 2


def test_a_failure_opens_it_and_one_trial_per_interval_goes_through():
    clock = Clock()
    breaker = Breaker(interval=2.0, clock=clock)
    with breaker:
        pass  # closed: calls go through
    with pytest.raises(RedisTimeoutError), breaker:
        raise RedisTimeoutError("Timeout reading from socket")
    assert not breaker.closed and breaker.trips == 1 and breaker.failures == 1
    for _ in range(3):
        with pytest.raises(RedisUnavailable), breaker:
            pytest.fail("an open breaker must not run the call")
    assert breaker.refused == 3

    clock.now += 2.0
    # The trial, and a second call while it runs.
    with breaker, pytest.raises(RedisUnavailable), breaker:
        pytest.fail("only one trial at a time")
    assert breaker.closed and breaker.failures == 1


def test_a_failed_trial_opens_it_for_another_interval():
    clock = Clock()
    breaker = Breaker(interval=2.0, clock=clock)
    breaker.failed(ConnectionRefusedError())
    clock.now += 2.5
    with pytest.raises(ConnectionRefusedError), breaker:
        raise ConnectionRefusedError()
    clock.now += 1.9
    with pytest.raises(RedisUnavailable), breaker:
        pass
    clock.now += 0.1
    with breaker:
        pass
    assert breaker.closed and breaker.trips == 1 and breaker.failures == 2


def test_only_a_missing_or_silent_redis_counts_as_a_failure():
    clock = Clock()
    breaker = Breaker(interval=2.0, clock=clock)
    with pytest.raises(ResponseError), breaker:
        raise ResponseError("WRONGTYPE")  # Redis answered
    with pytest.raises(asyncio.CancelledError), breaker:
        raise asyncio.CancelledError()  # the client hung up
    assert breaker.closed and breaker.failures == 0

    breaker.failed(ConnectionRefusedError())
    clock.now += 2.0
    with pytest.raises(asyncio.CancelledError), breaker:
        raise asyncio.CancelledError()  # a trial cancelled: the breaker stays open...
    with pytest.raises(RedisUnavailable), breaker:
        pass
    clock.now += 2.0
    with breaker:  # ...and lets the next trial through an interval later
        pass
    assert breaker.closed


async def test_every_redis_user_takes_its_fallback_without_calling_redis_while_open():
    # Nothing listens on port 1: any call that reached the network would fail and be counted.
    redis = redis_client("redis://127.0.0.1:1/0", 0.2)
    breaker = Breaker(interval=60)
    breaker.failed(ConnectionRefusedError())
    failures = breaker.failures
    try:
        limiter = RedisBuckets(redis, breaker=breaker)
        assert [await limiter.take("ip:203.0.113.1", 1.0, 2) for _ in range(2)] == [None, None]
        assert await limiter.take("ip:203.0.113.1", 1.0, 2) is not None  # limited in this process

        assert await RedisDocuments(redis, breaker=breaker).get("a" * 64) is None

        bus = RedisBus(redis, breaker=breaker)
        local = bus.subscribe(["order:1"])
        await bus.publish(("order:1",), {"kind": "order", "id": 1})
        assert await asyncio.wait_for(anext(local), 1) == {"kind": "order", "id": 1}

        tier = RedisTier(redis, 60, 5, breaker=breaker)
        with pytest.raises(RedisUnavailable):
            await tier.get("key")
        assert breaker.failures == failures and breaker.refused == 6  # three takes, one each for the others
    finally:
        await redis.aclose()


@pytest.mark.slow  # a Redis of its own
async def test_the_bus_listener_outlives_the_short_socket_timeout_and_redis_restarts():
    server = RedisProcess()
    server.start()
    # As create_app makes them: short timeouts, and a listener client that never reconnects by itself.
    clients = [redis_client(server.url, 0.1, reconnect=reconnect) for _ in range(2) for reconnect in (True, False)]
    worker_a = RedisBus(clients[0], listener=clients[1])
    worker_b = RedisBus(clients[2], listener=clients[3])
    try:
        for bus in (worker_a, worker_b):
            await bus.start()
        await asyncio.wait_for(asyncio.gather(worker_a.connected.wait(), worker_b.connected.wait()), 5)
        listener = worker_b.subscribe(["order:1"])
        await asyncio.sleep(0.5)  # idle for several socket timeouts: the listener must still be there
        await worker_a.publish(("order:1",), {"kind": "order", "id": 1, "v": 1})
        assert await asyncio.wait_for(anext(listener), 5) == {"kind": "order", "id": 1, "v": 1}
        assert worker_b.breaker.closed

        server.stop()
        server.start()
        assert await asyncio.wait_for(anext(listener), 15) == {"kind": "resync"}
        await asyncio.wait_for(worker_a.connected.wait(), 15)
        for _ in range(100):  # worker A's breaker may still be open from the restart: it retries
            await worker_a.publish(("order:1",), {"kind": "order", "id": 1, "v": 2})
            if worker_a.breaker.closed:
                break
            await asyncio.sleep(0.1)
        assert await asyncio.wait_for(anext(listener), 5) == {"kind": "order", "id": 1, "v": 2}
    finally:
        for bus in (worker_a, worker_b):
            await bus.close()
        for client in clients:
            await client.aclose()
        server.stop()


@pytest.mark.slow  # a Redis of its own, paused
async def test_a_hung_redis_costs_one_timeout_per_breaker_interval_not_one_per_request(db):
    server = RedisProcess()
    server.start()
    env = {
        "REDIS_URL": server.url,
        "RATE_LIMIT_PER_SECOND": "1000",
        "RATE_LIMIT_BURST": "10000",
        "REDIS_TIMEOUT_MS": "300",
        "REDIS_BREAKER_SECONDS": "1",
    }
    try:
        async with gateway(db, **env) as (client, app):
            deadline = time.monotonic() + 5
            while not app.state.cache.active:
                assert time.monotonic() < deadline, "the event bus never connected to Redis"
                await asyncio.sleep(0.02)
            assert (await post(client, LISTING, {"n": 2})).headers["cache-status"] == STORED
            assert (await post(client, LISTING, {"n": 2})).headers["cache-status"] == HIT

            os.kill(server.process.pid, signal.SIGSTOP)

            async def batch() -> list:
                # One after another: with a wait per request, their times would add up.
                return [await post(client, LISTING, {"n": 1 + n % 4}) for n in range(30)]

            started = time.monotonic()
            responses = await asyncio.wait_for(batch(), 30)
            elapsed = time.monotonic() - started
            for response in responses:
                assert response.status_code == 200, response.text
                body = response.json()
                assert not body.get("errors") and body["data"]["products"]["edges"]
            assert responses[-1].headers["cache-status"] == BYPASS
            text = (await client.get("/metrics")).text
            waited = metric(text, "gateway_redis_failures_total")
            # The first call that found Redis silent, then at most one trial per interval.
            assert waited <= 2 + elapsed / 1.0, (waited, elapsed)
            assert metric(text, "gateway_redis_refused_total") > 0
            assert metric(text, "gateway_redis_breaker_open") == 1
            assert elapsed < 10, elapsed  # 30 requests each waiting 0.3 s in two places: 18 s
            ready = await client.get("/readyz")
            assert ready.status_code == 200 and ready.json()["redis"] == "degraded"

            os.kill(server.process.pid, signal.SIGCONT)
            deadline = time.monotonic() + 15
            while True:  # the gateway goes back to Redis by itself
                response = await post(client, LISTING, {"n": 3})
                assert response.status_code == 200 and not response.json().get("errors")
                if response.headers["cache-status"] in (STORED, HIT) or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.1)
            assert response.headers["cache-status"] in (STORED, HIT)
            assert (await post(client, LISTING, {"n": 3})).headers["cache-status"] == HIT
            text = (await client.get("/metrics")).text
            assert metric(text, "gateway_redis_breaker_open") == 0
            ready = await client.get("/readyz")
            assert ready.status_code == 200 and ready.json()["redis"] == "ok" and ready.json()["cache"] == "ok"
            # The rate limiter leases from Redis again.
            direct = Redis.from_url(server.url)
            try:
                await direct.delete(*[key async for key in direct.scan_iter(match="gateway:rl:*")])
                for _ in range(6):  # more than one lease's worth
                    assert (await post(client, LISTING, {"n": 3})).status_code == 200
                assert [key async for key in direct.scan_iter(match="gateway:rl:*")]
            finally:
                await direct.aclose()
    finally:
        if server.process is not None:
            os.kill(server.process.pid, signal.SIGCONT)
        server.stop()
