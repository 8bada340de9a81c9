"""Limits that protect the service, checked before any resolver runs; defaults no storefront hits."""

from __future__ import annotations

from testbed.storefront import LISTING


async def post(client, query: str, variables: dict | None = None):
    return await client.post("/graphql", json={"query": query, "variables": variables or {}})


async def test_the_cost_is_reported_and_the_storefront_listing_fits(client):
    body = (await post(client, LISTING)).json()
    assert not body.get("errors")
    assert body["extensions"]["cost"] == {"requestedQueryCost": 1303, "maximumAvailable": 5000}


async def test_a_too_costly_query_is_refused_before_executing(client, sql_counter):
    query = "query($n: Int) { products(first: $n) { nodes { category { products(first: 100) { nodes { variants { sku } } } } } } }"
    sql_counter.statements.clear()
    body = (await post(client, query, {"n": 100})).json()
    # Refused before execution: no `data` entry at all (GraphQL spec), and no SQL ran.
    assert "data" not in body and sql_counter.statements == []
    error = body["errors"][0]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert error["extensions"]["cost"]["requestedQueryCost"] > 5000


async def test_depth_limit(client):
    nested = '{ category(slug: "lab") { ' + "children { " * 15 + "id" + " }" * 15 + " } }"
    body = (await post(client, nested)).json()
    assert [e["extensions"]["code"] for e in body["errors"]] == ["QUERY_TOO_COMPLEX"]


async def test_alias_limit(client):
    query = "{ " + " ".join(f'a{i}: product(slug: "x") {{ id }}' for i in range(31)) + " }"
    body = (await post(client, query)).json()
    assert [e["extensions"]["code"] for e in body["errors"]] == ["QUERY_TOO_COMPLEX"]


async def test_token_limit(client):
    query = "{ products(first: 1) { edges { node { " + " ".join(["id"] * 6000) + " } } } }"
    body = (await post(client, query)).json()
    assert [e["extensions"]["code"] for e in body["errors"]] == ["QUERY_TOO_COMPLEX"]


async def test_body_size_limit(client):
    big = "{ products(first: 1) { totalCount } }" + " " * 200_000
    response = await post(client, big)
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert response.headers["x-request-id"]


async def test_streamed_body_over_the_limit_is_refused(client):
    async def chunks():
        for _ in range(30):
            yield b" " * 10_000

    response = await client.post("/graphql", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413


async def test_streamed_body_under_the_limit_is_served(client):
    # No Content-Length: the body is counted as it arrives, and one under the limit goes through.
    async def chunks():
        yield b'{"query": "{ products(first: 1) '
        yield b'{ totalCount } }"}'

    response = await client.post("/graphql", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 200 and response.json()["data"]["products"]["totalCount"] >= 0


async def test_introspection_is_not_limited_by_depth(client):
    from graphql import get_introspection_query

    body = (await post(client, get_introspection_query())).json()
    assert "errors" not in body and body["data"]["__schema"]["queryType"]["name"] == "Query"
