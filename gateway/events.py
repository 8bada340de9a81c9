"""The event bus: committed changes reach the subscriptions that follow them, in every process.

Two backends behind one interface:

- `LocalBus` (no REDIS_URL): publishing hands the message to this process's subscriptions. Valid
  for one worker only.
- `RedisBus`: publishing PUBLISHes the message on one Redis channel, then hands it to this
  process's subscriptions; every other worker's listener receives it and delivers it to its own
  subscriptions (its own messages it skips). One channel and one listener per process, whatever
  the number of subscriptions: a thousand subscribers to one order cost Redis one message.

Redis pub/sub keeps nothing for a listener that is away. When the listener loses Redis it retries
with backoff; once back, it queues `RESYNC` (reload the current state) for every subscription (reload the current state), since
events published meanwhile are lost. Publishing while Redis is down still reaches this process's
subscribers; errors are logged at most once per interval. Publishing and (re)subscribing go
through the process's Redis circuit breaker (gateway/breaker.py), and a listener that loses its
connection opens it; the listener's own reads wait for messages with a timeout of their own,
so the clients' short socket timeout does not cut them off.

Every change comes with the event id the outbox gave it (resolvers/outbox.py), and may come more
than once: from the process that made it at once, and again from the job that delivers it (or the
redelivery after a crash). Each process hands an event id to its subscriptions once: it remembers
the last `REMEMBERED_EVENTS` ids it delivered.

Each subscription has a bounded queue (`max_queued`). A subscriber that falls that far behind
loses what is queued and gets one `RESYNC` instead: memory stays bounded, and because every event
carries the whole object, the current state is all that subscriber needs to catch up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections import OrderedDict, deque
from collections.abc import Iterable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.breaker import Breaker
from models.changes import RESYNC, Change, Message

log = logging.getLogger("gateway.events")
CHANNEL = "gateway:events"
DEFAULT_MAX_QUEUED = 100
# Event ids each process remembers having delivered: a redelivery comes seconds after the first,
# while thousands of changes a second would pass in that time only under a flood.
REMEMBERED_EVENTS = 50_000
EVENT_ID = "event_id"  # the key of a message's event id (absent from bus-only messages)


class Subscription:
    """One subscriber's bounded queue of messages for some topics. Iterate it; close it when done."""

    def __init__(self, bus: EventBus, topics: tuple[str, ...], max_queued: int) -> None:
        self.bus = bus
        self.topics = topics
        self.max_queued = max_queued
        self._queue: deque[Message] = deque()
        self._ready = asyncio.Event()
        self.dropped = 0  # messages lost to overflow, for tests and metrics

    def push(self, item: Message) -> bool:
        """Queue a message; True when the queue overflowed and RESYNC replaced what it held."""
        overflowed = len(self._queue) >= self.max_queued
        if overflowed:
            self.dropped += len(self._queue)
            self._queue.clear()
            item = RESYNC
        self._queue.append(item)
        self._ready.set()
        return overflowed

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Message:
        while not self._queue:
            self._ready.clear()
            await self._ready.wait()
        return self._queue.popleft()

    def close(self) -> None:
        self.bus._unsubscribe(self)


