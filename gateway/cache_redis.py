"""The Redis tier: stored responses shared by every worker, their tag sets, and the fill lock.

Keys, under one namespace:

- `e:<key>`: the entry (`Entry.encode()`), expiring after the TTL;
- `t:<tag>`: the set of entry keys holding the tag, kept alive as long as its newest entry;
- `seq`: a counter bumped by every invalidation, and `s:<tag>`: its value when the tag was last
  invalidated (`s:*` for "everything"). A fill reads `seq` before it executes; its store is a Lua
  script that refuses if any of its tags was invalidated since, so an answer computed from data a
  concurrent change replaced is never stored, whichever worker made the change;
- `l:<key>`: a short lock held while one process executes a missing entry, so the others wait
  for its result instead of executing it too (a stampede across processes).

Every method goes through the Redis circuit breaker (gateway/breaker.py) and raises
`RedisError`/`OSError` on failure, or `RedisUnavailable` while the breaker is open;
`gateway.cache` decides what that means.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import cast

from redis.asyncio import Redis

from gateway.breaker import Breaker

NAMESPACE = "gateway:cache:"
SEQ_TTL_MS = 120_000  # how long an invalidation is remembered for fills in flight
MAX_FILL_SECONDS = SEQ_TTL_MS / 1000 / 2  # a fill that took longer than this is not stored
POLL_SECONDS = 0.01

_STORE = """
local start = tonumber(ARGV[1])
local n = tonumber(ARGV[4])
for i = 2, n + 2 do
  local seen = redis.call('GET', KEYS[i])
  if seen and tonumber(seen) > start then return 0 end
end
redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[2])
for i = n + 3, 2 * n + 2 do
  redis.call('SADD', KEYS[i], KEYS[1])
  redis.call('PEXPIRE', KEYS[i], ARGV[2])
end
return 1
"""

_INVALIDATE = """
local seq = redis.call('INCR', KEYS[1])
local n = tonumber(ARGV[1])
local removed = 0
for i = 2, n + 1 do
  redis.call('SET', KEYS[i], seq, 'PX', ARGV[2])
  local keys = redis.call('SMEMBERS', KEYS[i + n])
  for _, key in ipairs(keys) do
    removed = removed + redis.call('DEL', key)
  end
  redis.call('DEL', KEYS[i + n])
end
return removed
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisTier:
    def __init__(
        self,
        redis: Redis,
        ttl_seconds: float,
        lock_seconds: float,
        namespace: str = NAMESPACE,
        breaker: Breaker | None = None,
    ) -> None:
        self.redis = redis
        self.breaker = breaker if breaker is not None else Breaker()
        self.ttl_ms = int(ttl_seconds * 1000)
        self.lock_ms = int(lock_seconds * 1000)
        self.ns = namespace
        self._store = redis.register_script(_STORE)
        self._invalidate = redis.register_script(_INVALIDATE)
        self._release = redis.register_script(_RELEASE)

    async def get(self, key: str) -> bytes | None:
        with self.breaker:
            # redis-py types a reply `bytes | str`; ours are bytes: no client decodes responses.
            return cast("bytes | None", await self.redis.get(self.ns + "e:" + key))

    async def begin_fill(self, key: str) -> tuple[str | None, int]:
        """Try to take the fill lock; returns (lock token or None, invalidation sequence now)."""
        token = os.urandom(8).hex()
        with self.breaker:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.set(self.ns + "l:" + key, token, nx=True, px=self.lock_ms)
                pipe.get(self.ns + "seq")
                acquired, seq = await pipe.execute()
        return (token if acquired else None), int(seq or 0)

    async def wait_for(self, key: str, seconds: float) -> bytes | None:
        """Poll for the entry another process is filling, until it appears, its lock goes, or time is up."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            await asyncio.sleep(POLL_SECONDS)
            with self.breaker:
                async with self.redis.pipeline(transaction=False) as pipe:
                    pipe.get(self.ns + "e:" + key)
                    pipe.exists(self.ns + "l:" + key)
                    data: bytes | None
                    data, locked = await pipe.execute()
            if data is not None:
                return data
            if not locked:
                return None  # it finished without storing (an error, or invalidated meanwhile)
        return None

    async def release(self, key: str, token: str) -> None:
        with self.breaker:
            await self._release(keys=[self.ns + "l:" + key], args=[token])

    async def store(self, key: str, data: bytes, tags: tuple[str, ...], seq: int) -> bool:
        keys = [self.ns + "e:" + key, self.ns + "s:*"]
        keys += [self.ns + "s:" + tag for tag in tags]
        keys += [self.ns + "t:" + tag for tag in tags]
        with self.breaker:
            return bool(await self._store(keys=keys, args=[seq, self.ttl_ms, data, len(tags)]))

    async def invalidate(self, tags: list[str]) -> int:
        keys = [self.ns + "seq"]
        keys += [self.ns + "s:" + tag for tag in tags]
        keys += [self.ns + "t:" + tag for tag in tags]
        with self.breaker:
            return int(await self._invalidate(keys=keys, args=[len(tags), SEQ_TTL_MS]))

    async def invalidate_all(self) -> int:
        """Everything stale: fills in flight refuse to store, and every entry and tag set goes."""
        with self.breaker:
            await self._invalidate(keys=[self.ns + "seq", self.ns + "s:*", self.ns + "t:*"], args=[1, SEQ_TTL_MS])
            removed = 0
            for pattern in ("e:*", "t:*"):
                batch: list[bytes] = []
                async for name in self.redis.scan_iter(match=self.ns + pattern, count=500):
                    batch.append(name)
                    if len(batch) >= 500:
                        removed += await self.redis.unlink(*batch)
                        batch = []
                if batch:
                    removed += await self.redis.unlink(*batch)
            return removed

    async def ping(self) -> None:
        with self.breaker:
            await self.redis.ping()
