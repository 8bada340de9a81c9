"""GraphQL over HTTP as the spec has it: media types, status codes, malformed requests.

The graphql-http audit (tests/test_http_audit.py) checks the same against a live server; these
tests pin the gateway's own choices the audit does not look at (405 with Allow, 406, 415, error
bodies and headers on every refusal) and run without Node.
"""

from __future__ import annotations

import json

import pytest

from gateway.graphql_http import APPLICATION_JSON, GRAPHQL_RESPONSE_JSON, negotiate
from models.cart import Cart
from tests.cache_client import BYPASS, HIT, MISS, STORED

GQL = {"accept": GRAPHQL_RESPONSE_JSON}
JSON = {"accept": APPLICATION_JSON}


@pytest.mark.parametrize(
    "accept,expected",
    [
        (None, APPLICATION_JSON),
        ("", APPLICATION_JSON),
        ("*/*", APPLICATION_JSON),
        ("application/*", APPLICATION_JSON),
        ("application/json", APPLICATION_JSON),
        ("application/graphql-response+json", GRAPHQL_RESPONSE_JSON),
        ("application/graphql-response+json, application/json;q=0.9", GRAPHQL_RESPONSE_JSON),  # Apollo Client 4
        ("application/json, application/graphql-response+json;q=0.5", APPLICATION_JSON),
        ("application/graphql-response+json;charset=utf-8", GRAPHQL_RESPONSE_JSON),
        ("application/graphql-response+json;q=0, application/json", APPLICATION_JSON),
        ("application/json;charset=latin1, application/graphql-response+json", GRAPHQL_RESPONSE_JSON),
        ("text/html", None),
        ("application/json;q=0", None),
        ("application/xml, text/plain;q=0.5", None),
    ],
)
def test_accept_negotiation(accept, expected):
    assert negotiate(accept) == expected


CACHE_STATUSES = {HIT, STORED, MISS, BYPASS}


def _assert_gateway_headers(response) -> None:
    assert response.headers["cache-status"] in CACHE_STATUSES
    assert response.headers["x-request-id"]
    assert "accept" in response.headers["vary"].lower()
    assert "Traceback" not in response.text


async def test_success_uses_the_accepted_media_type(client):
    for headers, media_type in ((GQL, GRAPHQL_RESPONSE_JSON), (JSON, APPLICATION_JSON), ({}, APPLICATION_JSON)):
        response = await client.post("/graphql", json={"query": "{ __typename }"}, headers=headers)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith(media_type)
        assert response.json()["data"] == {"__typename": "Query"}
        _assert_gateway_headers(response)


@pytest.mark.parametrize(
    "payload,code",
    [
        ({"query": "{ products(first: 1) { totalCount }"}, "GRAPHQL_VALIDATION_FAILED"),  # parse error
        ({"query": "{ noSuchField }"}, "GRAPHQL_VALIDATION_FAILED"),  # validation error
        (
            {"query": "query($n: Int!) { products(first: $n) { totalCount } }", "variables": {"n": "ten"}},
            "BAD_USER_INPUT",
        ),
        ({"query": "query($n: Int!) { products(first: $n) { totalCount } }", "variables": {}}, "BAD_USER_INPUT"),
        (
            {"query": "{ " + " ".join(f'a{i}: product(slug: "x") {{ id }}' for i in range(31)) + " }"},
            "QUERY_TOO_COMPLEX",
        ),
    ],
)
async def test_request_errors_are_400_without_data_for_graphql_response_json(client, payload, code):
    response = await client.post("/graphql", json=payload, headers=GQL)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE_JSON)
    body = response.json()
    assert "data" not in body
    assert [e["extensions"]["code"] for e in body["errors"]] == [code]
    _assert_gateway_headers(response)

    # Legacy application/json clients read the body, not the status: 200, same body.
    legacy = await client.post("/graphql", json=payload, headers=JSON)
    assert legacy.status_code == 200 and legacy.headers["content-type"].startswith(APPLICATION_JSON)
    assert "data" not in legacy.json() and legacy.json()["errors"] == body["errors"]


async def test_field_errors_keep_data_and_a_2xx_status(client):
    # The resolver refuses (BAD_USER_INPUT with a path): the operation ran, data is there.
    response = await client.post("/graphql", json={"query": "{ __typename product { id } }"}, headers=GQL)
    assert response.status_code == 200
    body = response.json()
    assert body["data"] == {"__typename": "Query", "product": None}
    assert body["errors"][0]["path"] == ["product"] and body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_unknown_operation_name_is_a_request_error(client):
    payload = {"query": "query A { __typename } query B { __typename }", "operationName": "C"}
    response = await client.post("/graphql", json=payload, headers=GQL)
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "OPERATION_RESOLUTION_FAILURE"
    assert (await client.post("/graphql", json=payload, headers=JSON)).status_code == 200
    picked = await client.post("/graphql", json={**payload, "operationName": "B"}, headers=GQL)
    assert picked.status_code == 200 and picked.json()["data"] == {"__typename": "Query"}


