"""Health, readiness, metrics, request ids and the access log."""

from __future__ import annotations

import json
import logging

import httpx
from starlette.routing import Route
from tortoise import connections

from gateway.app import create_app
from gateway.settings import load_settings


async def test_healthz(client):
    response = await client.get("/healthz")
    assert response.status_code == 200


async def test_readyz_ok(client):
    response = await client.get("/readyz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


async def test_readyz_503_with_reason_when_the_database_fails(client, monkeypatch):
    class Broken:
        async def execute_query(self, *args, **kwargs):
            raise ConnectionRefusedError("connection refused")

    monkeypatch.setattr(connections, "get", lambda name: Broken())
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "reason": "database: ConnectionRefusedError"}


async def test_request_id_header_and_one_structured_log_line(client, caplog):
    with caplog.at_level(logging.INFO, logger="gateway.access"):
        response = await client.post("/graphql", json={"query": "query Browse { products(first: 1) { totalCount } }"})
    request_id = response.headers["x-request-id"]
    assert len(request_id) == 32
    # A public catalogue query: the response cache stored it, or (run before) answered it.
    assert response.headers["cache-status"] in ("gateway; fwd=miss; stored", "gateway; hit")
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "gateway.access"]
    assert len(lines) == 1
    assert lines[0]["request_id"] == request_id and lines[0]["operation"] == "Browse" and lines[0]["status"] == 200
    assert lines[0]["duration_ms"] > 0


async def test_a_sane_incoming_request_id_is_kept(client):
    response = await client.get("/healthz", headers={"x-request-id": "edge-1234"})
    assert response.headers["x-request-id"] == "edge-1234"
    response = await client.get("/healthz", headers={"x-request-id": "bad id\nwith newline"})
    assert response.headers["x-request-id"] != "bad id\nwith newline"


async def test_metrics_count_requests_and_latency_by_operation(client):
    await client.post("/graphql", json={"query": "query MetricsProbe { products(first: 1) { totalCount } }"})
    text = (await client.get("/metrics")).text
    # A name the client chose is not a label (issue 14): only allow-listed operations are named
    # (tests/test_metrics.py); every other one is counted as `other`.
    assert "MetricsProbe" not in text
    assert 'gateway_requests_total{operation="other",status="200"}' in text
    assert 'gateway_request_duration_seconds_count{operation="other"}' in text
    # Labels in alphabetical order, as prometheus_client writes them.
    assert 'gateway_request_duration_seconds_bucket{le="+Inf",operation="other"}' in text


async def test_graphiql_is_served_to_browsers(client):
    response = await client.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200 and "graphiql" in response.text.lower()


async def test_queries_work_over_get(client):
    response = await client.get("/graphql", params={"query": "{ products(first: 1) { totalCount } }"})
    assert response.status_code == 200 and response.json()["data"]["products"]["totalCount"] > 0


async def test_an_unexpected_exception_is_a_plain_500_with_request_id_and_metrics(db):
    app = create_app(load_settings({"DATABASE_URL": db.url, "RATE_LIMIT_PER_SECOND": "0"}))

    async def broken(request):
        raise RuntimeError("secret detail")

    app.router.routes.append(Route("/broken", broken))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
        response = await http.get("/broken")
        assert response.status_code == 500 and "secret" not in response.text and "Traceback" not in response.text
        assert response.headers["x-request-id"]
        # Starlette's error handler sits inside the request middleware: the 500 is counted.
        assert 'operation="/broken",status="500"' in (await http.get("/metrics")).text
