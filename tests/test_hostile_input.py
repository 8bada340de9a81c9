"""Hostile input: whatever a client sends, the answer is a clean GraphQL error with a documented code.

Two halves. Schema-driven fuzzing (hypothesis-graphql) sends queries and mutations of the whole
schema as an anonymous caller, a customer and staff with every permission, against a gateway with
a database of its own (tests/hostile.py). Hand-written cases beside it replay the attacks of issue 12,
each with the code it must get. For every answer: no 5xx, no trace of Python or the database in
the body, every error with a message and a documented `extensions.code`, and no ERROR in the log.
"""

from __future__ import annotations

import base64
import json
import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode

from models import Account, Category, DiscountCode, ShippingMethod, Stock, StockMovement
from tests.hostile import CALLERS, MEDIA_TYPES, fuzz_gateway, logged_errors, problems

# Hundreds of generated operations per caller and backend: about a minute on a busy machine.
pytestmark = pytest.mark.slow

# Bounded and reproducible: the same examples on every run (derandomize), no example database.
FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    # caplog is cleared before each example; generated documents are large by design.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
async def fuzz(db, tmp_path_factory):
    async with fuzz_gateway(db.name, tmp_path_factory.mktemp("fuzz")) as gateway:
        yield gateway


async def _send_and_check(fuzz, caplog, caller: str, operation: str, media_type: str) -> None:
    caplog.clear()
    with fuzz.active(), caplog.at_level(logging.ERROR):
        response = await fuzz.post(caller, operation, media_type=media_type)
    found = problems(response) + logged_errors(caplog.records)
    assert found == [], f"{found}\n--- operation:\n{operation}\n--- answer:\n{response.text[:3000]}"


@pytest.mark.parametrize("caller", CALLERS)
@FUZZ
@given(data=st.data())
async def test_fuzzed_operations_get_clean_answers(fuzz, caller, caplog, data):
    operation = data.draw(fuzz.operations(), label="operation")
    await _send_and_check(fuzz, caplog, caller, operation, data.draw(st.sampled_from(MEDIA_TYPES), label="accept"))


@FUZZ
@given(data=st.data())
async def test_fuzzed_invalid_operations_are_refused_cleanly(fuzz, caplog, data):
    # One schema violation each (wrong argument type, missing argument, unknown enum value...).
    operation = data.draw(fuzz.operations(Mode.NEGATIVE), label="operation")
    await _send_and_check(fuzz, caplog, "anonymous", operation, data.draw(st.sampled_from(MEDIA_TYPES), label="accept"))


# --- the attacks of issue 12, by hand -----------------------------------------------------------

LISTING = "query($first: Int, $after: String, $sort: ProductSort, $search: String, $filter: ProductFilter) { products(first: $first, after: $after, sort: $sort, search: $search, filter: $filter) { edges { node { id } } } }"
NUL = "\x00"


def cursor(*values) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode().rstrip("=")


def nested_spreads(levels: int) -> str:
    """`query{...F0} fragment F0 on Query{...F1 ...F1} ...`: 2^levels spreads in under 1 KB."""
    fragments = " ".join(f"fragment F{i} on Query{{...F{i + 1} ...F{i + 1}}}" for i in range(levels - 1))
    return f"query{{...F0}} {fragments} fragment F{levels - 1} on Query{{__typename}}"


