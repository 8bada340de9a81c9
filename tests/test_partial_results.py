"""A refused root field nulls only itself: the request's other root fields still answer.

Refusals (an argument out of range, a missing permission) are field errors. On a non-null root
field they would null `data` as a whole (GraphQL's null propagation), so every root query field
that can be refused is nullable. The GraphQL-over-HTTP spec then wants 200 for such a partial
result, also under `application/graphql-response+json`: `data` is there, execution happened.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLNonNull, GraphQLObjectType

from tests.graphql_schema import GRAPHQL_SCHEMA
from tests.staff import bearer, token_for

GRAPHQL_RESPONSE = "application/graphql-response+json"
# Root fields whose refusals land on their items instead: `nodes` answers a malformed ID with an
# error at that ID's index, and its other items still answer.
REFUSED_PER_ITEM = {"nodes"}


async def _post(client, query: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    response = await client.post(
        "/graphql", json={"query": query}, headers={"accept": GRAPHQL_RESPONSE, **(headers or {})}
    )
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    return response.status_code, response.json()


def _errors(body: dict[str, Any]) -> list[tuple[list[Any], str]]:
    return [(e["path"], e["extensions"]["code"]) for e in body["errors"]]


async def test_a_page_size_out_of_range_nulls_only_products(client, db):
    query = "{ me { id } products(first: 500) { totalCount } categories(first: 1) { totalCount } }"
    status, body = await _post(client, query)
    assert status == 200
    assert body["data"]["me"] is None and body["data"]["products"] is None
    assert body["data"]["categories"]["totalCount"] > 0
    assert _errors(body) == [(["products"], "BAD_USER_INPUT")]

    status, body = await _post(client, query, bearer(await token_for(staff=False)))
    assert status == 200
    assert body["data"]["me"]["id"] and body["data"]["products"] is None
    assert _errors(body) == [(["products"], "BAD_USER_INPUT")]


async def test_an_admin_field_refused_to_a_caller_nulls_only_itself(client, db):
    query = "{ me { id } orders(first: 1) { edges { node { id } } } }"
    status, body = await _post(client, query)
    assert status == 200
    assert body["data"] == {"me": None, "orders": None}
    assert _errors(body) == [(["orders"], "UNAUTHENTICATED")]

    status, body = await _post(client, query, bearer(await token_for(staff=False)))
    assert status == 200
    assert body["data"]["me"]["id"] and body["data"]["orders"] is None
    assert _errors(body) == [(["orders"], "FORBIDDEN")]


def test_every_root_query_field_is_nullable():
    query = GRAPHQL_SCHEMA.query_type
    assert isinstance(query, GraphQLObjectType)
    non_null = {name for name, field in query.fields.items() if isinstance(field.type, GraphQLNonNull)}
    assert non_null == REFUSED_PER_ITEM
