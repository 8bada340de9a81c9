"""The response cache's counters, published in `/metrics` next to the request metrics.

Plain integer attributes: the hit path adds one to an attribute, which costs nanoseconds; the
metrics read them at each flush (gateway/metrics.py).
"""

from __future__ import annotations

from collections import defaultdict

from gateway.metrics import Metrics


class CacheStats:
    def __init__(self) -> None:
        self.hits_local = 0
        self.hits_redis = 0
        self.hits_collapsed = 0  # answered by another request's execution (single flight)
        self.misses = 0
        self.bypasses = 0
        self.stored = 0
        self.not_modified = 0  # 304s answered from a stored ETag
        self.redis_errors = 0
        self.lock_timeouts = 0  # waited for another process's execution, then executed anyway
        self.evictions: dict[str, int] = defaultdict(int)  # reason -> entries

    @property
    def hits(self) -> int:
        return self.hits_local + self.hits_redis + self.hits_collapsed

    def publish(self, metrics: Metrics) -> None:
        """Hand these counters to `/metrics` (read at each flush, so counting stays an addition)."""
        metrics.reading(
            "gateway_cache_requests_total",
            "counter",
            "GraphQL requests by what the response cache did with them.",
            lambda: {("hit",): self.hits, ("miss",): self.misses, ("bypass",): self.bypasses},
            labels=("result",),
        )
        metrics.reading(
            "gateway_cache_hits_total",
            "counter",
            "Cache hits by where the stored response came from.",
            lambda: {("local",): self.hits_local, ("redis",): self.hits_redis, ("collapsed",): self.hits_collapsed},
            labels=("tier",),
        )
        metrics.reading("gateway_cache_stored_total", "counter", "Responses stored after a miss.", lambda: self.stored)
        metrics.reading(
            "gateway_cache_not_modified_total", "counter", "304 answers to If-None-Match.", lambda: self.not_modified
        )
        metrics.reading(
            "gateway_cache_evictions_total",
            "counter",
            "Entries removed from the in-process tier, by reason.",
            lambda: {(reason,): self.evictions[reason] for reason in ("invalidated", "size", "expired", "cleared")},
            labels=("reason",),
        )
        metrics.reading(
            "gateway_cache_redis_evictions_total",
            "counter",
            "Entries removed from the Redis tier by invalidations sent from this process.",
            lambda: self.evictions["redis"],
        )
        metrics.reading(
            "gateway_cache_redis_errors_total",
            "counter",
            "Failed Redis operations of the response cache.",
            lambda: self.redis_errors,
        )
        metrics.reading(
            "gateway_cache_lock_timeouts_total",
            "counter",
            "Misses executed after waiting in vain for another process's execution.",
            lambda: self.lock_timeouts,
        )
