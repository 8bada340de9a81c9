"""Switches a production deployment turns: introspection, GraphiQL, CORS and WebSocket origins."""

from __future__ import annotations

import httpx
import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from gateway.app import create_app
from gateway.settings import load_settings


def make_client(db, **env: str) -> httpx.AsyncClient:
    app = create_app(load_settings({"DATABASE_URL": db.url, **env}))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway.test")


async def test_introspection_and_graphiql_can_be_switched_off(db):
    async with make_client(db, INTROSPECTION="0", GRAPHIQL="0") as client:
        body = (await client.post("/graphql", json={"query": "{ __schema { queryType { name } } }"})).json()
        assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        assert "introspection" in body["errors"][0]["message"].lower()
        assert (
            await client.post("/graphql", json={"query": "{ products(first: 1) { totalCount } }"})
        ).status_code == 200
        page = await client.get("/graphql", headers={"accept": "text/html"})
        assert "graphiql" not in page.text.lower()


async def test_cors_allow_list(db):
    async with make_client(db, CORS_ALLOWED_ORIGINS="https://shop.example.com") as client:
        allowed = await client.options(
            "/graphql",
            headers={
                "origin": "https://shop.example.com",
                "access-control-request-method": "POST",
                "access-control-request-headers": "content-type,authorization",
            },
        )
        assert allowed.headers["access-control-allow-origin"] == "https://shop.example.com"
        refused = await client.options(
            "/graphql", headers={"origin": "https://evil.example", "access-control-request-method": "POST"}
        )
        assert "access-control-allow-origin" not in refused.headers
    async with make_client(db) as client:  # unset: no CORS headers at all
        response = await client.post(
            "/graphql", json={"query": "{ __typename }"}, headers={"origin": "https://shop.example.com"}
        )
        assert "access-control-allow-origin" not in response.headers


TRACING_AND_CLIENT_HEADERS = (
    "traceparent,tracestate,baggage,sentry-trace,apollographql-client-name,apollographql-client-version"
)


async def preflight(client: httpx.AsyncClient, headers: str) -> httpx.Response:
    return await client.options(
        "/graphql",
        headers={
            "origin": "https://shop.example.com",
            "access-control-request-method": "POST",
            "access-control-request-headers": headers,
        },
    )


async def test_cors_lets_browsers_send_trace_and_client_identification_headers(db):
    async with make_client(db, CORS_ALLOWED_ORIGINS="https://shop.example.com") as client:
        response = await preflight(client, f"content-type,authorization,{TRACING_AND_CLIENT_HEADERS}")
        assert response.status_code == 200
        allowed = {h.strip() for h in response.headers["access-control-allow-headers"].lower().split(",")}
        assert set(TRACING_AND_CLIENT_HEADERS.split(",")) | {"content-type", "authorization"} <= allowed
        # The actual request then goes through with them, answered with the CORS headers.
        traced = await client.post(
            "/graphql",
            json={"query": "{ __typename }"},
            headers={
                "origin": "https://shop.example.com",
                "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                "apollographql-client-name": "storefront",
            },
        )
        assert traced.status_code == 200
        assert traced.headers["access-control-allow-origin"] == "https://shop.example.com"


async def test_cors_allowed_headers_are_a_setting(db):
    async with make_client(
        db, CORS_ALLOWED_ORIGINS="https://shop.example.com", CORS_ALLOWED_HEADERS="Content-Type, X-Shop-Id"
    ) as client:
        assert (await preflight(client, "content-type,x-shop-id")).status_code == 200
        refused = await preflight(client, "content-type,traceparent")
        assert refused.status_code == 400 and "headers" in refused.text.lower()
        assert "traceparent" not in refused.headers["access-control-allow-headers"].lower()


def test_websocket_origin_allow_list(db):
    app = create_app(load_settings({"DATABASE_URL": db.url, "WS_ALLOWED_ORIGINS": "https://shop.example.com"}))
    client = TestClient(app)
    with (
        pytest.raises(WebSocketDisconnect),
        client.websocket_connect(
            "/graphql", subprotocols=["graphql-transport-ws"], headers={"origin": "https://evil.example"}
        ) as ws,
    ):
        ws.receive_text()
    with client.websocket_connect(
        "/graphql", subprotocols=["graphql-transport-ws"], headers={"origin": "https://shop.example.com"}
    ) as ws:
        ws.send_json({"type": "connection_init"})
        assert ws.receive_json()["type"] == "connection_ack"