async def test_mutation_over_get_is_405_with_allow_and_changes_nothing(client, db):
    carts = await Cart.all().count()
    for headers in (GQL, JSON):
        response = await client.get(
            "/graphql", params={"query": "mutation { cartCreate { cart { token } } }"}, headers=headers
        )
        assert response.status_code == 405
        assert response.headers["allow"] == "POST"
        assert response.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"
        _assert_gateway_headers(response)
    assert await Cart.all().count() == carts
    # The same mutation over POST works.
    response = await client.post("/graphql", json={"query": "mutation { cartCreate { cart { token } } }"})
    assert response.status_code == 200 and response.json()["data"]["cartCreate"]["cart"]["token"]
    assert await Cart.all().count() == carts + 1


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
async def test_other_methods_are_405_with_allow(client, method):
    response = await client.request(method, "/graphql")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert response.headers["cache-status"] == "gateway; fwd=bypass"


@pytest.mark.parametrize(
    "body",
    [
        b"",  # no body
        b"{not json",
        b'{"query": "{ __typename }"',  # truncated
        b"\xff\xfe{}",  # not UTF-8
        b"null",
        b"42",
        b'"{ __typename }"',
        b'[{"query": "{ __typename }"}]',  # not an object (no batching)
        b"{}",
        b'{"qeury": "{ __typename }"}',
        b'{"query": null}',
        b'{"query": "  "}',  # no query
        *(json.dumps({"query": bad}).encode() for bad in ({"obj": "ect"}, 0, False, ["array"])),
        *(
            json.dumps({"query": "{ __typename }", "operationName": bad}).encode()
            for bad in ({"obj": "ect"}, 0, False, ["x"])
        ),
        *(
            json.dumps({"query": "{ __typename }", "variables": bad}).encode()
            for bad in ("string", 0, False, ["array"])
        ),
        *(
            json.dumps({"query": "{ __typename }", "extensions": bad}).encode()
            for bad in ("string", 0, False, ["array"])
        ),
    ],
)
@pytest.mark.parametrize("headers", [GQL, JSON])
async def test_malformed_post_bodies_are_400(client, body, headers):
    response = await client.post("/graphql", content=body, headers={**headers, "content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith(headers["accept"])
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_REQUEST" and error["message"]
    _assert_gateway_headers(response)


@pytest.mark.parametrize(
    "params",
    [
        {},  # nothing to run
        {"query": ""},
        {"query": "{ __typename }", "variables": "{not json"},
        {"query": "{ __typename }", "variables": "[1]"},
        {"query": "{ __typename }", "variables": "7"},
        {"query": "{ __typename }", "extensions": "nope"},
        {"query": "{ __typename }", "extensions": '"string"'},
    ],
)
async def test_malformed_get_parameters_are_400(client, params):
    response = await client.get("/graphql", params=params, headers=JSON)
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    _assert_gateway_headers(response)


async def test_get_with_variables_and_empty_optional_parameters(client):
    params = {
        "query": "query($n: Int!) { products(first: $n) { edges { node { id } } } }",
        "variables": json.dumps({"n": 2}),
        "operationName": "",
        "extensions": "",
    }
    response = await client.get("/graphql", params=params, headers=GQL)
    assert response.status_code == 200 and len(response.json()["data"]["products"]["edges"]) == 2


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/graphql",
        "application/json; charset=latin-1",
        "application/jsonx",
    ],
)
async def test_unsupported_request_content_types_are_415(client, content_type):
    headers = {"content-type": content_type} if content_type else {}
    response = await client.post("/graphql", content=b'{"query": "{ __typename }"}', headers=headers)
    assert response.status_code == 415, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    _assert_gateway_headers(response)


async def test_utf8_charset_and_non_ascii_documents_are_accepted(client):
    body = json.dumps({"query": '{ __type(name: "Run🏃Swim🏊") { name } }'}, ensure_ascii=False).encode()
    response = await client.post("/graphql", content=body, headers={"content-type": "application/json; charset=UTF-8"})
    assert response.status_code == 200 and response.json() == {
        "data": {"__type": None},
        "extensions": response.json()["extensions"],
    }


async def test_unacceptable_accept_is_406(client):
    response = await client.post("/graphql", json={"query": "{ __typename }"}, headers={"accept": "application/xml"})
    assert response.status_code == 406
    assert response.json()["errors"][0]["extensions"]["code"] == "NOT_ACCEPTABLE"
    _assert_gateway_headers(response)


async def test_get_without_query_is_graphiql_for_browsers_and_400_for_clients(client):
    page = await client.get("/graphql", headers={"accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()
    assert (await client.get("/graphql", headers={"accept": "*/*"})).status_code == 400


@pytest.mark.parametrize(
    "body,refused",
    [
        (rb'{"query": "{ __typename }", "variables": {"t": "ab\ud800"}}', True),
        (rb'{"query": "{ __typename }", "variables": {"\uDFFF": 1}}', True),  # in a key
        (rb'{"query": "{ __typename }", "variables": {"t": [[{"u": "\udc00x"}]]}}', True),
        (rb'{"query": "{ __typename }", "variables": {"t": "\ud83d\ude00"}}', False),  # a pair: one character
        (rb'{"query": "{ __typename }", "variables": {"t": "\\ud800"}}', False),  # an escaped backslash: plain text
    ],
)
def test_a_lone_surrogate_escape_is_a_malformed_body(body, refused):
    from gateway.graphql_http import RequestError, params_from_body

    if refused:
        with pytest.raises(RequestError) as error:
            params_from_body("application/json", body)
        assert error.value.status == 400 and error.value.code == "BAD_REQUEST"
    else:
        assert params_from_body("application/json", body).variables["t"] in ("\U0001f600", "\\ud800")