# (caller, query, variables, the codes that may refuse it)
CASES = {
    "NUL in a cart token": (
        "anonymous",
        "query($t: ID!) { cart(token: $t) { id } }",
        {"t": f"abc{NUL}def"},
        {"BAD_USER_INPUT"},
    ),
    "NUL in an order token": (
        "anonymous",
        "query($t: ID!) { order(token: $t) { id } }",
        {"t": NUL},
        {"BAD_USER_INPUT"},
    ),
    "NUL in a slug": (
        "anonymous",
        "query($s: String) { product(slug: $s) { id } }",
        {"s": f"zephyr{NUL}"},
        {"BAD_USER_INPUT"},
    ),
    "NUL in a category slug": (
        "anonymous",
        "query($s: String) { category(slug: $s) { id } }",
        {"s": NUL},
        {"BAD_USER_INPUT"},
    ),
    "NUL in a tracking number": (
        "anonymous",
        "query($n: String!) { trackShipment(trackingNumber: $n) { id } }",
        {"n": f"1Z{NUL}"},
        {"BAD_USER_INPUT"},
    ),
    "NUL in a sign-in email": (
        "anonymous",
        'mutation($e: String!) { tokenCreate(email: $e, password: "long enough password") { accessToken userErrors { code } } }',
        {"e": f"ada{NUL}@example.com"},
        {"BAD_USER_INPUT"},
    ),
    "NUL in a new customer's email": (
        "anonymous",
        'mutation($e: String!) { customerRegister(input: {email: $e, password: "long enough password"}) { userErrors { code } } }',
        {"e": f"ada{NUL}@example.com"},
        {"BAD_USER_INPUT"},
    ),
    "NUL in a search": ("anonymous", LISTING, {"first": 3, "search": f"shirt{NUL}"}, {"BAD_USER_INPUT"}),
    "cursor holding 2^70": (
        "anonymous",
        LISTING,
        {"first": 3, "sort": "NAME_ASC", "after": cursor("NAME_ASC", "a", 2**70)},
        {"BAD_USER_INPUT"},
    ),
    "cursor holding a price of 1e308": (
        "anonymous",
        LISTING,
        {"first": 3, "sort": "PRICE_ASC", "after": cursor("PRICE_ASC", 1e308, 1)},
        {"BAD_USER_INPUT"},
    ),
    # Year 1 at +05:00 is year 0 in UTC, which no column holds (year 1 in UTC is a date like any other:
    # an empty page after it).
    "cursor holding a year-1 date": (
        "anonymous",
        LISTING,
        {"first": 3, "sort": "NEWEST", "after": cursor("NEWEST", "0001-01-01T00:00:00+05:00", 1)},
        {"BAD_USER_INPUT"},
    ),
    "500-entry option filter": (
        "anonymous",
        LISTING,
        {"first": 3, "filter": {"options": [{"name": f"Size{i}", "values": ["M"]} for i in range(500)]}},
        {"BAD_USER_INPUT"},
    ),
    "option filter of 5000 values": (
        "anonymous",
        LISTING,
        {"first": 3, "filter": {"options": [{"name": "Size", "values": [f"v{i}" for i in range(5000)]}]}},
        {"BAD_USER_INPUT"},
    ),
    "huge search string": ("anonymous", LISTING, {"first": 3, "search": "shirt " * 15_000}, {"BAD_USER_INPUT"}),
    "deeply nested fragment spreads": ("anonymous", nested_spreads(24), None, {"QUERY_TOO_COMPLEX"}),
    "a thousand aliases": (
        "anonymous",
        "{ " + " ".join(f"a{i}: __typename" for i in range(1000)) + " }",
        None,
        {"QUERY_TOO_COMPLEX"},
    ),
    "wrong variable type": (
        "anonymous",
        "query($n: Int!) { products(first: $n) { totalCount } }",
        {"n": "ten"},
        {"BAD_USER_INPUT"},
    ),
    "variable object for a list": (
        "anonymous",
        LISTING,
        {"first": 3, "filter": {"options": {"name": "Size"}}},
        {"BAD_USER_INPUT"},
    ),
    "variable past Int's range": ("anonymous", LISTING, {"first": 2**31}, {"BAD_USER_INPUT", "QUERY_TOO_COMPLEX"}),
    "stockAdjust past int4": (
        "staff",
        'mutation($v: ID!, $d: Int!) { a: stockAdjust(variantId: $v, warehouse: "central", delta: $d, reason: "fuzz") { userErrors { code } } b: stockAdjust(variantId: $v, warehouse: "central", delta: $d, reason: "fuzz") { userErrors { code } } }',
        {"v": "VARIANT", "d": 2**31 - 1},
        {"BAD_USER_INPUT", "INVALID_QUANTITY"},
    ),
    "category name of 201 characters": (
        "staff",
        "mutation($n: String!) { categoryCreate(input: {name: $n}) { category { id } userErrors { code } } }",
        {"n": "c" * 201},
        {"BAD_USER_INPUT", "TOO_LONG"},
    ),
    "category name of 255 characters": (
        "staff",
        "mutation($n: String!) { categoryCreate(input: {name: $n}) { category { id } userErrors { code } } }",
        {"n": "c" * 255},
        {"BAD_USER_INPUT", "TOO_LONG"},
    ),
    "shipping method priced 1e308": (
        "staff",
        'mutation($p: Decimal!) { shippingMethodCreate(input: {name: "Huge", carrier: "dhl", price: $p}) { shippingMethod { id } userErrors { code } } }',
        {"p": "1e308"},
        {"BAD_USER_INPUT", "INVALID_AMOUNT"},
    ),
    "discount code worth 1e308": (
        "staff",
        'mutation($v: Decimal!) { discountCodeCreate(input: {code: "HUGE308", kind: FIXED_AMOUNT, value: $v}) { discountCode { code } userErrors { code } } }',
        {"v": "1e308"},
        {"BAD_USER_INPUT", "INVALID_AMOUNT"},
    ),
    "discount code over a 10^10 subtotal": (
        "staff",
        'mutation($v: Decimal!) { discountCodeCreate(input: {code: "HUGE10", kind: FIXED_AMOUNT, value: "5", minSubtotal: $v}) { discountCode { code } userErrors { code } } }',
        {"v": "10000000000.00"},
        {"BAD_USER_INPUT", "INVALID_AMOUNT"},
    ),
    "cart lines past a page": (
        "anonymous",
        'mutation($l: [CartLineInput!]!) { cartLinesAdd(cartToken: "t", lines: $l) { userErrors { code } } }',
        {"l": [{"variantId": "VARIANT", "quantity": 1}] * 101},
        {"BAD_USER_INPUT"},
    ),
    "a date-time in year 0 once in UTC": (
        "staff",
        "query($d: DateTime) { orders(filter: {createdAfter: $d}) { edges { cursor } } }",
        {"d": "0001-01-01T00:00:00+05:00"},
        {"BAD_USER_INPUT"},
    ),
    "a Decimal variable that is no number": (
        "staff",
        'mutation($p: Decimal!) { shippingMethodCreate(input: {name: "Odd", carrier: "dhl", price: $p}) { userErrors { code } } }',
        {"p": "abc"},
        {"BAD_USER_INPUT"},
    ),
    "a discount code of 65 characters": (
        "staff",
        "mutation($c: String!) { discountCodeCreate(input: {code: $c, kind: FREE_SHIPPING}) { discountCode { code } userErrors { code } } }",
        {"c": "D" * 65},
        {"TOO_LONG"},
    ),
    "a shipping method name of 101 characters": (
        "staff",
        'mutation($n: String!) { shippingMethodCreate(input: {name: $n, carrier: "dhl", price: "1"}) { shippingMethod { id } userErrors { code } } }',
        {"n": "m" * 101},
        {"TOO_LONG"},
    ),
}


