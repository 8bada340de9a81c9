"""Clients of a gateway app of its own, for the response cache's tests (each test its own cache)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from gateway.app import create_app
from gateway.settings import load_settings

LISTING = (
    "query Listing($n: Int) { products(first: $n) { totalCount edges { node { id name slug availableForSale "
    "variants { id sku price { amount currency } quantityAvailable availableForSale } } } } }"
)
HIT = "gateway; hit"
STORED = "gateway; fwd=miss; stored"
MISS = "gateway; fwd=miss"
BYPASS = "gateway; fwd=bypass"


@asynccontextmanager
async def gateway(db: Any, tracing: Any = None, **env: str) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    """An HTTP client of a fresh app (its own cache and metrics, traced by `tracing` if given) on
    the test database."""
    settings = load_settings({"DATABASE_URL": db.url, "LOG_LEVEL": "WARNING", "RATE_LIMIT_PER_SECOND": "0", **env})
    app = create_app(settings, tracing)
    # No lifespan: the `db` fixture holds Tortoise's connection. Start what the lifespan would.
    await app.state.events.start()
    if app.state.cache is not None:
        await app.state.cache.start()
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
            yield client, app
    finally:
        if app.state.cache is not None:
            await app.state.cache.close()
        await app.state.events.close()


async def post(client: httpx.AsyncClient, query: str, variables: dict | None = None, **extra: Any) -> httpx.Response:
    payload: dict[str, Any] = {"query": query, "variables": variables or {}}
    headers = extra.pop("headers", None)
    payload.update(extra)
    return await client.post("/graphql", json=payload, headers=headers)


def metric(text: str, name: str, labels: str = "") -> float:
    """One sample's value from Prometheus text: `metric(text, "x_total", 'result="hit"')`."""
    pattern = re.escape(name) + (r"\{" + re.escape(labels) + r"\}" if labels else "") + r" ([0-9.e+-]+)$"
    match = re.search(pattern, text, re.MULTILINE)
    assert match, f"no {name}{{{labels}}} in /metrics"
    return float(match.group(1))


async def cache_metrics(client: httpx.AsyncClient) -> dict[str, float]:
    text = (await client.get("/metrics")).text
    return {
        "hit": metric(text, "gateway_cache_requests_total", 'result="hit"'),
        "miss": metric(text, "gateway_cache_requests_total", 'result="miss"'),
        "bypass": metric(text, "gateway_cache_requests_total", 'result="bypass"'),
        "local": metric(text, "gateway_cache_hits_total", 'tier="local"'),
        "redis": metric(text, "gateway_cache_hits_total", 'tier="redis"'),
        "collapsed": metric(text, "gateway_cache_hits_total", 'tier="collapsed"'),
        "invalidated": metric(text, "gateway_cache_evictions_total", 'reason="invalidated"'),
        "size": metric(text, "gateway_cache_evictions_total", 'reason="size"'),
        "lock_timeouts": metric(text, "gateway_cache_lock_timeouts_total"),
    }
