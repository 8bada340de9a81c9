"""Token buckets per client: in process, or shared through Redis so limits hold across workers.

The shared backend leases a few tokens at a time from Redis and spends them locally, so the
hot path costs a dict lookup and only one request in `LEASE` pays a Redis round trip (at the
request rates this gateway serves, one per request would cap it at Redis' speed). Leased tokens
lapse after a second, so a client can at most overshoot its burst by `LEASE - 1` per worker.
When Redis fails, or the Redis circuit breaker is open (gateway/breaker.py), the limiter falls
back to the local buckets and logs once a minute: a rate limiter must never be the reason
requests fail, nor make them wait on a Redis that hangs.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import time
from collections import OrderedDict
from typing import Protocol

from redis.asyncio import Redis
from starlette.types import Scope

from gateway.breaker import Breaker
from gateway.settings import Network

log = logging.getLogger("gateway.ratelimit")
LEASE = 5
LEASE_SECONDS = 1.0


class Limiter(Protocol):
    async def take(self, key: str, rate: float, burst: int) -> float | None:
        """None when the request may go ahead, else the seconds to wait before retrying."""


class LocalBuckets:
    """In-process buckets, the least recently used dropped beyond `max_keys` (memory stays bounded)."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self.max_keys = max_keys
        self.buckets: OrderedDict[str, list[float]] = OrderedDict()

    async def take(self, key: str, rate: float, burst: int) -> float | None:
        return self.take_now(key, rate, burst, time.monotonic())

    def take_now(self, key: str, rate: float, burst: int, now: float) -> float | None:
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = [float(burst), now]
            if len(self.buckets) > self.max_keys:
                self.buckets.popitem(last=False)
        else:
            self.buckets.move_to_end(key)
            bucket[0] = min(float(burst), bucket[0] + (now - bucket[1]) * rate)
            bucket[1] = now
        if bucket[0] >= 1:
            bucket[0] -= 1
            return None
        return (1 - bucket[0]) / rate


# Refill, then grant up to ARGV[4] tokens (at least one, or none with the wait until one is due).
# Uses Redis' own clock so every worker agrees on time.
_TAKE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 't', 'ts')
local tokens = tonumber(state[1]) or burst
local stamp = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - stamp) * rate)
local granted = math.min(want, math.floor(tokens))
tokens = tokens - granted
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
if granted > 0 then return {granted, '0'} end
return {0, tostring((1 - tokens) / rate)}
"""


class RedisBuckets:
    def __init__(self, redis: Redis, prefix: str = "gateway:rl:", breaker: Breaker | None = None) -> None:
        self.redis = redis
        self.prefix = prefix
        self.breaker = breaker if breaker is not None else Breaker()
        self.script = redis.register_script(_TAKE)
        self.leases: dict[str, list[float]] = {}  # key -> [tokens left, lapses at]
        self.fallback = LocalBuckets()
        self.last_failure_log = 0.0

    async def take(self, key: str, rate: float, burst: int) -> float | None:
        now = time.monotonic()
        lease = self.leases.get(key)
        if lease is not None and lease[0] >= 1 and lease[1] > now:
            lease[0] -= 1
            return None
        try:
            with self.breaker:
                granted, wait = await self.script(keys=[self.prefix + key], args=[rate, burst, min(LEASE, burst)])
        except Exception as error:  # Redis down, slow or skipped by the breaker: never fail the request
            if now - self.last_failure_log > 60:
                self.last_failure_log = now
                log.error("rate limiter: Redis unavailable (%s); limiting per process until it returns", error)
            return self.fallback.take_now(key, rate, burst, now)
        granted = int(granted)
        if granted == 0:
            return float(wait)
        if len(self.leases) > 100_000:
            self.leases.clear()
        self.leases[key] = [granted - 1, now + LEASE_SECONDS]
        return None


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