def refusal_codes(body: dict) -> list[str]:
    """The codes of the GraphQL errors and of every `userErrors` entry in the answer."""
    codes = [(error.get("extensions") or {}).get("code") for error in body.get("errors") or []]
    for payload in (body.get("data") or {}).values():
        if isinstance(payload, dict):
            codes += [entry["code"] for entry in payload.get("userErrors") or []]
    return codes


async def _changes(fuzz) -> tuple[int, ...]:
    with fuzz.active():
        return (
            await Category.all().count(),
            await ShippingMethod.all().count(),
            await DiscountCode.all().count(),
            await StockMovement.all().count(),
            await Account.all().count(),
            sum(await Stock.all().values_list("quantity", flat=True)),
        )


@pytest.mark.parametrize("case", CASES)
async def test_hostile_request_is_refused_with_a_documented_code(fuzz, caplog, case):
    caller, query, variables, allowed = CASES[case]
    if variables and variables.get("v") == "VARIANT":
        variables = {**variables, "v": fuzz.variant_id}
    if variables and "l" in variables:
        variables = {"l": [{**line, "variantId": fuzz.variant_id} for line in variables["l"]]}
    before = await _changes(fuzz)
    caplog.clear()
    with fuzz.active(), caplog.at_level(logging.ERROR):
        response = await fuzz.post(caller, query, variables)
    assert problems(response) + logged_errors(caplog.records) == [], response.text[:2000]
    codes = refusal_codes(response.json())
    assert codes and set(codes) <= allowed, response.text[:2000]
    assert await _changes(fuzz) == before  # refused: nothing written


async def test_the_largest_amount_a_money_column_holds_is_accepted(fuzz):
    # The bound that refuses 1e308 and 10^10 is the column's own (12 digits, 2 decimals), not less.
    query = """mutation { shippingMethodCreate(input: {name: "Freight", carrier: "dhl", price: "9999999999.99", freeOver: "9999999999.99"}) {
      shippingMethod { price { amount } } userErrors { code } } }"""
    with fuzz.active():
        body = (await fuzz.post("staff", query)).json()
    assert body["data"]["shippingMethodCreate"] == {
        "shippingMethod": {"price": {"amount": "9999999999.99"}},
        "userErrors": [],
    }


