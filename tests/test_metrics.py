"""`/metrics` as Prometheus reads it: parsed with prometheus_client's own parser.

Label values never come from what a client chooses; operation names only from the allow-list;
the standard process and runtime families are there; WebSocket traffic is counted. The sum over
several workers is tests/test_metrics_workers.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from gateway.metrics import OTHER, Metrics
from gateway.persisted import sha256_hex
from tests.cache_client import gateway
from tests.live import LEGACY_WS, TRANSPORT_WS, GraphQLWebSocket, serve_in_loop

PRODUCTS = "query Browse { products(first: 1) { totalCount } }"


def families(text: str) -> dict[str, object]:
    return {family.name: family for family in text_string_to_metric_families(text)}


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    """Every sample called `name` (`x_total`, `x_bucket`) in a scrape, with its labels."""
    return [
        (sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    ]


async def scrape(client: httpx.AsyncClient) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain; version=")
    return response.text


async def until(client: httpx.AsyncClient, name: str, labels: dict[str, str], value: float) -> str:
    """A scrape in which sample `name{labels}` has reached `value` (the server works concurrently)."""
    deadline = time.monotonic() + 10
    while True:
        text = await scrape(client)
        if (labels, value) in samples(text, name):
            return text
        assert time.monotonic() < deadline, f"{name}{labels} never reached {value}:\n{text}"
        await asyncio.sleep(0.02)


async def test_client_chosen_operation_names_never_become_labels(db):
    async with gateway(db, CACHE_ENABLED="0") as (client, _):
        for _ in range(63):
            name = "Probe" + uuid.uuid4().hex[:12]
            response = await client.post("/graphql", json={"query": f"query {name} {{ __typename }}"})
            assert response.status_code == 200
        await client.get("/no/such/path/" + uuid.uuid4().hex)
        text = await scrape(client)
    requests = samples(text, "gateway_requests_total")
    assert {labels["operation"] for labels, _ in requests} == {OTHER}
    assert dict((labels["status"], value) for labels, value in requests) == {"200": 63, "404": 1}
    histogram = families(text)["gateway_request_duration_seconds"]
    assert histogram.type == "histogram"
    assert {s.labels["operation"] for s in histogram.samples} == {OTHER}


async def test_allow_listed_operations_are_labelled_by_name(db, tmp_path):
    manifest = tmp_path / "manifest.json"
    operations = [{"id": sha256_hex(PRODUCTS), "body": PRODUCTS, "name": "Browse", "type": "query"}]
    manifest.write_text(
        json.dumps({"format": "apollo-persisted-query-manifest", "version": 1, "operations": operations})
    )
    async with gateway(db, PERSISTED_QUERIES="allowlist", PERSISTED_QUERIES_MANIFEST=str(manifest)) as (client, _):
        extensions = {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(PRODUCTS)}}
        for _ in range(2):  # a miss, then a cache hit: both labelled
            response = await client.post("/graphql", json={"extensions": extensions})
            assert response.status_code == 200 and response.json()["data"]["products"]["totalCount"] > 0
        refused = await client.post("/graphql", json={"query": "query Made { __typename }"})
        assert refused.status_code == 403
        text = await scrape(client)
    counts = {
        (labels["operation"], labels["status"]): value for labels, value in samples(text, "gateway_requests_total")
    }
    assert counts == {("Browse", "200"): 2, (OTHER, "403"): 1}


async def test_other_paths_are_labelled_by_their_route(db):
    async with gateway(db) as (client, _):
        await client.get("/healthz")
        await client.post("/webhooks/carriers/" + uuid.uuid4().hex[:8], content=b"{}")
        await client.get("/metrics")
        await client.get("/graphiql/" + uuid.uuid4().hex + ".js")  # GraphiQL's files: a mount
        text = await scrape(client)
    operations = {labels["operation"] for labels, _ in samples(text, "gateway_requests_total")}
    assert operations == {"/healthz", "/webhooks/carriers/{carrier}", "/metrics", "/graphiql"}


async def test_the_request_histogram_counts_every_request_once(db):
    async with gateway(db) as (client, _):
        for _ in range(5):
            await client.get("/healthz")
        text = await scrape(client)
    buckets = {labels["le"]: value for labels, value in samples(text, "gateway_request_duration_seconds_bucket")}
    ordered = sorted(buckets.items(), key=lambda item: float(item[0]))
    assert [value for _, value in ordered] == sorted(buckets.values())  # cumulative
    assert buckets["+Inf"] == 5
    assert samples(text, "gateway_request_duration_seconds_count") == [({"operation": "/healthz"}, 5.0)]
    assert samples(text, "gateway_request_duration_seconds_sum")[0][1] > 0


async def test_standard_process_and_runtime_metrics(db):
    async with gateway(db) as (client, _):
        found = families(await scrape(client))
    for name in ("process_cpu_seconds", "process_resident_memory_bytes", "process_start_time_seconds"):
        assert name in found and found[name].samples[0].value > 0, name
    assert found["python_info"].samples[0].labels["implementation"] == "CPython"
    assert {s.labels["generation"] for s in found["python_gc_collections"].samples} == {"0", "1", "2"}
    assert found["gateway_workers"].samples[0].value == 1


async def test_websocket_connections_and_operations_are_counted_and_logged(db, caplog):
    async with gateway(db) as (client, app), serve_in_loop(app) as url:
        with caplog.at_level(logging.INFO, logger="gateway.websocket"):
            for protocol in (TRANSPORT_WS, LEGACY_WS):
                async with GraphQLWebSocket.open(url, protocol=protocol) as ws:
                    await ws.subscribe('subscription Watch { shipmentUpdated(trackingNumber: "none") { status } }')
                    text = await until(client, "gateway_websocket_operations_total", {"protocol": protocol}, 1)
                    assert samples(text, "gateway_websocket_connections_open") == [
                        ({"protocol": TRANSPORT_WS}, 1.0 if protocol == TRANSPORT_WS else 0.0),
                        ({"protocol": LEGACY_WS}, 1.0 if protocol == LEGACY_WS else 0.0),
                    ]
            await ws.connection.wait_closed()
        text = await scrape(client)
    for name in ("gateway_websocket_connections_total", "gateway_websocket_operations_total"):
        assert dict((labels["protocol"], value) for labels, value in samples(text, name)) == {
            TRANSPORT_WS: 1,
            LEGACY_WS: 1,
        }
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "gateway.websocket"]
    events = [(line["message"], line["protocol"]) for line in lines]
    assert events == [
        ("websocket connected", TRANSPORT_WS),
        ("websocket operation", TRANSPORT_WS),
        ("websocket closed", TRANSPORT_WS),
        ("websocket connected", LEGACY_WS),
        ("websocket operation", LEGACY_WS),
        ("websocket closed", LEGACY_WS),
    ]
    assert lines[1]["id"] == "1" and lines[2]["operations"] == 1
    # One request id per connection, on each of its lines.
    ids = [r.request_id for r in caplog.records if r.name == "gateway.websocket"]
    assert ids[0] == ids[1] == ids[2] and ids[3] == ids[4] == ids[5] and ids[0] != ids[3] and ids[0]


def test_a_reading_publishes_what_it_gained_since_the_last_flush():
    metrics = Metrics()
    seen = {"n": 3}
    metrics.reading("probe_events_total", "counter", "Events.", lambda: seen["n"])
    metrics.flush()
    metrics.flush()  # nothing new: nothing added
    seen["n"] = 5
    assert samples(metrics.render().decode(), "probe_events_total") == [({}, 5.0)]


def test_the_log_config_file_is_valid_json():
    config = json.loads((Path(__file__).resolve().parent.parent / "gateway" / "log_config.json").read_text())
    assert config["root"]["handlers"] == ["stderr"]
