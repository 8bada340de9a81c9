"""Bad input gets a clear error, never a stack trace."""

from __future__ import annotations

import base64
import logging

import pytest

from schema.ids import encode_id

LIST = "query($first: Int, $last: Int, $after: String, $before: String, $sort: ProductSort) { products(first: $first, last: $last, after: $after, before: $before, sort: $sort) { edges { node { id } } } }"


async def test_unknown_id_gives_null(gql):
    data = await gql.data(
        "query($id: ID!) { product(id: $id) { id } node(id: $id) { id } }", {"id": encode_id("Product", 2_000_000)}
    )
    assert data == {"product": None, "node": None}


@pytest.mark.parametrize(
    "bad_id",
    [
        "not-an-id",
        "",
        base64.b64encode(b"Product:abc").decode(),
        base64.b64encode(b"Nope:1").decode(),
        base64.b64encode(b"Product:-3").decode(),
    ],
)
async def test_malformed_global_id_is_bad_user_input(gql, bad_id):
    assert await gql.error_codes("query($id: ID!) { node(id: $id) { id } }", {"id": bad_id}) == ["BAD_USER_INPUT"]


async def test_id_of_another_type_is_bad_user_input(gql, db):
    category = encode_id("Category", db.data.categories["Lab"])
    assert await gql.error_codes("query($id: ID) { product(id: $id) { id } }", {"id": category}) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize(
    "variables",
    [
        {"first": 101},
        {"first": -1},
        {"last": 101},
        {"last": -5},
        {"first": 5, "last": 5},
        {"first": 5, "after": "garbage!!"},
        {"last": 5, "before": "bm90LWpzb24"},
        {"first": 5, "after": base64.urlsafe_b64encode(b'["NAME_ASC", true, 1]').decode()},
        {"first": 5, "after": base64.urlsafe_b64encode(b'["NAME_ASC", "abc", "x"]').decode()},
        # Right shape, wrong value types for the sort the cursor names.
        {"first": 5, "sort": "PRICE_ASC", "after": base64.urlsafe_b64encode(b'["PRICE_ASC", "cheap", 1]').decode()},
        {"first": 5, "sort": "NEWEST", "after": base64.urlsafe_b64encode(b'["NEWEST", "yesterday", 1]').decode()},
        {
            "last": 5,
            "sort": "NEWEST",
            "before": base64.urlsafe_b64encode(b'["NEWEST", "2026-01-01T00:00:00+00:00", 1.5]').decode(),
        },
    ],
)
async def test_bad_page_arguments_are_bad_user_input(gql, variables):
    body = await gql.post(LIST, variables)
    assert body["data"] == {"products": None}  # the refused field nulls only itself
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]


async def test_first_100_is_allowed(gql):
    data = await gql.data("{ products(first: 100) { totalCount edges { node { id } } } }")
    assert len(data["products"]["edges"]) == min(100, data["products"]["totalCount"])


async def test_product_needs_exactly_one_of_id_or_slug(gql):
    assert await gql.error_codes("{ product { id } }") == ["BAD_USER_INPUT"]
    assert await gql.error_codes('{ product(id: "x", slug: "y") { id } }') == ["BAD_USER_INPUT"]


async def test_negative_price_filter_is_bad_user_input(gql):
    query = "query($f: ProductFilter) { products(first: 1, filter: $f) { totalCount } }"
    assert await gql.error_codes(query, {"f": {"price": {"min": "-1"}}}) == ["BAD_USER_INPUT"]
    assert await gql.error_codes(query, {"f": {"price": {"min": "10", "max": "5"}}}) == ["BAD_USER_INPUT"]


async def test_non_json_body_gives_400(client):
    response = await client.post("/graphql", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400


async def test_syntax_error_has_a_code_and_no_trace(gql):
    body = await gql.post("{ products(first: 1) { edges { node { name } }")
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "Traceback" not in str(body)


async def test_unexpected_exception_is_masked_and_logged_with_request_id(client, monkeypatch, caplog):
    from resolvers import catalogue

    async def explode(*args, **kwargs):
        raise RuntimeError("secret database password in this message")

    monkeypatch.setattr(catalogue, "product_by_slug", explode)
    with caplog.at_level(logging.ERROR, logger="gateway.errors"):
        response = await client.post("/graphql", json={"query": '{ product(slug: "x") { id } }'})
    body = response.json()
    request_id = response.headers["x-request-id"]
    assert body["errors"][0]["message"] == "Internal server error."
    assert body["errors"][0]["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id}
    assert "secret" not in response.text and "Traceback" not in response.text
    assert any(request_id in record.getMessage() and record.exc_info for record in caplog.records)


@pytest.mark.parametrize("variables", [{"n": "ten"}, {"n": 1.5}, {}])
async def test_variable_coercion_failures_are_bad_user_input_not_internal_errors(gql, variables):
    # graphql-core wraps the scalar's own error in the variable's: still the client's mistake.
    body = await gql.post("query($n: Int!) { products(first: $n) { totalCount } }", variables)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]
    assert body["errors"][0]["message"].startswith("Variable '$n'")
