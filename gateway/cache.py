"""The hot-query response cache: what to do on a miss, how changes evict, and Redis trouble.

Storefront catalogue queries repeat endlessly; answering them should cost what HTTP costs, not
what GraphQL execution costs (~25 ms for a 50-product page here, against ~60 µs for a hit). The
HTTP side (`gateway.cache_http`) answers hits before any routing; this module holds the tiers:

- **in-process** (`cache_local.LocalTier`): bounded in bytes, least recently used out first;
- **Redis** (`cache_redis.RedisTier`): shared by every worker; absent without `REDIS_URL`.

A miss is executed once per process (the first request becomes the *leader*, the identical
requests meanwhile await its result: single flight) and, with Redis, once across processes (the
leader takes a short Redis lock; a process that cannot take it polls for the entry, and after
`lock_timeout` executes anyway: a lock never turns into an error).

Invalidation: resolvers record tags for everything they change (resolvers/catalogue_changes.py);
after the commit the outbox hands them to `on_changes`, which evicts this process's tier at once
and the Redis tier once; the change also goes out on the event bus topic `cache`, and every
worker's `_follow` task evicts its own tier. A TTL bounds every entry as a safety net.

Redis failure: Redis is where the other workers' invalidations come from, so while it (or the
bus's connection to it) is unreachable, or the process's Redis circuit breaker is open
(gateway/breaker.py: some user of Redis saw it fail or hang), the whole cache, the in-process
tier included, is bypassed: answers stay correct, only slower. Errors are logged once per
interval. A recovery task pings Redis; once it answers (and the bus is back), the invalidations
that could not be sent are replayed, this process's tier is cleared (it may have missed some)
and caching resumes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.breaker import Breaker
from gateway.cache_keys import NOT_CACHEABLE, Aliases, Normalizer, NotCacheable, decode, entry_key, with_database
from gateway.cache_local import Entry, LocalTier
from gateway.cache_redis import MAX_FILL_SECONDS, RedisTier
from gateway.cache_stats import CacheStats
from gateway.events import REMEMBERED_EVENTS, EventBus
from gateway.graphql_http import RequestError
from gateway.persisted import PersistedQueries
from models.changes import CACHE, CATALOGUE, RESYNC, Change
from models.error_codes import GraphQLErrorCode

log = logging.getLogger("gateway.cache")
RECOVERY_INTERVAL = 0.5
# How long identical requests in one process wait for their leader's execution. The leader's own
# wait is bounded (`lock_timeout`), then it executes; only a hung execution makes this expire.
FOLLOW_TIMEOUT = 30.0
MAX_PENDING_TAGS = 10_000  # invalidations kept for a Redis that is away; beyond this, flush all


@dataclass(slots=True)
class Executed:
    """A miss's own response, captured while the application produced it."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    entry: Entry | None  # what may be stored: a 200 without errors; None otherwise


@dataclass(slots=True)
class Outcome:
    entry: Entry | None  # the stored answer to send (a hit, or a miss that was stored)
    executed: Executed | None  # this request's own execution, when it had one


