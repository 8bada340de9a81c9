"""Token buckets per client: in process, or shared through Redis so limits hold across workers.

A bucket holds up to `burst` tokens and refills at `rate` a second. A request takes `cost` tokens
(one for the request limiter; the operation's calculated cost for the cost limiter, which gives back
what the operation did not use) or is told how long to wait.

The shared backend keeps the bucket in Redis, changed only by one Lua script (refill, take back
what a worker returns, grant, on Redis' clock so every worker agrees on time), and keeps the hot
path local: a worker leases tokens into a pool of its own and spends them there, so most requests
cost a dict lookup (at the request rates this gateway serves, a round trip per request would cap
it at Redis' speed). The leases add up, under any concurrency:

- a worker has at most one round trip in flight per client. Requests that find the pool short
  while it is out wait for its answer, and the next round trip asks for all of them at once.
  (Each used to lease on its own and the last lease overwrote the others: after a pause, 60
  concurrent requests got 20 refusals with a burst of 200, the rest sitting in lost leases.)
- a grant adds to the pool. A trickle of requests leases `LEASE` tokens to spare (one round
  trip per few requests), but not near the limit (the last tenth of the burst) nor after a burst
  of requests: there, spare tokens would sit in one worker while another's requests are refused.
- whatever the pool holds when it next goes to Redis, and every refund, goes back in that same
  call; Redis caps the bucket at `burst`. A lease is spendable for `LEASE_SECONDS`, so the only
  way past the burst is a pool's few spare tokens, spent within a second while Redis refills.

When Redis fails, or the Redis circuit breaker is open (gateway/breaker.py), the limiter falls
back to the local buckets and logs once a minute: a rate limiter must never be the reason
requests fail, nor make them wait on a Redis that hangs.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import math
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from redis.asyncio import Redis
from starlette.types import Scope

from gateway.breaker import Breaker
from gateway.settings import Network

log = logging.getLogger("gateway.ratelimit")
LEASE = 5  # tokens a worker leases beyond what its waiting requests need, far from the limit
LEASE_SECONDS = 1.0
MAX_KEYS = 100_000


class Limiter(Protocol):
    async def take(self, key: str, rate: float, burst: int, cost: float = 1) -> float | None:
        """None when the request may go ahead (`cost` tokens taken), else the seconds to wait."""

    def give_back(self, key: str, rate: float, burst: int, amount: float) -> None:
        """Return tokens taken and not used (never above `burst`)."""

    def available(self, key: str, rate: float, burst: int) -> float:
        """The tokens `key` could take now, as far as this process knows."""


class LocalBuckets:
    """In-process buckets, the least recently used dropped beyond `max_keys` (memory stays bounded)."""

    def __init__(self, max_keys: int = MAX_KEYS) -> None:
        self.max_keys = max_keys
        self.buckets: OrderedDict[str, list[float]] = OrderedDict()  # key -> [tokens, refilled at]

    async def take(self, key: str, rate: float, burst: int, cost: float = 1) -> float | None:
        return self.take_now(key, rate, burst, time.monotonic(), cost)

    def take_now(self, key: str, rate: float, burst: int, now: float, cost: float = 1) -> float | None:
        # `_refilled` written out: this runs on every request.
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = [float(burst), now]
            if len(self.buckets) > self.max_keys:
                self.buckets.popitem(last=False)
        else:
            self.buckets.move_to_end(key)
            bucket[0] = min(float(burst), bucket[0] + (now - bucket[1]) * rate)
            bucket[1] = now
        if bucket[0] >= cost:
            bucket[0] -= cost
            return None
        return (cost - bucket[0]) / rate

    def give_back(self, key: str, rate: float, burst: int, amount: float) -> None:
        bucket = self._refilled(key, rate, burst, time.monotonic())
        bucket[0] = min(float(burst), bucket[0] + amount)

    def available(self, key: str, rate: float, burst: int) -> float:
        bucket = self.buckets.get(key)
        if bucket is None:
            return float(burst)
        return min(float(burst), bucket[0] + (time.monotonic() - bucket[1]) * rate)

    def _refilled(self, key: str, rate: float, burst: int, now: float) -> list[float]:
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = [float(burst), now]
            if len(self.buckets) > self.max_keys:
                self.buckets.popitem(last=False)
        else:
            self.buckets.move_to_end(key)
            bucket[0] = min(float(burst), bucket[0] + (now - bucket[1]) * rate)
            bucket[1] = now
        return bucket


# Refill, take back ARGV[4] tokens a worker returns, then grant up to ARGV[3] whole tokens, plus
# ARGV[5] to spare while more than a tenth of the burst would still be left (near the limit a
# worker takes only what its requests need, so none sits in one worker while another's are refused).
# Returns the tokens granted and those left, as strings (Redis would truncate a Lua number).
_TAKE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local need = tonumber(ARGV[3])
local returned = tonumber(ARGV[4])
local spare = tonumber(ARGV[5])
local state = redis.call('HMGET', KEYS[1], 't', 'ts')
local tokens = tonumber(state[1]) or burst
local stamp = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - stamp) * rate + returned)
local granted = math.max(0, math.min(need, math.floor(tokens)))
if granted == need and tokens - need - spare >= burst / 10 then
  granted = need + spare
end
tokens = tokens - granted
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {tostring(granted), tostring(tokens)}
"""


