"""The event bus: local fan-out, bounded queues, Redis between processes, and surviving a Redis restart."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.breaker import Breaker
from gateway.events import RESYNC, LocalBus, RedisBus
from models.changes import Change
from tests.live import RedisProcess


async def next_message(subscription, timeout: float = 5.0) -> dict:
    return await asyncio.wait_for(anext(subscription), timeout)


async def nothing_queued(subscription, wait: float = 0.2) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(anext(subscription), wait)


async def test_each_subscription_gets_a_message_once_whatever_topics_match():
    bus = LocalBus()
    both = bus.subscribe(["order:1", "orders"])
    other = bus.subscribe(["order:2"])
    await bus.publish(("order:1", "orders"), {"kind": "order", "id": 1})
    assert await next_message(both) == {"kind": "order", "id": 1}
    await nothing_queued(both)
    await nothing_queued(other)
    both.close()
    other.close()
    assert bus.subscription_count == 0


async def test_a_slow_subscriber_is_bounded_and_told_to_resync():
    bus = LocalBus(max_queued=3)
    slow = bus.subscribe(["orders"])
    for number in range(10):
        await bus.publish(("orders",), {"kind": "order", "id": number})
    # Never more than max_queued held: a full queue is dropped for one RESYNC (reload the current
    # state, which includes whatever was dropped). 0-2 queued; 3 overflows; RESYNC, 4, 5; 6
    # overflows; RESYNC, 7, 8; 9 overflows: RESYNC alone.
    assert slow.dropped == 9
    assert await next_message(slow) is RESYNC
    await nothing_queued(slow)
    await bus.publish(("orders",), {"kind": "order", "id": 10})
    assert await next_message(slow) == {"kind": "order", "id": 10}
    slow.close()


async def test_redis_carries_messages_between_processes(redis_url):
    clients = [Redis.from_url(redis_url), Redis.from_url(redis_url)]
    worker_a, worker_b = RedisBus(clients[0]), RedisBus(clients[1])
    await worker_a.start()
    await worker_b.start()
    try:
        await asyncio.wait_for(asyncio.gather(worker_a.connected.wait(), worker_b.connected.wait()), 5)
        on_a, on_b = worker_a.subscribe(["order:7"]), worker_b.subscribe(["order:7"])
        await worker_a.publish(("order:7", "orders"), {"kind": "order", "id": 7})
        assert await next_message(on_a) == {"kind": "order", "id": 7}
        assert await next_message(on_b) == {"kind": "order", "id": 7}
        # The publisher's own listener skips what it already delivered locally.
        await nothing_queued(on_a)
    finally:
        for bus in (worker_a, worker_b):
            await bus.close()
        for client in clients:
            await client.aclose()


async def test_a_failed_publish_makes_the_other_processes_reload_once_redis_answers(redis_url):
    # Worker A's PUBLISH fails (its client reaches no Redis): B's subscriber misses the change, and
    # is told to reload its current state as soon as A can publish again, without another change.
    # The same database number (the bus's channel is named after it), on a port nothing listens on.
    dead = Redis.from_url("redis://127.0.0.1:1/" + redis_url.rsplit("/", 1)[1], socket_connect_timeout=0.2)
    clients = [Redis.from_url(redis_url), Redis.from_url(redis_url), Redis.from_url(redis_url)]
    worker_a = RedisBus(dead, breaker=Breaker(interval=0.1), listener=clients[0])
    worker_b = RedisBus(clients[1])
    await worker_a.start()
    await worker_b.start()
    try:
        await asyncio.wait_for(asyncio.gather(worker_a.connected.wait(), worker_b.connected.wait()), 5)
        on_b = worker_b.subscribe(["order:7"])
        await worker_a.publish(("order:7",), {"kind": "order", "id": 7})
        assert worker_a.missed
        await nothing_queued(on_b)
        worker_a.redis = clients[2]  # Redis answers A again
        assert await next_message(on_b, timeout=10) is RESYNC
        assert not worker_a.missed
    finally:
        for bus in (worker_a, worker_b):
            await bus.close()
        for client in (dead, *clients):
            await client.aclose()


@pytest.fixture
def own_redis():
    server = RedisProcess()
    server.start()
    yield server
    server.stop()


@pytest.mark.slow  # a Redis of its own, stopped and started
async def test_subscribers_resume_after_redis_restarts(own_redis):
    clients = [Redis.from_url(own_redis.url), Redis.from_url(own_redis.url)]
    worker_a, worker_b = RedisBus(clients[0]), RedisBus(clients[1])
    for bus in (worker_a, worker_b):
        await bus.start()
    try:
        await asyncio.wait_for(asyncio.gather(worker_a.connected.wait(), worker_b.connected.wait()), 5)
        listener = worker_b.subscribe(["order:1"])
        own_redis.stop()
        # Publishing while Redis is down neither raises nor loses the local delivery.
        local = worker_a.subscribe(["order:1"])
        await worker_a.publish(("order:1",), {"kind": "order", "id": 1, "v": 1})
        assert await next_message(local) == {"kind": "order", "id": 1, "v": 1}
        own_redis.start()
        # Worker B missed that message: once its listener is back it is told to reload.
        assert await next_message(listener, timeout=15) is RESYNC
        await asyncio.wait_for(worker_a.connected.wait(), 15)
        await worker_a.publish(("order:1",), {"kind": "order", "id": 1, "v": 2})
        message = await next_message(listener)
        while message is RESYNC:  # worker A's own word that its publish was lost (B's listener said so first)
            message = await next_message(listener)
        assert message == {"kind": "order", "id": 1, "v": 2}
    finally:
        for bus in (worker_a, worker_b):
            await bus.close()
        for client in clients:
            await client.aclose()


async def test_an_event_id_reaches_the_subscriptions_once_however_often_it_is_delivered():
    # The outbox delivers at least once: at the commit, then again from its job (or a redelivery).
    bus = LocalBus()
    follower = bus.subscribe(["order:1"])
    change = Change("order", {"id": 1, "status": "PAID"}, ("order:1",), event_id="e-1")
    await bus.announce([change])
    await bus.redeliver([change])
    assert await next_message(follower) == {"kind": "order", "id": 1, "status": "PAID", "event_id": "e-1"}
    await nothing_queued(follower)
    assert bus.repeats == 1
    await bus.redeliver([Change("order", {"id": 1, "status": "SHIPPED"}, ("order:1",), event_id="e-2")])
    assert (await next_message(follower))["status"] == "SHIPPED"
    follower.close()


async def test_a_redelivery_that_cannot_reach_the_other_processes_raises():
    # Nothing listens on port 1: the delivery fails, and the outbox tries it again later.
    unreachable = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    bus = RedisBus(unreachable, breaker=Breaker())
    here = bus.subscribe(["order:1"])
    change = Change("order", {"id": 1}, ("order:1",), event_id="e-3")
    with pytest.raises((RedisError, OSError)):
        await bus.redeliver([change])
    assert (await next_message(here))["event_id"] == "e-3"  # this process's subscribers still have it
    assert not bus.missed  # the outbox retries it: no resync needed
    here.close()
    await unreachable.aclose()
