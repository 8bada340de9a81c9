"""Cost-based rate limiting as Shopify's: operations draw their cost from the client's bucket."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack

import httpx
import pytest

from gateway.app import create_app
from gateway.settings import ConfigError, load_settings
from tests.conftest import the_test_redis
from tests.staff import bearer, token_for
from tests.test_rate_limits import client_from, unique_address

# 30 connections of an empty page: 3 points each, requested and actual alike, whatever the data.
NINETY = "{ " + " ".join(f"a{n}: products(first: 0) {{ pageInfo {{ hasNextPage }} }}" for n in range(30)) + " }"
# Requested 2 + 50; actual 2 + the products shown: none here.
NOTHING_FOUND = '{ products(first: 50, search: "no product is called this") { nodes { name } } }'


@pytest.fixture(params=["in process", "redis"])
async def gateway(request, db) -> AsyncIterator[Callable[..., Awaitable[httpx.AsyncClient]]]:
    """A client of its own address on a gateway whose cost buckets hold 100 points, one coming
    back a second (in process, or in Redis); no response cache unless asked for."""
    if db.name != "sqlite":
        pytest.skip("the limiter is the same whatever the database")
    base = {
        "DATABASE_URL": db.url,
        "QUERY_COST_RESTORE_RATE": "1",
        "QUERY_COST_BUCKET_SIZE": "100",
        "MAX_QUERY_COST": "100",
        "CACHE_ENABLED": "0",
    }
    async with AsyncExitStack() as stack:
        if request.param == "redis":
            base["REDIS_URL"] = await stack.enter_async_context(the_test_redis())

        async def client(**env: str) -> httpx.AsyncClient:
            app = create_app(load_settings({**base, **env}))
            # No lifespan (the `db` fixture holds Tortoise's connection): start what it would.
            await app.state.events.start()
            stack.push_async_callback(app.state.events.close)
            if app.state.cache is not None:
                await app.state.cache.start()
                stack.push_async_callback(app.state.cache.close)
            return await stack.enter_async_context(client_from(app, unique_address()))

        yield client


async def post(client: httpx.AsyncClient, query: str, **headers: str) -> httpx.Response:
    return await client.post("/graphql", json={"query": query}, headers=headers)


async def test_each_operation_pays_its_actual_cost_and_the_response_says_so(gateway):
    client = await gateway()
    first = (await post(client, NOTHING_FOUND)).json()
    assert first["data"]["products"]["nodes"] == []
    assert first["extensions"]["cost"] == {
        "requestedQueryCost": 52,
        "actualQueryCost": 2,
        "maximumAvailable": 100,
        "throttleStatus": {"maximumAvailable": 100.0, "currentlyAvailable": 98.0, "restoreRate": 1.0},
    }
    # The unused 50 came back: two more fit in the bucket, which 52 points each would not.
    for _ in range(2):
        again = (await post(client, NOTHING_FOUND)).json()["extensions"]["cost"]
        assert again["actualQueryCost"] == 2
    assert 94 <= again["throttleStatus"]["currentlyAvailable"] <= 96  # a point a second comes back


async def test_a_client_short_of_points_is_refused_and_nothing_runs(gateway, sql_counter):
    client = await gateway()
    assert (await post(client, NINETY)).status_code == 200
    sql_counter.statements.clear()
    refused = await post(client, NINETY)
    assert refused.status_code == 429 and sql_counter.statements == []
    assert 75 <= int(refused.headers["retry-after"]) <= 80  # 80 points short, one a second
    body = refused.json()
    assert "data" not in body and [e["extensions"]["code"] for e in body["errors"]] == ["RATE_LIMITED"]
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 90 and cost["actualQueryCost"] is None
    assert 10 <= cost["throttleStatus"]["currentlyAvailable"] <= 15
    # What costs nothing still runs, and a signed-in client has a bucket of its own.
    assert (await post(client, "{ __typename }")).status_code == 200
    assert (await post(client, NINETY, **bearer(await token_for(staff=False)))).status_code == 200


async def test_an_operation_that_fails_as_a_whole_keeps_its_charge(gateway):
    client = await gateway()
    # A refused query field nulls only itself now; a mutation's payload is non-null, so a refused
    # mutation fails the whole operation.
    operation = 'mutation { cartCreate(input: {lines: [{variantId: "not an id", quantity: 1}]}) { cart { id } } }'
    body = (await post(client, operation)).json()
    assert body["data"] is None and body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    requested = body["extensions"]["cost"]["requestedQueryCost"]
    assert requested > 0 and body["extensions"]["cost"]["actualQueryCost"] == requested
    assert body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 100 - requested


async def test_answers_the_cache_shares_say_nothing_of_one_client_and_hits_cost_no_points(gateway):
    client = await gateway(CACHE_ENABLED="1")
    query = '{ product(slug: "no-such-product") { name } products(first: 1) { nodes { name } } }'
    miss, hit = [await client.post("/graphql", json={"query": query}) for _ in range(2)]
    assert miss.headers["cache-status"] == "gateway; fwd=miss; stored" and hit.headers["cache-status"] == "gateway; hit"
    cost = miss.json()["extensions"]["cost"]
    assert "throttleStatus" not in cost and cost["requestedQueryCost"] == 4 and hit.content == miss.content
    # Only the miss was charged: the next operation of this client (never cached) finds the
    # bucket short of the miss's actual cost alone.
    mine = (await post(client, "{ me { id } }")).json()["extensions"]["cost"]["throttleStatus"]
    assert 100 - cost["actualQueryCost"] <= mine["currentlyAvailable"] <= 100


def test_the_bucket_must_hold_the_costliest_operation_allowed():
    with pytest.raises(ConfigError, match=r"^QUERY_COST_BUCKET_SIZE: .*MAX_QUERY_COST \(5000\)"):
        load_settings({"QUERY_COST_RESTORE_RATE": "100", "QUERY_COST_BUCKET_SIZE": "1000"})
    assert load_settings({"QUERY_COST_BUCKET_SIZE": "1000"}).query_cost_restore_rate == 0  # off: no matter


async def test_off_by_default_the_cost_report_is_unchanged(client):
    body = (await post(client, "{ __typename }")).json()
    assert body["extensions"]["cost"] == {"requestedQueryCost": 0, "maximumAvailable": 5000}
