"""Against a real server (uvicorn, 2 workers, PostgreSQL, Redis): a checkout that sells the last
unit through one worker shows up in the other worker's cached answer within a second."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest

from schema.ids import encode_id
from tests.cache_client import HIT
from tests.live import uvicorn_workers
from tests.test_cache import PRODUCT, drop_own_products, own_product  # noqa: F401  (fixture)
from tests.test_checkout import ADDRESS, CHECKOUT, PAID


@pytest.fixture
async def server(db, redis_url):
    if db.name != "postgres":
        pytest.skip("two workers need a database both can write: PostgreSQL")
    async with uvicorn_workers({"DATABASE_URL": db.url, "REDIS_URL": redis_url}) as (base, _):
        yield base


async def _two_workers(base: str) -> tuple[httpx.AsyncClient, httpx.AsyncClient, list[httpx.AsyncClient]]:
    """Two clients, each on one keep-alive connection, served by different worker processes.

    Which worker accepts a connection is the kernel's choice; a connection stays with it. Each
    worker's /metrics counts only its own requests, so a marker operation sent on one connection
    shows which other connections reach the same process.
    """
    marker = f"Probe{uuid.uuid4().hex[:8]}"
    clients = []
    for _ in range(16):
        client = httpx.AsyncClient(base_url=base, timeout=30, limits=httpx.Limits(max_connections=1))
        clients.append(client)
    first = clients[0]
    await first.post("/graphql", json={"query": f"query {marker} {{ __typename }}"})
    for other in clients[1:]:
        if f'operation="{marker}"' not in (await other.get("/metrics")).text:
            return first, other, clients
    for client in clients:
        await client.aclose()
    pytest.fail("16 connections all reached one worker")


async def test_a_checkout_selling_the_last_unit_shows_through_the_other_worker_within_a_second(server):
    product_id, variant = await own_product(units=1)
    variant_id = encode_id("ProductVariant", variant.id)
    a, b, clients = await _two_workers(server)
    try:
        async def shown(client: httpx.AsyncClient) -> tuple[str, dict]:
            response = await client.post("/graphql", json={"query": PRODUCT, "variables": {"id": product_id}})
            assert response.status_code == 200
            return response.headers["cache-status"], response.json()["data"]["product"]["variants"][0]

        for client in (a, b, a, b):
            await shown(client)
        status, before = await shown(b)
        assert status == HIT and before["availableForSale"] is True and before["quantityAvailable"] == 1
        assert (await shown(a))[0] == HIT

        async def gql(query: str, variables: dict) -> dict:
            body = (await a.post("/graphql", json={"query": query, "variables": variables})).json()
            assert not body.get("errors"), body
            return body["data"]

        token = (await gql("mutation($i: CartCreateInput) { cartCreate(input: $i) { cart { token } } }",
                           {"i": {"lines": [{"variantId": variant_id, "quantity": 1}], "email": "last@example.com"}}))["cartCreate"]["cart"]["token"]
        methods = (await gql("mutation($t: ID!, $a: AddressInput!) { cartUpdateShippingAddress(cartToken: $t, address: $a) { cart { availableShippingMethods { id name } } } }",
                             {"t": token, "a": ADDRESS}))["cartUpdateShippingAddress"]["cart"]["availableShippingMethods"]
        await gql("mutation($t: ID!, $m: ID!) { cartUpdateShippingMethod(cartToken: $t, shippingMethodId: $m) { userErrors { code } } }",
                  {"t": token, "m": next(m["id"] for m in methods if m["name"] == "Standard")})
        sold = await gql(CHECKOUT, {"t": token, "p": PAID})
        assert sold["checkoutComplete"]["userErrors"] == []
        committed = time.monotonic()

        while True:
            _, after = await shown(b)
            if not after["availableForSale"] or time.monotonic() - committed > 1.0:
                break
            await asyncio.sleep(0.01)
        elapsed = time.monotonic() - committed
        assert after["availableForSale"] is False and after["quantityAvailable"] == 0, after
        assert elapsed <= 1.0
    finally:
        for client in clients:
            await client.aclose()
