"""Request counters and latency histograms in Prometheus' text format.

Written here rather than with prometheus_client: the hot path needs only a dict update and a
bisect (well under a microsecond, no lock: one event loop per process), and each uvicorn worker
exposes its own series, which is what Prometheus expects of per-process targets.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
# Operation names come from clients (and paths from anyone): past this many distinct ones, the
# rest share one series, so neither this process's memory nor a scrape grows without end.
MAX_OPERATIONS = 500
OTHER_OPERATIONS = "other"


class Metrics:
    def __init__(self) -> None:
        self.requests: dict[tuple[str, str], int] = defaultdict(int)
        self.buckets: dict[str, list[int]] = {}
        self.sums: dict[str, float] = defaultdict(float)
        # Other components' series (the response cache's counters, the event bus's), appended when rendering.
        self.extra: list[Callable[[], list[str]]] = []

    def reading(self, name: str, kind: str, help_text: str, read: Callable[[], float]) -> None:
        """Expose one counter or gauge that another component keeps, read at scrape time."""
        self.extra.append(lambda: [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", f"{name} {read():g}"])

    def observe(self, operation: str, status: int, seconds: float) -> None:
        counts = self.buckets.get(operation)
        if counts is None:
            if len(self.buckets) >= MAX_OPERATIONS:
                operation = OTHER_OPERATIONS
                counts = self.buckets.get(operation)
            if counts is None:
                counts = self.buckets[operation] = [0] * (len(BUCKETS) + 1)
        self.requests[(operation, str(status))] += 1
        counts[bisect.bisect_left(BUCKETS, seconds)] += 1
        self.sums[operation] += seconds

    def render(self) -> str:
        lines = [
            "# HELP gateway_requests_total HTTP requests by GraphQL operation name and status.",
            "# TYPE gateway_requests_total counter",
        ]
        for (operation, status), count in sorted(self.requests.items()):
            lines.append(f'gateway_requests_total{{operation="{_label(operation)}",status="{status}"}} {count}')
        lines += [
            "# HELP gateway_request_duration_seconds Request latency by GraphQL operation name.",
            "# TYPE gateway_request_duration_seconds histogram",
        ]
        for operation, counts in sorted(self.buckets.items()):
            label = _label(operation)
            cumulative = 0
            for bound, count in zip((*BUCKETS, float("inf")), counts, strict=True):
                cumulative += count
                le = "+Inf" if bound == float("inf") else repr(bound)
                lines.append(f'gateway_request_duration_seconds_bucket{{operation="{label}",le="{le}"}} {cumulative}')
            lines.append(f'gateway_request_duration_seconds_sum{{operation="{label}"}} {self.sums[operation]:.6f}')
            lines.append(f'gateway_request_duration_seconds_count{{operation="{label}"}} {cumulative}')
        for render in self.extra:
            lines += render()
        return "\n".join(lines) + "\n"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
