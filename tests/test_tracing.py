"""OpenTelemetry tracing: the span tree of real requests, caught by the SDK's in-memory exporter.

The instrumentation is the real one (ASGI, asyncpg, redis-py) against the test PostgreSQL and
Redis; the exporter keeps the spans in memory instead of sending them to a collector, except in
the test where the OTLP exporter, configured by the environment, posts them to a local receiver.
"""

from __future__ import annotations

import asyncio
import gzip
import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import ClassVar

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from gateway import tracing
from gateway.app import create_app
from gateway.otel import Tracing
from gateway.settings import ConfigError, load_settings
from tests.cache_client import HIT, LISTING, STORED, gateway, post
from tests.conftest import ROOT
from tests.live import LEGACY_WS, TRANSPORT_WS, GraphQLWebSocket, serve_in_loop
from tests.test_cache_redis import _until_connected as until_connected
from tests.test_subscriptions import place

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_ID = "b7ad6b7169203331"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"


@pytest.fixture
def spans() -> Iterator[tuple[Tracing, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    traced = Tracing.to(SimpleSpanProcessor(exporter))
    try:
        yield traced, exporter
    finally:
        traced.close()  # the asyncpg and redis patches are process-wide: take them out again


def by_kind(spans: list[ReadableSpan], kind: SpanKind) -> list[ReadableSpan]:
    return [span for span in spans if span.kind == kind]


def children(spans: list[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    return [span for span in spans if span.parent is not None and span.parent.span_id == parent.context.span_id]


def only(spans: list[ReadableSpan]) -> ReadableSpan:
    assert len(spans) == 1, [span.name for span in spans]
    return spans[0]


async def test_a_listing_is_a_request_an_operation_and_its_sql_statements(db, spans, sql_counter):
    traced, exporter = spans
    async with gateway(db, traced) as (client, _app):
        # What starting the app read (the database's identity, for the cache keys) is no request's.
        exporter.clear()
        sql_counter.statements.clear()
        response = await post(client, LISTING, {"n": 5}, headers={"traceparent": TRACEPARENT})
        assert response.status_code == 200 and response.headers["cache-status"] == STORED
        finished = exporter.get_finished_spans()

    request = only(by_kind(finished, SpanKind.SERVER))
    # The caller's trace is continued: same trace, the caller's span as parent.
    assert f"{request.context.trace_id:032x}" == TRACE_ID
    assert request.parent is not None and request.parent.is_remote and f"{request.parent.span_id:016x}" == PARENT_ID
    assert request.name == "POST /graphql"
    assert request.attributes["gateway.cache_status"] == "fwd=miss; stored"
    assert request.attributes["gateway.request_id"] == response.headers["x-request-id"]
    assert request.attributes["graphql.operation.name"] == "Listing"

    operation = only(children(finished, request))
    assert operation.name == "query Listing"
    assert operation.attributes["graphql.operation.name"] == "Listing"
    assert operation.attributes["graphql.operation.type"] == "query"
    assert operation.attributes["gateway.query_cost"] == response.json()["extensions"]["cost"]["requestedQueryCost"]
    assert operation.attributes["gateway.cache_status"] == "fwd=miss"

    statements = by_kind(finished, SpanKind.CLIENT)
    if db.name == "postgres":
        # One span per statement the ORM sent, each a child of the operation.
        assert len(statements) == len(sql_counter.statements) >= 2
        assert children(finished, operation) == statements
        assert {span.attributes["db.system"] for span in statements} == {"postgresql"}
        assert all(span.attributes["db.statement"].split()[0].upper() == "SELECT" for span in statements)
    else:
        assert statements == []  # SQLite's driver is not instrumented
    assert {span.context.trace_id for span in finished} == {request.context.trace_id}


async def test_a_cache_hit_is_a_request_span_with_its_cache_status(db, spans):
    traced, exporter = spans
    async with gateway(db, traced) as (client, _app):
        await client.get("/graphql", params={"query": LISTING, "variables": '{"n": 3}'})
        exporter.clear()
        hit = await client.get("/graphql", params={"query": LISTING, "variables": '{"n": 3}'})
        assert hit.headers["cache-status"] == HIT
        finished = exporter.get_finished_spans()

    request = only(list(finished))  # no operation, no statement: the hit never reached GraphQL
    assert request.kind == SpanKind.SERVER and request.name == "GET /graphql"
    assert request.attributes["gateway.cache_status"] == "hit"
    assert request.attributes["graphql.operation.name"] == "Listing"
    assert request.attributes["http.status_code"] == 200
    assert request.parent is None  # no traceparent: a new trace


async def test_redis_commands_are_spans_of_the_request_that_sent_them(db, spans, redis_url):
    traced, exporter = spans
    async with gateway(db, traced, REDIS_URL=redis_url) as (client, _app):
        await until_connected(client)
        exporter.clear()
        response = await post(client, LISTING, {"n": 2})
        assert response.headers["cache-status"] == STORED
        finished = exporter.get_finished_spans()

    request = only(by_kind(finished, SpanKind.SERVER))
    commands = [span for span in finished if span.attributes.get("db.system") == "redis"]
    # The response cache asks Redis before GraphQL runs and stores the answer after: the request's own.
    assert commands and all(span.context.trace_id == request.context.trace_id for span in commands)
    assert {span.name for span in commands} >= {"GET"}
    assert all(span.parent is not None for span in commands)


async def test_a_mutation_bypasses_the_cache_and_says_so(db, spans):
    traced, exporter = spans
    async with gateway(db, traced) as (client, _app):
        response = await post(client, "mutation Start { cartCreate(input: {}) { cart { token } userErrors { code } } }")
        assert response.status_code == 200
        finished = exporter.get_finished_spans()
    request = only(by_kind(finished, SpanKind.SERVER))
    operation = only([span for span in children(finished, request) if span.kind == SpanKind.INTERNAL])
    assert operation.name == "mutation Start"
    assert operation.attributes["graphql.operation.type"] == "mutation"
    assert operation.attributes["gateway.cache_status"] == request.attributes["gateway.cache_status"] == "fwd=bypass"


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_a_subscription_is_traced_on_its_connection(db, spans, gql, protocol):
    traced, exporter = spans
    order = await place(gql)
    app = create_app(load_settings({"DATABASE_URL": db.url, "RATE_LIMIT_PER_SECOND": "0"}), traced)
    async with serve_in_loop(app) as url, GraphQLWebSocket.open(url, protocol=protocol) as ws:
        await ws.subscribe(
            "subscription Follow($t: ID!) { orderStatusChanged(orderToken: $t) { status } }", {"t": order["token"]}
        )
        assert await ws.next_data() == {"orderStatusChanged": {"status": "PLACED"}}
    for _ in range(100):  # the server closes its side after the client: the connection's span ends then
        connections = by_kind(exporter.get_finished_spans(), SpanKind.SERVER)
        if connections:
            break
        await asyncio.sleep(0.02)
    connection = only(connections)
    operation = only([s for s in children(exporter.get_finished_spans(), connection) if s.kind == SpanKind.INTERNAL])
    assert operation.name == "subscription Follow"
    assert operation.attributes["graphql.operation.type"] == "subscription"
    assert "gateway.cache_status" not in operation.attributes  # no response cache on a WebSocket


class Collector(http.server.BaseHTTPRequestHandler):
    """An OTLP/HTTP trace receiver: keeps what each export request carried."""

    received: ClassVar[list[ExportTraceServiceRequest]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        if self.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        self.received.append(ExportTraceServiceRequest.FromString(body))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


async def test_spans_reach_an_otlp_collector_as_the_environment_says(db, monkeypatch):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Collector.received.clear()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_SERVICE_NAME": "shop-gateway"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)  # the SDK and the exporter read the process environment
    traced = tracing.from_environment(env)
    assert traced is not None
    try:
        async with gateway(db, traced) as (client, _app):
            assert (await post(client, LISTING, {"n": 1})).status_code == 200
    finally:
        traced.close()  # flushes the batch to the collector
        server.shutdown()
    resources = [r for request in Collector.received for r in request.resource_spans]
    services = {a.value.string_value for r in resources for a in r.resource.attributes if a.key == "service.name"}
    names = {span.name for r in resources for scope in r.scope_spans for span in scope.spans}
    assert services == {"shop-gateway"}
    assert {"POST /graphql", "query Listing"} <= names


def test_tracing_is_off_unless_the_environment_asks_for_it():
    assert not tracing.requested({})
    assert not tracing.requested({"OTEL_SERVICE_NAME": "shop"})  # naming the service exports nothing
    assert tracing.requested({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert tracing.requested({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"})
    assert tracing.requested({"OTEL_TRACES_EXPORTER": "console"})
    assert not tracing.requested({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"})
    assert not tracing.requested({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "console"})
    assert tracing.from_environment({}) is None
    assert names({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}) == ["otlp_proto_http"]
    assert names({"OTEL_TRACES_EXPORTER": "otlp, console"}) == ["otlp_proto_http", "console"]


def names(env: dict[str, str]) -> list[str]:
    return [point.name for point in tracing.exporters(env)]


@pytest.mark.parametrize(
    "env,variable",
    [
        ({"OTEL_SDK_DISABLED": "yes please"}, "OTEL_SDK_DISABLED"),
        ({"OTEL_TRACES_EXPORTER": "jaegerish"}, "OTEL_TRACES_EXPORTER"),
        ({"OTEL_TRACES_EXPORTER": "none,console"}, "OTEL_TRACES_EXPORTER"),
        (
            {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "carrier-pigeon"},
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"},
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        ),
    ],
)
def test_a_bad_tracing_variable_is_named(env, variable):
    with pytest.raises(ConfigError) as caught:
        tracing.requested(env)
    assert str(caught.value).startswith(f"{variable}:") and "\n" not in str(caught.value)


@pytest.mark.slow  # gateway processes
def test_the_served_app_traces_only_when_asked():
    # What the served app installed: the request middleware, gateway/otel.py, the client patches.
    probe = (
        "import sys, asyncpg, redis.asyncio, gateway.app as served; "
        "print(any(m.cls.__name__ == 'OpenTelemetryMiddleware' for m in served.app.user_middleware), "
        "'gateway.otel' in sys.modules, hasattr(asyncpg.Connection.fetch, '__wrapped__'), "
        "hasattr(redis.asyncio.Redis.execute_command, '__wrapped__'))"
    )

    def run(**env: str) -> str:
        clean = {name: value for name, value in os.environ.items() if not name.startswith("OTEL_")}
        result = subprocess.run(
            [sys.executable, "-c", probe], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    assert run() == "False False False False"  # off: nothing of it on any path
    assert run(OTEL_SERVICE_NAME="shop") == "False False False False"
    assert run(OTEL_TRACES_EXPORTER="console") == "True True True True"
