"""The gateway's Prometheus metrics: counted in plain Python on the hot path, published through
prometheus_client, and in a server of several workers summed over all of them in one scrape.

Two steps, because of what an increment costs. In multi-process mode (gateway/metrics_dir.py)
prometheus_client writes an mmap'd file under a lock on every increment: a request's counter and
histogram observation measured about 2.5 µs against 0.4 µs for the dict updates below, on a cache
hit that takes 30-40 µs in all. So requests are counted in dicts here and `flush()` (every
FLUSH_SECONDS from the lifespan, and before each scrape) adds what changed since the last flush to
prometheus_client's values: another worker's counts reach a scrape at most FLUSH_SECONDS late.

prometheus_client has no way to add many observations to a histogram at once, so the request
duration histogram is published as one counter per bucket and put back together into a histogram
when scraped (`_Assembled`). Readings of other components (the response cache's counters, the
event bus's gauges) are published the same way: a counter by what it gained since the last flush,
a gauge by its current value, combined over the workers as its `mode` says.

Label values never come from what a client may choose freely: the GraphQL operation name labels a
request only when the operation is on the persisted query allow-list (PERSISTED_QUERIES=allowlist),
a set the operator wrote; any other operation is `other`. Other paths are labelled by the route that
served them (`/webhooks/carriers/{carrier}`), or `other` when none did.
"""

from __future__ import annotations

import bisect
import glob
import os
import re
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Literal

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    disable_created_metrics,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.core import HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString
from starlette.types import Scope

from gateway import metrics_dir  # (imported first of all by the package: see gateway/__init__.py)
from gateway.metrics_process import ProcessMetrics

# `_created` series double the count of series and no dashboard of ours reads them.
disable_created_metrics()

# True when prometheus_client writes shared files: gateway.metrics_dir set the directory in time.
MULTIPROCESS = values.ValueClass is not values.MutexValue
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
FLUSH_SECONDS = 1.0
CONTENT_TYPE = CONTENT_TYPE_LATEST  # Prometheus' text format, as a scrape's Content-Type
OTHER = "other"
GRAPHQL_PATH = "/graphql"
# Gauges over several workers: "livesum" adds up the live workers' values, "livemax" takes the
# largest (prometheus_client's multiprocess_mode); ignored in a single process.
GaugeMode = Literal["livesum", "livemax", "livemin", "liveall"]
Value = float | Mapping[tuple[str, ...], float]
_LE = tuple(floatToGoString(bound) for bound in (*BUCKETS, float("inf")))
_LIVE_GAUGE_FILE = re.compile(r"gauge_live[a-z]+_(\d+)\.db$")


class Metrics:
    def __init__(self, operation_names: Collection[str] = ()) -> None:
        # Hot path: plain dicts, one event loop per process, so no lock.
        self.requests: dict[tuple[str, int], int] = defaultdict(int)
        self.buckets: dict[str, list[int]] = {}
        self.sums: dict[str, float] = defaultdict(float)
        self.operation_labels: dict[str | None, str] = {name: name for name in operation_names}
        self.route_labels: dict[object, str] = {}
        # One registry per app: in a single process two apps (tests) keep apart.
        self.registry = CollectorRegistry(auto_describe=True)
        self.published: list[_Published] = []
        self.histograms: list[_Histogram] = []
        self.process = ProcessMetrics(self.registry, MULTIPROCESS)
        self.histogram(
            "gateway_request_duration_seconds",
            "Request latency by GraphQL operation (allow-listed names, else other) or route.",
            ("operation",),
            self._duration_counts,
            self._duration_sums,
        )
        self.reading(
            "gateway_requests_total",
            "counter",
            "HTTP requests by GraphQL operation (allow-listed names, else other) or route, and status.",
            self._request_counts,
            labels=("operation", "status"),
        )
        self.reading("gateway_workers", "gauge", "Worker processes of this server that are alive.", lambda: 1.0)

    # --- the hot path -------------------------------------------------------------------------

    def observe(self, operation: str, status: int, seconds: float) -> None:
        counts = self.buckets.get(operation)
        if counts is None:
            counts = self.buckets[operation] = [0] * (len(BUCKETS) + 1)
        self.requests[(operation, status)] += 1
        counts[bisect.bisect_left(BUCKETS, seconds)] += 1
        self.sums[operation] += seconds

    def label(self, scope: Scope, operation: str | None) -> str:
        """The `operation` label of a finished request: never a value a client chose freely."""
        if scope["path"] == GRAPHQL_PATH:
            return self.operation_labels.get(operation, OTHER)
        return self.route_label(scope)

    def route_label(self, scope: Scope) -> str:
        """A request to another path: the route that served it, `other` when none did."""
        # Set by Starlette's router for the route that matched: its endpoint, or a mount's app.
        endpoint = scope.get("endpoint")
        if endpoint is None:
            return OTHER
        label = self.route_labels.get(endpoint)
        if label is None:
            path = next(
                (
                    getattr(route, "path", None)
                    for route in scope["app"].router.routes
                    if endpoint is getattr(route, "endpoint", None) or endpoint is getattr(route, "app", None)
                ),
                None,
            )
            label = self.route_labels[endpoint] = path or OTHER
        return label

    # --- what other components count ----------------------------------------------------------

    def reading(
        self,
        name: str,
        kind: Literal["counter", "gauge"],
        help_text: str,
        read: Callable[[], Value],
        labels: tuple[str, ...] = (),
        mode: GaugeMode = "livesum",
    ) -> None:
        """Publish a counter or gauge that another component keeps, read at each flush.

        `read` returns a number, or with `labels` a mapping of label values to numbers. A counter's
        readings only grow; what it gained since the last flush is added to the published counter.
        """
        self.published.append(_Published(name, kind, help_text, read, labels, mode, self.registry))

    def histogram(
        self,
        name: str,
        help_text: str,
        labels: tuple[str, ...],
        counts: Callable[[], Mapping[tuple[str, ...], float]],
        sums: Callable[[], Mapping[tuple[str, ...], float]],
    ) -> None:
        """Publish a histogram kept elsewhere: `counts` by label values plus the bucket's upper bound
        (as `le` writes it, not cumulative), `sums` by label values."""
        histogram = _Histogram(name, help_text, labels)
        self.histograms.append(histogram)
        self.reading(histogram.bucket_name, "counter", help_text, counts, (*labels, "le"))
        self.reading(histogram.sum_name, "counter", help_text, sums, labels)

    # --- publishing ---------------------------------------------------------------------------

    def flush(self) -> None:
        """Add what changed since the last flush to prometheus_client's values."""
        for published in self.published:
            published.publish()
        self.process.publish()
        if MULTIPROCESS and metrics_dir.DIRECTORY:
            _forget_dead_workers(metrics_dir.DIRECTORY)

    def render(self) -> bytes:
        """The scrape: this process flushed first, then every worker's values (or this app's)."""
        self.flush()
        source: Collector = self.registry
        if MULTIPROCESS:
            source = CollectorRegistry()
            multiprocess.MultiProcessCollector(source, path=metrics_dir.DIRECTORY)
        return generate_latest(_Assembled(source, self.histograms))

    def close(self) -> None:
        """At shutdown: publish the last counts and take this worker out of the live gauges."""
        self.flush()
        if MULTIPROCESS:
            multiprocess.mark_process_dead(os.getpid(), metrics_dir.DIRECTORY)

    def _request_counts(self) -> dict[tuple[str, ...], float]:
        return {(operation, str(status)): count for (operation, status), count in self.requests.items()}

    def _duration_counts(self) -> dict[tuple[str, ...], float]:
        return {
            (operation, _LE[index]): count
            for operation, counts in self.buckets.items()
            for index, count in enumerate(counts)
            if count
        }

    def _duration_sums(self) -> dict[tuple[str, ...], float]:
        return {(operation,): total for operation, total in self.sums.items()}