class EventBus:
    """Local fan-out, shared by both backends."""

    def __init__(self, max_queued: int = DEFAULT_MAX_QUEUED) -> None:
        self.max_queued = max_queued
        self._subscribers: dict[str, set[Subscription]] = {}
        self.delivered = 0  # messages handed to subscriptions
        self.overflows = 0  # subscriptions that fell behind and were told to resync
        self.repeats = 0  # messages skipped because their event id was delivered already
        self._seen: OrderedDict[str, None] = OrderedDict()

    def subscribe(self, topics: Iterable[str]) -> Subscription:
        subscription = Subscription(self, tuple(topics), self.max_queued)
        for topic in subscription.topics:
            self._subscribers.setdefault(topic, set()).add(subscription)
        return subscription

    def _unsubscribe(self, subscription: Subscription) -> None:
        for topic in subscription.topics:
            subscribers = self._subscribers.get(topic)
            if subscribers is not None:
                subscribers.discard(subscription)
                if not subscribers:
                    del self._subscribers[topic]

    @property
    def subscription_count(self) -> int:
        return len({s for subscribers in self._subscribers.values() for s in subscribers})

    def deliver(self, topics: Iterable[str], message: Message) -> None:
        """Hand a message to every local subscription of any of the topics, once each; a message
        whose event id was delivered before is skipped."""
        event_id = message.get(EVENT_ID)
        if isinstance(event_id, str):
            if event_id in self._seen:
                self.repeats += 1
                return
            self._seen[event_id] = None
            if len(self._seen) > REMEMBERED_EVENTS:
                self._seen.popitem(last=False)
        reached: set[Subscription] = set()
        for topic in topics:
            for subscription in self._subscribers.get(topic, ()):
                if subscription not in reached:
                    reached.add(subscription)
                    self.overflows += subscription.push(message)
        self.delivered += len(reached)

    def resync_all(self) -> None:
        for subscription in {s for subscribers in self._subscribers.values() for s in subscribers}:
            subscription.push(RESYNC)

    async def publish(self, topics: tuple[str, ...], message: Message) -> None:
        await self.publish_many([(topics, message)])

    async def publish_many(self, items: list[tuple[tuple[str, ...], Message]], *, strict: bool = False) -> None:
        """Deliver every (topics, message) here and, with Redis, in every other process; `strict`
        raises when the other processes could not be reached (else they resync later)."""
        raise NotImplementedError

    async def announce(self, changes: list[Change]) -> None:
        """The outbox sink: every committed change with topics, to its subscribers."""
        items = _items(changes)
        if items:
            await self.publish_many(items)

    async def redeliver(self, changes: list[Change]) -> None:
        """The outbox consumer: the same as `announce`, but raising when the changes could not reach
        every process, so the delivery is tried again (each process delivers an event id once)."""
        items = _items(changes)
        if items:
            await self.publish_many(items, strict=True)

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass


def _items(changes: list[Change]) -> list[tuple[tuple[str, ...], Message]]:
    return [
        (
            change.topics,
            {"kind": change.kind, **change.payload, **({EVENT_ID: change.event_id} if change.event_id else {})},
        )
        for change in changes
        if change.topics
    ]


class LocalBus(EventBus):
    async def publish_many(self, items: list[tuple[tuple[str, ...], Message]], *, strict: bool = False) -> None:
        for topics, message in items:
            self.deliver(topics, message)