class _Pool:
    """What one worker holds of one client's Redis bucket."""

    __slots__ = ("demand", "lapses_at", "refill", "remote", "remote_at", "returns", "tokens")

    def __init__(self) -> None:
        self.tokens = 0.0  # leased, spendable until `lapses_at`
        self.lapses_at = 0.0
        self.returns = 0.0  # owed back to Redis: refunds, and leases a failed call could not return
        self.remote = -1.0  # the tokens Redis had left after the last call (-1: no call yet)
        self.remote_at = 0.0
        self.demand = 0.0  # tokens wanted by the requests waiting on `refill`
        self.refill: asyncio.Future[_Answer] | None = None  # the round trip in flight


class _Answer(NamedTuple):
    complete: bool  # Redis granted all the requests needed (False: the bucket ran dry)
    error: Exception | None = None  # Redis failed: take the local fallback


class RedisBuckets:
    def __init__(self, redis: Redis, prefix: str = "gateway:rl:", breaker: Breaker | None = None) -> None:
        self.redis = redis
        self.prefix = prefix
        self.breaker = breaker if breaker is not None else Breaker()
        self.script = redis.register_script(_TAKE)
        self.pools: dict[str, _Pool] = {}
        self.fallback = LocalBuckets()
        self.last_failure_log = 0.0

    async def take(self, key: str, rate: float, burst: int, cost: float = 1) -> float | None:
        pool = self.pools.get(key)
        if pool is not None and pool.tokens >= cost and pool.lapses_at > time.monotonic():
            pool.tokens -= cost
            return None
        if cost <= 0:
            return None
        return await self._take_leasing(pool or self._new_pool(key), key, rate, burst, cost)

    async def _take_leasing(self, pool: _Pool, key: str, rate: float, burst: int, cost: float) -> float | None:
        while True:
            refill = pool.refill
            if refill is None:
                # For every request waiting and this one (and a lease for those to come).
                need = math.ceil(pool.demand + cost)
                refill = pool.refill = asyncio.ensure_future(self._refill(pool, key, rate, burst, need))
            pool.demand += cost
            try:
                # Shielded: a request that gives up must not cancel the others' round trip.
                answer = await asyncio.shield(refill)
            finally:
                pool.demand -= cost
            if answer.error is not None:
                return self.fallback.take_now(key, rate, burst, time.monotonic(), cost)
            if pool.tokens >= cost and pool.lapses_at > time.monotonic():
                pool.tokens -= cost
                return None
            if not answer.complete:
                return max(cost - pool.tokens - pool.remote, 0.001) / rate
            # Redis granted all that was asked, but requests that joined later took it: ask again.

    async def _refill(self, pool: _Pool, key: str, rate: float, burst: int, need: int) -> _Answer:
        returned = pool.tokens + pool.returns  # whatever the pool holds goes back in the same call
        pool.tokens = pool.returns = 0.0
        # Tokens to spare only for a trickle of requests: after a burst of them, spare tokens
        # would sit in this worker while another worker's requests are refused.
        spare = LEASE if need <= LEASE else 0
        try:
            with self.breaker:
                granted, left = await self.script(keys=[self.prefix + key], args=[rate, burst, need, returned, spare])
        except Exception as error:  # Redis down, slow or skipped by the breaker: never fail the request
            pool.returns += returned
            now = time.monotonic()
            if now - self.last_failure_log > 60:
                self.last_failure_log = now
                log.error("rate limiter: Redis unavailable (%s); limiting per process until it returns", error)
            return _Answer(False, error)
        finally:
            pool.refill = None
        now = time.monotonic()
        pool.tokens += float(granted)
        pool.lapses_at = now + LEASE_SECONDS
        pool.remote, pool.remote_at = float(left), now
        return _Answer(float(granted) >= need)

    def give_back(self, key: str, rate: float, burst: int, amount: float) -> None:
        if not self.breaker.closed:  # taken from the fallback buckets, most likely
            self.fallback.give_back(key, rate, burst, amount)
            return
        pool = self.pools.get(key) or self._new_pool(key)
        pool.returns += amount  # on its way back with the next round trip

    def available(self, key: str, rate: float, burst: int) -> float:
        pool = self.pools.get(key)
        if not self.breaker.closed or pool is None or pool.remote < 0:
            return self.fallback.available(key, rate, burst)
        remote = pool.remote + (time.monotonic() - pool.remote_at) * rate
        return min(float(burst), remote + pool.tokens + pool.returns)

    def _new_pool(self, key: str) -> _Pool:
        if len(self.pools) >= MAX_KEYS:
            del self.pools[next(iter(self.pools))]  # the oldest: memory stays bounded
        pool = self.pools[key] = _Pool()
        return pool


