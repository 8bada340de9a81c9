"""OpenTelemetry set up for one process: the tracer provider, its exporters and the instrumentation.

Imported only when tracing is on (gateway/tracing.py decides). What gets a span:

- each HTTP request and WebSocket connection: OpenTelemetry's ASGI middleware, outermost, so a
  response cache hit is a request span too; an incoming `traceparent` is continued;
- each GraphQL operation, inside its request (gateway/otel_spans.py);
- each SQL statement (the asyncpg instrumentation; SQLite is not instrumented) and each Redis
  command (the redis-py instrumentation), inside whatever was running when it was sent.

The ASGI middleware's own per-message spans (`http send`, `http receive`) are left out: they
double the spans of every request and say nothing the request span does not. Health checks and
metrics scrapes get no span, as OpenTelemetry's `OTEL_PYTHON_ASGI_EXCLUDED_URLS` would have it
(and that variable, when set, is used instead).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from importlib.metadata import EntryPoint
from typing import Any

from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from starlette.applications import Starlette
from strawberry.extensions import SchemaExtension

from gateway.otel_spans import OperationSpan, RequestSpanDetails

SERVICE = "commerce-gateway"  # service.name unless OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES say otherwise
# Probes and scrapes, and customers' download links, whose URL is a secret a span would carry off.
UNTRACED_PATHS = "/healthz,/readyz,/metrics,/exports/"


class Tracing:
    """One process's tracer provider and what reports to it."""

    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider
        self.tracer = provider.get_tracer("gateway")
        self._instrumentors: list[Any] = []

    @classmethod
    def from_exporters(cls, exporters: Sequence[EntryPoint]) -> Tracing:
        """A provider exporting in batches to each exporter (as gateway/tracing.py found them);
        the SDK reads its sampler and limits from `OTEL_*`."""
        resource = Resource.create()
        if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
            resource = resource.merge(Resource({SERVICE_NAME: SERVICE}))
        provider = TracerProvider(resource=resource)
        for point in exporters:
            exporter: SpanExporter = point.load()()  # each exporter reads its own OTEL_EXPORTER_* settings
            provider.add_span_processor(BatchSpanProcessor(exporter))
        return cls(provider)

    @classmethod
    def to(cls, processor: SpanProcessor) -> Tracing:
        """Tracing into one span processor (tests: the SDK's in-memory exporter behind a simple processor)."""
        provider = TracerProvider(resource=Resource({SERVICE_NAME: SERVICE}))
        provider.add_span_processor(processor)
        return cls(provider)

    def schema_extensions(self) -> list[Callable[[], SchemaExtension]]:
        tracer = self.tracer
        return [lambda: OperationSpan(tracer)]

    def instrument(self, app: Starlette) -> None:
        """Add the request spans to `app` (call it after every other middleware, so they are
        outermost) and instrument the database and Redis clients of this process."""
        app.add_middleware(RequestSpanDetails)
        app.add_middleware(
            OpenTelemetryMiddleware,
            tracer_provider=self.provider,
            excluded_urls=os.environ.get(
                "OTEL_PYTHON_ASGI_EXCLUDED_URLS", os.environ.get("OTEL_PYTHON_EXCLUDED_URLS", UNTRACED_PATHS)
            ),
            exclude_spans=["receive", "send"],
        )
        # Both patch their client library for the whole process, once.
        for instrumentor in (AsyncPGInstrumentor(), RedisInstrumentor()):
            if not instrumentor.is_instrumented_by_opentelemetry:
                instrumentor.instrument(tracer_provider=self.provider)
                self._instrumentors.append(instrumentor)

    def close(self) -> None:
        """Take the instrumentation out again and send what is still buffered."""
        for instrumentor in self._instrumentors:
            instrumentor.uninstrument()
        self._instrumentors.clear()
        self.provider.shutdown()
