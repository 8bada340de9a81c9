"""The standard process and runtime metrics (CPU, memory, file descriptors, start time, Python's
version and garbage collector), from prometheus_client's own collectors.

In one process they are registered as they are. In multi-process mode a scrape reads only the
shared files, never a collector, so at each flush their samples are copied into shared values:
counters (CPU seconds, collections) by what they gained, summed over every worker that ever ran;
gauges (memory, descriptors) summed over the live workers, except where a sum means nothing.
"""

from __future__ import annotations

from typing import Literal

from prometheus_client import CollectorRegistry, Counter, Gauge, GCCollector, PlatformCollector, ProcessCollector

# How each gauge combines over live workers, when not by their sum.
_MODES: dict[str, Literal["livesum", "livemax", "livemin"]] = {
    "process_start_time_seconds": "livemin",
    "process_max_fds": "livemax",
    "python_info": "livemax",
}


class ProcessMetrics:
    def __init__(self, registry: CollectorRegistry, multiprocess: bool) -> None:
        # Multi-process: the collectors read into a registry of their own, copied at each flush.
        self.source = CollectorRegistry() if multiprocess else None
        target = self.source or registry
        ProcessCollector(registry=target)
        PlatformCollector(registry=target)
        GCCollector(registry=target)
        self.metrics: dict[str, Counter | Gauge] = {}
        self.last: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}

    def publish(self) -> None:
        if self.source is None:
            return  # registered as they are: read at each scrape
        for family in self.source.collect():
            for sample in family.samples:
                if sample.name.endswith("_created"):
                    continue
                metric = self.metrics.get(family.name)
                if metric is None:
                    metric = self.metrics[family.name] = (
                        Counter(family.name, family.documentation, sorted(sample.labels), registry=None)
                        if family.type == "counter"
                        else Gauge(
                            family.name,
                            family.documentation,
                            sorted(sample.labels),
                            registry=None,
                            multiprocess_mode=_MODES.get(family.name, "livesum"),
                        )
                    )
                child = metric.labels(**sample.labels) if sample.labels else metric
                if isinstance(child, Gauge):
                    child.set(sample.value)
                    continue
                key = (sample.name, tuple(sorted(sample.labels.items())))
                gained = sample.value - self.last.get(key, 0.0)
                if gained > 0:
                    child.inc(gained)
                    self.last[key] = sample.value