@dataclass(frozen=True)
class CostLimit:
    """Cost-based limiting: every client (gateway/middleware.py's `client_key`) has a bucket of
    `size` points, `restore_rate` of them coming back each second."""

    limiter: Limiter
    size: int
    restore_rate: float

    def bucket(self, client: str) -> CostBucket:
        return CostBucket(self.limiter, "cost:" + client, self.size, self.restore_rate)


@dataclass(frozen=True, slots=True)
class CostBucket:
    """One client's bucket of query cost points, as the cost limiter draws from it (Shopify's
    calculated query cost: `size` is its `maximumAvailable`, `restore_rate` its `restoreRate`)."""

    limiter: Limiter
    key: str
    size: int
    restore_rate: float

    async def charge(self, cost: int) -> float | None:
        """None when the bucket held `cost` points and they are taken, else the seconds to wait."""
        return await self.limiter.take(self.key, self.restore_rate, self.size, cost)

    def refund(self, points: int) -> None:
        if points > 0:
            self.limiter.give_back(self.key, self.restore_rate, self.size, points)

    def available(self) -> float:
        return self.limiter.available(self.key, self.restore_rate, self.size)


def retry_after_header(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))


def client_ip(scope: Scope, trusted_proxies: tuple[Network, ...]) -> str:
    """The caller's address: the peer, or behind trusted proxies the last untrusted X-Forwarded-For hop."""
    peer: str = (scope.get("client") or ("unknown", 0))[0]  # ASGI: `client` is (host, port) or None
    if not trusted_proxies or not _trusted(peer, trusted_proxies):
        return peer
    forwarded: list[str] = [v.decode("latin-1") for k, v in scope["headers"] if k == b"x-forwarded-for"]
    hops = [hop.strip() for value in forwarded for hop in value.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, trusted_proxies):
            return hop
    return hops[0] if hops else peer


def _trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)
