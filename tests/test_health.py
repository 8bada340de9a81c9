"""/healthz is liveness; /readyz fails only when this process cannot serve (the database), and a
Redis that is away is reported in its body and in /metrics, never as a 503."""

from __future__ import annotations

from testbed.servers import free_port
from tests.cache_client import gateway, metric


async def test_a_redis_that_is_away_is_degraded_not_unready(db):
    nothing_there = f"redis://127.0.0.1:{free_port()}/0"
    async with gateway(db, REDIS_URL=nothing_there, REDIS_TIMEOUT_MS="200") as (client, _):
        assert (await client.get("/healthz")).status_code == 200
        ready = await client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["status"] == "ok" and ready.json()["redis"] == "degraded"
        # Still serving: the catalogue answers without Redis.
        response = await client.post("/graphql", json={"query": "{ products(first: 1) { totalCount } }"})
        assert response.status_code == 200 and response.json()["data"]["products"]["totalCount"] > 0
        assert metric((await client.get("/metrics")).text, "gateway_redis_degraded") == 1


async def test_a_redis_that_answers_is_ok(db, redis_url):
    async with gateway(db, REDIS_URL=redis_url) as (client, _):
        ready = await client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["redis"] == "ok"
        assert metric((await client.get("/metrics")).text, "gateway_redis_degraded") == 0
