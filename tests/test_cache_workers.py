"""Against a real server (uvicorn, 2 workers, PostgreSQL, Redis): a checkout that sells the last
unit through one worker shows up in the other worker's cached answer within a second."""

from __future__ import annotations

import asyncio
import time
from contextlib import AsyncExitStack

import httpx
import pytest

from tests.cache_client import HIT
from tests.conftest import GraphQLClient
from tests.live import client_on_worker, uvicorn_workers
from tests.test_cache import PRODUCT, drop_own_products, own_product  # noqa: F401  (fixture)
from tests.test_checkout import CHECKOUT, PAID, ready_cart

pytestmark = pytest.mark.slow  # real uvicorn workers: `make test-fast` skips them


@pytest.fixture
async def server(db, redis_url):
    if db.name != "postgres":
        pytest.skip("two workers need a database both can write: PostgreSQL")
    async with uvicorn_workers({"DATABASE_URL": db.url, "REDIS_URL": redis_url}) as served:
        yield served


async def test_a_checkout_selling_the_last_unit_shows_through_the_other_worker_within_a_second(server):
    product_id, variant = await own_product(units=1)
    base, workers = server
    async with AsyncExitStack() as stack:
        a, b = [await client_on_worker(base, pid, workers, stack) for pid in workers]

        async def shown(client: httpx.AsyncClient) -> tuple[str, dict]:
            response = await client.post("/graphql", json={"query": PRODUCT, "variables": {"id": product_id}})
            assert response.status_code == 200
            return response.headers["cache-status"], response.json()["data"]["product"]["variants"][0]

        for client in (a, b, a, b):
            await shown(client)
        status, before = await shown(b)
        assert status == HIT and before["availableForSale"] is True and before["quantityAvailable"] == 1
        assert (await shown(a))[0] == HIT

        token = await ready_cart(GraphQLClient(a), [(variant.sku, 1)])
        sold = await GraphQLClient(a).data(CHECKOUT, {"t": token, "p": PAID})
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
