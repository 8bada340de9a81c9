"""What the job engine did in this process, for /metrics: jobs run by task and outcome, how long
they took, deferrals, how long committed changes waited for their delivery, webhook attempts, and
the rows the periodic prunings removed."""

from __future__ import annotations

import bisect
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

from procrastinate.job_context import JobContext
from procrastinate.worker import Worker
from prometheus_client.utils import floatToGoString

from gateway.metrics import BUCKETS, Metrics

# The request histogram's buckets (gateway/metrics.py assembles every histogram on them).
_LE = tuple(floatToGoString(bound) for bound in (*BUCKETS, float("inf")))


class JobStats:
    def __init__(self) -> None:
        self.runs: dict[tuple[str, ...], float] = defaultdict(float)  # (task, outcome) -> jobs
        self.run_buckets: dict[tuple[str, ...], float] = defaultdict(float)  # (task, le) -> jobs
        self.run_seconds: dict[tuple[str, ...], float] = defaultdict(float)
        self.deferred: dict[tuple[str, ...], float] = defaultdict(float)
        self.defer_failures = 0
        self.events_written = 0  # outbox rows this process committed
        self.events_delivered = 0  # outbox rows this process's jobs delivered
        self.delivery_buckets: dict[tuple[str, ...], float] = defaultdict(float)
        self.delivery_seconds = 0.0
        self.undelivered = 0  # outbox rows past the redelivery age, as the last redelivery found them
        self.webhook_attempts: dict[tuple[str, ...], float] = defaultdict(float)  # (outcome,) -> attempts
        self.webhook_buckets: dict[tuple[str, ...], float] = defaultdict(float)  # (le,) -> attempts
        self.webhook_seconds = 0.0
        self.removed: dict[tuple[str, ...], float] = defaultdict(float)  # (what,) -> rows pruned

    async def middleware(self, call_next: Callable[[], Awaitable[Any]], context: JobContext, worker: Worker) -> Any:
        """A Procrastinate worker middleware: times and counts every job this process runs."""
        task = context.job.task_name
        started = time.perf_counter()
        outcome = "failed"
        try:
            result = await call_next()
            outcome = "succeeded"
            return result
        finally:
            seconds = time.perf_counter() - started
            self.runs[(task, outcome)] += 1
            self.run_buckets[(task, _LE[bisect.bisect_left(BUCKETS, seconds)])] += 1
            self.run_seconds[(task,)] += seconds

    def delivered(self, latencies: list[float]) -> None:
        """Events delivered, each `latency` seconds after its commit."""
        self.events_delivered += len(latencies)
        for latency in latencies:
            self.delivery_buckets[(_LE[bisect.bisect_left(BUCKETS, latency)],)] += 1
            self.delivery_seconds += latency

    def webhook_attempt(self, outcome: str, seconds: float) -> None:
        """One attempt at a webhook delivery: `succeeded`, `failed` (final) or `retry`."""
        self.webhook_attempts[(outcome,)] += 1
        self.webhook_buckets[(_LE[bisect.bisect_left(BUCKETS, seconds)],)] += 1
        self.webhook_seconds += seconds

    def publish(self, metrics: Metrics) -> None:
        metrics.reading(
            "gateway_jobs_total",
            "counter",
            "Jobs run in this process, by task and outcome.",
            lambda: self.runs,
            ("task", "outcome"),
        )
        metrics.histogram(
            "gateway_job_duration_seconds",
            "How long a job ran, by task.",
            ("task",),
            lambda: self.run_buckets,
            lambda: self.run_seconds,
        )
        metrics.reading(
            "gateway_jobs_deferred_total",
            "counter",
            "Jobs deferred by this process, by task.",
            lambda: self.deferred,
            ("task",),
        )
        metrics.reading(
            "gateway_job_defer_failures_total",
            "counter",
            "Jobs this process could not defer (the periodic redelivery makes up for them).",
            lambda: self.defer_failures,
        )
        metrics.reading(
            "gateway_outbox_events_total",
            "counter",
            "Changes this process committed to the outbox.",
            lambda: self.events_written,
        )
        metrics.reading(
            "gateway_outbox_delivered_total",
            "counter",
            "Outbox events this process's jobs delivered.",
            lambda: self.events_delivered,
        )
        metrics.histogram(
            "gateway_outbox_delivery_seconds",
            "From an outbox event's commit to the end of its delivery by a job.",
            (),
            lambda: self.delivery_buckets,
            lambda: {(): self.delivery_seconds},
        )
        metrics.reading(
            "gateway_outbox_undelivered",
            "gauge",
            "Outbox events older than OUTBOX_REDELIVER_AFTER still undelivered, at the last redelivery run.",
            lambda: self.undelivered,
            mode="livemax",
        )
        metrics.reading(
            "gateway_webhook_attempts_total",
            "counter",
            "Webhook delivery attempts this process's jobs made, by outcome (succeeded, failed, retry).",
            lambda: self.webhook_attempts,
            ("outcome",),
        )
        metrics.histogram(
            "gateway_webhook_attempt_seconds",
            "How long one webhook delivery attempt took, from the target's check to the recorded answer.",
            (),
            lambda: self.webhook_buckets,
            lambda: {(): self.webhook_seconds},
        )
        metrics.reading(
            "gateway_housekeeping_removed_total",
            "counter",
            "Rows the periodic prunings of this process removed, by what (carts, refresh_tokens, webhook_logs, data_exports, outbox).",
            lambda: self.removed,
            ("what",),
        )