class ResponseCache:
    def __init__(
        self,
        *,
        prefix: bytes,
        normalizer: Normalizer,
        ttl: float,
        max_bytes: int,
        lock_timeout: float,
        redis: Redis | None,
        bus: EventBus,
        persisted: PersistedQueries,
        breaker: Breaker | None = None,
        identify: Callable[[], Awaitable[str]] | None = None,
    ) -> None:
        self.prefix = prefix
        # Reads the database's identity, which `start` folds into the prefix.
        self.identify = identify
        self.persisted = persisted
        self.normalizer = normalizer
        self.ttl = ttl
        self.lock_timeout = lock_timeout
        self.stats = CacheStats()
        self.local = LocalTier(max_bytes, self.stats)
        self.breaker = breaker if breaker is not None else Breaker()
        self.remote = (
            RedisTier(redis, ttl, lock_seconds=max(5.0, 2 * lock_timeout), breaker=self.breaker)
            if redis is not None
            else None
        )
        self.aliases = Aliases()
        self.bus = bus
        # Marks the changes this cache already applied, so its own follower skips them.
        self.instance = f"{os.getpid()}-{os.urandom(4).hex()}"
        # The bus's connection to Redis is how other workers' invalidations arrive.
        self._bus_connected: asyncio.Event | None = getattr(bus, "connected", None) if redis is not None else None
        self._redis_ok = True
        self._inflight: dict[str, asyncio.Future[Entry | None]] = {}
        self._pending: set[str] = set()  # tags Redis has not been told about yet
        self._applied: OrderedDict[str, None] = OrderedDict()  # event ids evicted for, latest last
        self._pending_all = False
        self._last_error_log = 0.0
        self._follower: asyncio.Task[None] | None = None
        self._recovery: asyncio.Task[None] | None = None

    # --- state ---------------------------------------------------------------------------

    @property
    def active(self) -> bool:
        """Whether the cache may be used now (False while Redis or the bus is unreachable)."""
        if not self._redis_ok or not self.breaker.closed:
            return False
        connected = self._bus_connected
        return connected is None or connected.is_set()

    def note_inactive(self) -> None:
        """Called on the (slow) bypass path: if the bus lost Redis, recover through a ping first.

        Without this, a cache that had only served in-process hits would resume the moment the
        bus reconnects, before its own connections to Redis were known to work again.
        """
        if self._redis_ok and self.remote is not None:
            self._redis_ok = False
            self._start_recovery()

    # --- keys ----------------------------------------------------------------------------

    async def resolve(
        self, is_get: bool, accept: bytes, content_type: bytes, raw: bytes, digest: bytes
    ) -> str | NotCacheable:
        """A request not seen before: decode, find its document, normalize, key; remembered under
        its digest (except a persisted-query hash not registered yet: it may be soon)."""
        params = decode(is_get, content_type, raw)
        if params is None:
            self.aliases.put(digest, NOT_CACHEABLE)
            return NOT_CACHEABLE
        try:
            resolved = await self.persisted.resolve(params.query, params.extensions)
        except RequestError as error:
            if error.code != GraphQLErrorCode.PERSISTED_QUERY_NOT_FOUND:
                self.aliases.put(digest, NOT_CACHEABLE)
            return NOT_CACHEABLE
        if resolved.register:
            return NOT_CACHEABLE  # an APQ registration: the view must see it (once) to store it
        target: str | NotCacheable = NOT_CACHEABLE
        normalized = self.normalizer.normalize(resolved.document, params.operation_name)
        if normalized is not None:
            target = entry_key(self.prefix, accept, normalized, params.variables or {})
        self.aliases.put(digest, target)
        return target

    # --- lookups and fills ---------------------------------------------------------------

    async def fetch(self, key: str, execute: Callable[[], Awaitable[Executed]]) -> Outcome:
        """The answer for `key` after the in-process tier missed: from Redis, or executed once."""
        flight = self._inflight.get(key)
        if flight is None and self.remote is not None:
            local_seq = self.local.seq
            entry = await self._remote_entry(key)
            if entry is not None:
                self.local.put(key, entry, local_seq)
                self.stats.hits_redis += 1
                return Outcome(entry, None)
            flight = self._inflight.get(key)  # another request may have started it meanwhile
        if flight is not None:
            try:
                entry = await asyncio.wait_for(asyncio.shield(flight), FOLLOW_TIMEOUT)
            except TimeoutError:
                entry = None
            if entry is not None:
                self.stats.hits_collapsed += 1
                return Outcome(entry, None)
            # The leader's answer was not storable (errors, or invalidated meanwhile): our own.
            return await self._fill(key, execute, None)
        future: asyncio.Future[Entry | None] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            outcome = await self._fill(key, execute, future)
        finally:
            del self._inflight[key]
            if not future.done():
                future.set_result(None)  # the leader failed: followers execute for themselves
        return outcome

    async def _fill(
        self, key: str, execute: Callable[[], Awaitable[Executed]], future: asyncio.Future[Entry | None] | None
    ) -> Outcome:
        local_seq = self.local.seq
        started = time.monotonic()
        remote, token, remote_seq = self.remote, None, None
        if remote is not None and self.active:
            try:
                token, remote_seq = await remote.begin_fill(key)
                if token is None:
                    # Another process is executing it: wait for its result rather than repeat it.
                    data = await remote.wait_for(key, self.lock_timeout)
                    entry = Entry.decode(data) if data is not None else None
                    if entry is not None and entry.expires_at > time.time():
                        self.local.put(key, entry, local_seq)
                        self.stats.hits_collapsed += 1
                        if future is not None:
                            future.set_result(entry)
                        return Outcome(entry, None)
                    self.stats.lock_timeouts += 1
            except (RedisError, OSError) as error:
                self._failed("fill", error)
                remote_seq = None
        self.stats.misses += 1
        executed = await execute()
        entry, stored = executed.entry, False
        try:
            if entry is not None and self.active and time.monotonic() - started < MAX_FILL_SECONDS:
                if remote is not None:
                    if remote_seq is not None:
                        try:
                            stored = await remote.store(key, entry.encode(), entry.tags, remote_seq)
                        except (RedisError, OSError) as error:
                            self._failed("store", error)
                    # Only what Redis accepted is kept here: it knows every worker's invalidations.
                    if stored and self.active:
                        self.local.put(key, entry, local_seq)
                else:
                    stored = self.local.put(key, entry, local_seq)
        finally:
            if token is not None and remote is not None:
                try:
                    await remote.release(key, token)
                except (RedisError, OSError) as error:
                    self._failed("unlock", error)  # it expires by itself
        if stored:
            self.stats.stored += 1
        if future is not None and not future.done():
            future.set_result(entry if stored else None)
        return Outcome(entry if stored else None, executed)

    async def _remote_entry(self, key: str) -> Entry | None:
        assert self.remote is not None
        try:
            data = await self.remote.get(key)
        except (RedisError, OSError) as error:
            self._failed("get", error)
            return None
        if data is None:
            return None
        # Tags are needed only to keep the entry in this process's tier too.
        entry = Entry.decode(data, with_tags=self.local.max_bytes > 0)
        return entry if entry is not None and entry.expires_at > time.time() else None

    # --- invalidation --------------------------------------------------------------------

    async def on_changes(self, changes: list[Change]) -> None:
        """The outbox sink's cache part: evict what committed changes made stale."""
        tags: set[str] = set()
        for change in changes:
            if change.event_id:
                self._applied[change.event_id] = None
                if len(self._applied) > REMEMBERED_EVENTS:
                    self._applied.popitem(last=False)
            tags |= change.tags
            if change.tags and CACHE in change.topics:
                # The bus also hands this change to our own follower, later: by then a request may
                # have stored the fresh answer, which evicting again would throw away.
                change.payload["applied_by"] = self.instance
        if tags:
            await self.invalidate(tags)

    async def redeliver(self, changes: list[Change]) -> None:
        """The outbox consumer: `on_changes` for the events this process has not applied yet (a
        change made here was applied at its commit; one a killed process made was not)."""
        fresh = [change for change in changes if change.event_id not in self._applied]
        if fresh:
            await self.on_changes(fresh)

    async def invalidate(self, tags: set[str]) -> None:
        # This process first, synchronously: the client that made the change may ask again at once.
        self.local.invalidate(tags)
        if self.remote is None:
            return
        if not self._redis_ok:
            self._keep_pending(tags)
            return
        try:
            self.stats.evictions["redis"] += await self.remote.invalidate(sorted(tags))
        except (RedisError, OSError) as error:
            self._failed("invalidate", error)
            self._keep_pending(tags)

    def _keep_pending(self, tags: set[str]) -> None:
        self._pending |= tags
        if len(self._pending) > MAX_PENDING_TAGS:
            self._pending.clear()
            self._pending_all = True

    async def _follow(self) -> None:
        """Evict this process's tier as other workers' changes arrive over the event bus."""
        subscription = self.bus.subscribe((CACHE,))
        try:
            async for message in subscription:
                if message is RESYNC:
                    self.local.clear()  # messages were lost: anything here may be stale
                elif message.get("applied_by") != self.instance:
                    tags = message.get("tags")
                    if isinstance(tags, list):
                        if "*" in tags:  # a worker replayed lost invalidations wholesale
                            self.local.clear()
                        else:
                            self.local.invalidate(tags)
        finally:
            subscription.close()

    # --- Redis failure -------------------------------------------------------------------

    def _failed(self, what: str, error: Exception) -> None:
        self.stats.redis_errors += 1
        now = time.monotonic()
        if now - self._last_error_log >= 30.0:
            self._last_error_log = now
            log.error(
                "response cache: Redis %s failed (%s: %s); bypassing the cache until it answers",
                what,
                type(error).__name__,
                error,
            )
        if self._redis_ok:
            self._redis_ok = False
            self._start_recovery()

    def _start_recovery(self) -> None:
        if self._recovery is None or self._recovery.done():
            self._recovery = asyncio.get_running_loop().create_task(self._recover(), name="cache-recovery")

    async def _recover(self) -> None:
        assert self.remote is not None
        while True:
            await asyncio.sleep(RECOVERY_INTERVAL)
            if self._bus_connected is not None and not self._bus_connected.is_set():
                continue
            try:
                await self.remote.ping()
                if self._pending_all:
                    await self.remote.invalidate_all()
                    await self.bus.publish((CACHE,), {"kind": CATALOGUE, "tags": ["*"]})
                elif self._pending:
                    tags = sorted(self._pending)
                    await self.remote.invalidate(tags)
                    # The other workers missed these too (the bus could not carry them).
                    await self.bus.publish((CACHE,), {"kind": CATALOGUE, "tags": tags})
            except (RedisError, OSError) as error:
                self.stats.redis_errors += 1
                log.debug("response cache: Redis still unreachable: %s", error)
                continue
            self._pending.clear()
            self._pending_all = False
            self.local.clear()
            self._redis_ok = True
            log.warning("response cache: Redis answers again; caching resumed")
            return

    # --- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        if self.identify is not None:
            self.prefix = with_database(self.prefix, await self.identify())
            self.identify = None
            self.aliases = Aliases()  # keys made with the old prefix
        if self._follower is None:
            self._follower = asyncio.get_running_loop().create_task(self._follow(), name="cache-follower")

    async def close(self) -> None:
        for task in (self._follower, self._recovery):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._follower = self._recovery = None
        if self.remote is not None:
            await self.remote.redis.aclose()

    def describe(self) -> dict[str, Any]:
        """For /readyz: what the cache is doing now."""
        if self.remote is None:
            return {}  # nothing to report: the in-process tier cannot be unreachable
        return {"cache": "ok" if self.active else "bypassed (Redis unreachable)"}