class RedisBus(EventBus):
    RETRY_DELAYS = (0.1, 0.25, 0.5, 1.0, 2.0)
    LOG_INTERVAL = 30.0

    def __init__(
        self,
        redis: Redis,
        max_queued: int = DEFAULT_MAX_QUEUED,
        breaker: Breaker | None = None,
        listener: Redis | None = None,
    ) -> None:
        super().__init__(max_queued)
        self.redis = redis
        # The listener's client should never reconnect by itself (`redis_client(reconnect=False)`):
        # a subscription redis-py re-made silently would hide the messages lost meanwhile.
        self.listener = listener if listener is not None else redis
        self.breaker = breaker if breaker is not None else Breaker()
        # Pub/sub channels ignore Redis's database numbers: name the database in the channel, so
        # deployments sharing a server on different databases do not hear each other.
        self.channel = f"{CHANNEL}:{redis.connection_pool.connection_kwargs.get('db', 0)}"
        # Which process published a message: a listener skips its own, already delivered locally.
        self.origin = f"{os.getpid()}-{os.urandom(4).hex()}"
        self.connected = asyncio.Event()
        # A PUBLISH failed: the other processes' subscribers missed a change, and are told to reload
        # their current state once Redis answers again (at the next publish or listener tick).
        self.missed = False
        self._listener: asyncio.Task[None] | None = None
        self._last_error_log = 0.0

    async def publish_many(self, items: list[tuple[tuple[str, ...], Message]], *, strict: bool = False) -> None:
        # Redis first (one round trip for all of a commit's changes), this process's subscribers
        # after, with no await in between. Delivering wakes every local subscription, and they
        # all run (execute their selection, serialise, send) at the publisher's next real await.
        # Delivered before the PUBLISH, that await was the Redis round trip: the mutation's own
        # response waited for the whole local fan-out (~250 ms for 500 subscribers in the
        # fan-out bench), and a second change of the same commit waited for the first's.
        bodies = [
            json.dumps({"origin": self.origin, "topics": topics, "message": message}, separators=(",", ":"))
            for topics, message in items
        ]
        try:
            if self.missed:
                await self._announce_missed()
            with self.breaker:
                if len(bodies) == 1:
                    await self.redis.publish(self.channel, bodies[0])
                else:
                    async with self.redis.pipeline(transaction=False) as pipe:
                        for body in bodies:
                            pipe.publish(self.channel, body)
                        await pipe.execute()
        except (RedisError, OSError) as error:
            if strict:
                raise  # the caller tries again later (and this process's subscribers get them below)
            # Subscribers in this process still get them below; those elsewhere resync when Redis returns.
            self.missed = True
            self._log_error("publish", error)
        finally:
            for topics, message in items:
                self.deliver(topics, message)

    async def _announce_missed(self) -> None:
        """Tell every other process's subscribers to reload their current state: a change of ours
        never reached them."""
        body = json.dumps({"origin": self.origin, "resync": True}, separators=(",", ":"))
        with self.breaker:
            await self.redis.publish(self.channel, body)
        self.missed = False
        log.warning("event bus: Redis answers again; other processes' subscribers reload what they missed")

    async def start(self) -> None:
        if self._listener is None:
            self._listener = asyncio.create_task(self._listen(), name="event-bus-listener")

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None

    async def _listen(self) -> None:
        failures = 0
        lost = False
        while True:
            pubsub = self.listener.pubsub(ignore_subscribe_messages=True)
            try:
                with self.breaker:
                    await pubsub.subscribe(self.channel)
                self.connected.set()
                if lost:
                    log.warning("event bus: Redis is back; subscribers reload their current state")
                    self.resync_all()
                failures, lost = 0, False
                try:
                    while True:
                        # A timeout, so a dead connection is noticed (the PING inside get_message).
                        message = await pubsub.get_message(timeout=5.0)
                        if message is not None and message.get("type") == "message":
                            self._receive(message["data"])
                        if self.missed:  # no publish may come for a while: tell the others now
                            with contextlib.suppress(RedisError, OSError):
                                await self._announce_missed()
                except (RedisError, OSError) as error:
                    self.breaker.failed(error)  # Redis went away: no user of it need wait to find out
                    raise
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as error:
                self.connected.clear()
                lost = True
                self._log_error("listen", error)
                await asyncio.sleep(self.RETRY_DELAYS[min(failures, len(self.RETRY_DELAYS) - 1)])
                failures += 1
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()

    def _receive(self, data: bytes | str) -> None:
        try:
            envelope = json.loads(data)
            if envelope["origin"] == self.origin:
                return
            if envelope.get("resync"):
                self.resync_all()
                return
            self.deliver(envelope["topics"], envelope["message"])
        except (ValueError, KeyError, TypeError) as error:
            log.error("event bus: dropped a malformed message: %s", error)

    def _log_error(self, what: str, error: Exception) -> None:
        now = time.monotonic()
        if now - self._last_error_log >= self.LOG_INTERVAL:
            self._last_error_log = now
            log.error("event bus: Redis %s failed: %s: %s", what, type(error).__name__, error)