class _Published:
    """One reading and the prometheus_client counter or gauge it is published as."""

    def __init__(
        self,
        name: str,
        kind: Literal["counter", "gauge"],
        help_text: str,
        read: Callable[[], Value],
        labels: tuple[str, ...],
        mode: GaugeMode,
        registry: CollectorRegistry,
    ) -> None:
        self.read = read
        self.metric: Counter | Gauge = (
            Counter(name, help_text, labels, registry=registry)
            if kind == "counter"
            else Gauge(name, help_text, labels, registry=registry, multiprocess_mode=mode)
        )
        self.children: dict[tuple[str, ...], Counter | Gauge] = {}
        self.last: dict[tuple[str, ...], float] = {}

    def publish(self) -> None:
        value = self.read()
        readings = value if isinstance(value, Mapping) else {(): value}
        for labels, reading in readings.items():
            child = self.children.get(labels)
            if child is None:
                child = self.children[labels] = self.metric.labels(*labels) if labels else self.metric
            if isinstance(child, Gauge):
                child.set(reading)
                continue
            gained = reading - self.last.get(labels, 0.0)
            if gained > 0:
                child.inc(gained)
                self.last[labels] = reading


class _Histogram:
    """A histogram published as two counters: observations per bucket, and their sum."""

    def __init__(self, name: str, help_text: str, labels: tuple[str, ...]) -> None:
        self.name = name
        self.help_text = help_text
        self.labels = labels
        self.bucket_name = name + "_raw_bucket"
        self.sum_name = name + "_raw_sum"

    def assemble(self, buckets: Metric | None, sums: Metric | None) -> HistogramMetricFamily:
        counts: dict[tuple[str, ...], dict[str, float]] = defaultdict(dict)
        for sample in buckets.samples if buckets else ():
            if sample.name.endswith("_total"):
                counts[tuple(sample.labels[n] for n in self.labels)][sample.labels["le"]] = sample.value
        totals = {
            tuple(sample.labels[n] for n in self.labels): sample.value
            for sample in (sums.samples if sums else ())
            if sample.name.endswith("_total")
        }
        family = HistogramMetricFamily(self.name, self.help_text, labels=self.labels)
        for labels, by_bound in sorted(counts.items()):
            cumulative = 0.0
            cumulated = []
            for le in _LE:
                cumulative += by_bound.get(le, 0.0)
                cumulated.append((le, cumulative))
            family.add_metric(list(labels), cumulated, sum_value=totals.get(labels, 0.0))
        return family


class _Assembled:
    """A scrape's collector: the source's families, with each published histogram put back together."""

    def __init__(self, source: Collector, histograms: list[_Histogram]) -> None:
        self.source = source
        self.histograms = histograms

    def collect(self) -> Iterator[Metric]:
        parts = {h.bucket_name for h in self.histograms} | {h.sum_name for h in self.histograms}
        raw: dict[str, Metric] = {}
        for family in self.source.collect():
            if family.name in parts:
                raw[family.name] = family
            else:
                yield family
        for histogram in self.histograms:
            yield histogram.assemble(raw.get(histogram.bucket_name), raw.get(histogram.sum_name))


def _forget_dead_workers(directory: str) -> None:
    """Take workers that died without shutting down (killed, crashed) out of the live gauges; their
    counters stay, since what they counted happened."""
    for path in glob.glob(os.path.join(directory, "gauge_live*_*.db")):
        match = _LIVE_GAUGE_FILE.search(path)
        if match and not metrics_dir.alive(int(match.group(1))):
            multiprocess.mark_process_dead(int(match.group(1)), directory)
