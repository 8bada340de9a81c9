"""What the job engine did in this process, for /metrics: jobs run by task and outcome, how long
they took, deferrals, and how long committed changes waited for their delivery."""

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