TOKEN_QUERY = "query($t: ID!) { cart(token: $t) { id } }"
NESTED_JSON = (
    b'{"query": "query($f: ProductFilter) { products(first: 1, filter: $f) { totalCount } }", "variables": {"f": '
    + b"[" * 40_000
    + b"]" * 40_000
    + b"}}"
)
# (request body, content type, the status under application/json, the code)
RAW_CASES = {
    "oversized body": (b'{"query": "{ __typename }"}' + b" " * 200_000, "application/json", 413, "QUERY_TOO_COMPLEX"),
    "bad JSON": (b'{"query": "{ __typename }"', "application/json", 400, "BAD_REQUEST"),
    "not UTF-8": (b'{"query": "{ __typename \xff\xfe }"}', "application/json", 400, "BAD_REQUEST"),
    "a JSON string": (b'"{ __typename }"', "application/json", 400, "BAD_REQUEST"),
    "a batch": (b'[{"query": "{ __typename }"}]', "application/json", 400, "BAD_REQUEST"),
    "query not a string": (b'{"query": 5}', "application/json", 400, "BAD_REQUEST"),
    "variables not an object": (
        b'{"query": "{ __typename }", "variables": "{}"}',
        "application/json",
        400,
        "BAD_REQUEST",
    ),
    "JSON nested 40,000 deep": (NESTED_JSON, "application/json", 400, "BAD_REQUEST"),
    "a 5000-digit number": (
        b'{"query": "query($n: Int) { products(first: $n) { totalCount } }", "variables": {"n": ' + b"9" * 5000 + b"}}",
        "application/json",
        400,
        "BAD_REQUEST",
    ),
    "plain text": (b"{ __typename }", "text/plain", 415, "BAD_REQUEST"),
    "a form": (b"query=%7B__typename%7D", "application/x-www-form-urlencoded", 415, "BAD_REQUEST"),
    # File uploads (the multipart request spec) are for signed-in staff only: refused unread.
    "multipart": (b"--x\r\n\r\n{}\r\n--x--", "multipart/form-data; boundary=x", 401, "UNAUTHENTICATED"),
    "latin-1": (b'{"query": "{ __typename }"}', "application/json; charset=latin-1", 415, "BAD_REQUEST"),
    "no content type": (b'{"query": "{ __typename }"}', "", 415, "BAD_REQUEST"),
    # JSON can escape a lone UTF-16 surrogate, which no UTF-8 text (nor the database) can hold.
    "a lone surrogate in a token": (
        b'{"query": "' + TOKEN_QUERY.encode() + b'", "variables": {"t": "ab\\ud800"}}',
        "application/json",
        400,
        "BAD_REQUEST",
    ),
    "a lone surrogate in the document": (
        b'{"query": "{ product(slug: \\"\\udfff\\") { id } }"}',
        "application/json",
        400,
        "BAD_REQUEST",
    ),
}


@pytest.mark.parametrize("case", RAW_CASES)
async def test_malformed_request_is_refused_with_a_documented_code(fuzz, caplog, case):
    content, content_type, status, code = RAW_CASES[case]
    caplog.clear()
    with fuzz.active(), caplog.at_level(logging.ERROR):
        response = await fuzz.client.post(
            "/graphql", content=content, headers={"content-type": content_type} if content_type else {}
        )
    assert problems(response) + logged_errors(caplog.records) == [], response.text[:2000]
    assert response.status_code == status, response.text[:2000]
    assert [error["extensions"]["code"] for error in response.json()["errors"]] == [code]


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
async def test_other_methods_get_405(fuzz, method):
    response = await fuzz.client.request(method, "/graphql", json={"query": "{ __typename }"})
    assert not problems(response) and response.status_code == 405 and response.headers["allow"] == "GET, POST"


async def test_a_lone_surrogate_in_get_variables_is_400(fuzz, caplog):
    with fuzz.active(), caplog.at_level(logging.ERROR):
        response = await fuzz.client.get("/graphql", params={"query": TOKEN_QUERY, "variables": '{"t": "\\ud800"}'})
    assert problems(response) + logged_errors(caplog.records) == [] and response.status_code == 400, response.text


async def test_a_mutation_over_get_is_405(fuzz):
    response = await fuzz.client.get("/graphql", params={"query": "mutation { cartCreate { cart { id } } }"})
    assert not problems(response) and response.status_code == 405 and response.headers["allow"] == "POST"
