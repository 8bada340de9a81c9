"""Against a real server (uvicorn, 2 workers sharing Redis): a burst of concurrent requests is
refused exactly past the client's burst, whichever worker each request reaches."""

from __future__ import annotations

import asyncio
import math
import time

import httpx
import pytest

from gateway.ratelimit import LEASE
from testbed.processes import serving_workers_retried
from tests.live import uvicorn_workers
from tests.test_rate_limits import QUERY, unique_address

pytestmark = pytest.mark.slow  # real uvicorn workers: `make test-fast` skips them


@pytest.fixture
async def server(db, redis_url):
    if db.name != "postgres":
        pytest.skip("two workers need a database both can use: PostgreSQL")
    env = {
        "DATABASE_URL": db.url,
        "REDIS_URL": redis_url,
        "RATE_LIMIT_PER_SECOND": "1",
        "RATE_LIMIT_BURST": "200",
        "TRUSTED_PROXIES": "127.0.0.1",  # so that each test's client is an address of its own
    }
    async with uvicorn_workers(env) as served:
        yield served


async def burst(base: str, workers: list[int], count: int) -> tuple[list[int], set[int]]:
    """`count` requests at once from a new client address, each on its own connection: their
    statuses, and the workers that served them."""
    headers = {"x-forwarded-for": unique_address()}
    limits = httpx.Limits(max_connections=count)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:

        async def one() -> tuple[int, int]:
            # The port while the connection is open: the server need not keep it once it answered.
            async with client.stream("POST", "/graphql", json=QUERY, headers=headers) as response:
                port = response.extensions["network_stream"].get_extra_info("socket").getsockname()[1]
                await response.aread()
            return response.status_code, port

        answers = await asyncio.gather(*(one() for _ in range(count)))
        serving = serving_workers_retried(sorted({port for _, port in answers}), workers)
    return [status for status, _ in answers], {pid for pid in serving.values() if pid is not None}


async def test_two_workers_sharing_redis_refuse_exactly_past_the_burst(server):
    base, workers = server
    statuses, served_by = await burst(base, workers, 150)
    assert served_by == set(workers) and statuses.count(200) == 150

    started = time.monotonic()
    statuses, served_by = await burst(base, workers, 300)
    refilled = math.ceil(time.monotonic() - started)  # one token a second came back meanwhile
    assert served_by == set(workers) and set(statuses) <= {200, 429}
    # Exact, but for the spare tokens a worker leases when its requests arrive as a trickle (a
    # loaded machine): at most LEASE a worker may still hold, unspent, when the burst is over.
    assert 100 - refilled <= statuses.count(429) <= 100 + LEASE * len(workers)
