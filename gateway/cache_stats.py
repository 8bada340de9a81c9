"""The response cache's counters, rendered into `/metrics` next to the request metrics.

Plain integer attributes: the hit path adds one to an attribute, which costs nanoseconds.
"""

from __future__ import annotations

from collections import defaultdict


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

    def render(self) -> list[str]:
        lines = [
            "# HELP gateway_cache_requests_total GraphQL requests by what the response cache did with them.",
            "# TYPE gateway_cache_requests_total counter",
            f'gateway_cache_requests_total{{result="hit"}} {self.hits}',
            f'gateway_cache_requests_total{{result="miss"}} {self.misses}',
            f'gateway_cache_requests_total{{result="bypass"}} {self.bypasses}',
            "# HELP gateway_cache_hits_total Cache hits by where the stored response came from.",
            "# TYPE gateway_cache_hits_total counter",
            f'gateway_cache_hits_total{{tier="local"}} {self.hits_local}',
            f'gateway_cache_hits_total{{tier="redis"}} {self.hits_redis}',
            f'gateway_cache_hits_total{{tier="collapsed"}} {self.hits_collapsed}',
            "# HELP gateway_cache_stored_total Responses stored after a miss.",
            "# TYPE gateway_cache_stored_total counter",
            f"gateway_cache_stored_total {self.stored}",
            "# HELP gateway_cache_not_modified_total 304 answers to If-None-Match.",
            "# TYPE gateway_cache_not_modified_total counter",
            f"gateway_cache_not_modified_total {self.not_modified}",
            "# HELP gateway_cache_evictions_total Entries removed from the in-process tier, by reason.",
            "# TYPE gateway_cache_evictions_total counter",
        ]
        for reason in ("invalidated", "size", "expired", "cleared"):
            lines.append(f'gateway_cache_evictions_total{{reason="{reason}"}} {self.evictions[reason]}')
        lines += [
            "# HELP gateway_cache_redis_evictions_total Entries removed from the Redis tier by invalidations sent from this process.",
            "# TYPE gateway_cache_redis_evictions_total counter",
            f"gateway_cache_redis_evictions_total {self.evictions['redis']}",
            "# HELP gateway_cache_redis_errors_total Failed Redis operations of the response cache.",
            "# TYPE gateway_cache_redis_errors_total counter",
            f"gateway_cache_redis_errors_total {self.redis_errors}",
            "# HELP gateway_cache_lock_timeouts_total Misses executed after waiting in vain for another process's execution.",
            "# TYPE gateway_cache_lock_timeouts_total counter",
            f"gateway_cache_lock_timeouts_total {self.lock_timeouts}",
        ]
        return lines
