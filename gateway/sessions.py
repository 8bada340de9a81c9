"""The deny-list of signed-out sessions: in process, or shared through Redis so every worker sees it.

Access tokens are checked by their signature alone, so `tokenRevoke` (or a stolen refresh token
coming back) would leave them working until they expire. Their session (the refresh token family,
the token's `sid`) is listed here for as long as an access token of it can still be valid, and
every signed-in request and subscription event looks it up (`resolvers.accounts.viewer`).

The Redis backend also keeps the entries it writes in process: when Redis fails, this worker
still refuses the sessions it revoked itself, requests go on (errors are logged once a minute),
and other workers learn of revocations made meanwhile only when their tokens expire.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict

from redis.asyncio import Redis

from gateway.breaker import Breaker

log = logging.getLogger("gateway.sessions")


class LocalRevokedSessions:
    """In-process entries, each dropped when it expires; at most `max_entries`, oldest out first."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self.max_entries = max_entries
        self.entries: OrderedDict[str, float] = OrderedDict()  # session -> monotonic expiry

    async def add(self, session: str, ttl_seconds: float) -> None:
        self.add_now(session, ttl_seconds, time.monotonic())

    def add_now(self, session: str, ttl_seconds: float, now: float) -> None:
        self.entries[session] = now + ttl_seconds
        self.entries.move_to_end(session)
        # Every entry lives as long (the access-token TTL): the oldest expire first.
        while self.entries and (len(self.entries) > self.max_entries or next(iter(self.entries.values())) <= now):
            self.entries.popitem(last=False)

    async def contains(self, session: str) -> bool:
        return self.contains_now(session, time.monotonic())

    def contains_now(self, session: str, now: float) -> bool:
        expires = self.entries.get(session)
        return expires is not None and expires > now


class RedisRevokedSessions:
    """One key per revoked session, `gateway:revoked:<sid>`, expiring with the access-token TTL."""

    LOG_INTERVAL = 60.0

    def __init__(self, redis: Redis, prefix: str = "gateway:revoked:", breaker: Breaker | None = None) -> None:
        self.redis = redis
        self.breaker = breaker if breaker is not None else Breaker()
        self.prefix = prefix
        self.local = LocalRevokedSessions()
        self.last_failure_log = 0.0

    async def add(self, session: str, ttl_seconds: float) -> None:
        await self.local.add(session, ttl_seconds)
        try:
            with self.breaker:
                await self.redis.set(self.prefix + session, b"1", px=max(1, int(ttl_seconds * 1000)))
        except Exception as error:  # Redis down or slow: this worker still knows, see the module docstring
            self._log_failure("revoke", error)

    async def contains(self, session: str) -> bool:
        if await self.local.contains(session):
            return True
        try:
            with self.breaker:
                return bool(await self.redis.exists(self.prefix + session))
        except Exception as error:  # never fail a request because the deny-list is unreachable
            self._log_failure("lookup", error)
            return False

    def _log_failure(self, what: str, error: Exception) -> None:
        now = time.monotonic()
        if now - self.last_failure_log > self.LOG_INTERVAL:
            self.last_failure_log = now
            log.error("revoked sessions: Redis %s failed (%s); relying on this process's own list", what, error)
