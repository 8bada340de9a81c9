"""Client input is bounded before it reaches SQL: no NUL characters, cursors holding values their
columns can hold, counts and lengths within their columns. Each refusal is a clear error with a
code, logs no traceback and changes nothing.

Longer than 400 lines: every bound of the API in one module, so the bound of a new argument is
looked for (and its absence noticed) in one place.
"""

from __future__ import annotations

import base64
import json
import logging

import pytest

from models import Account, Category, Permission, Stock
from schema.ids import encode_id
from tests.staff import bearer, token_for


def cursor(*values) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode().rstrip("=")


async def refused(client, caplog, query: str, variables: dict, headers: dict | None = None) -> dict:
    """The one error of a refused request; nothing logged as an unexpected error."""
    with caplog.at_level(logging.INFO):
        response = await client.post("/graphql", json={"query": query, "variables": variables}, headers=headers or {})
    assert response.status_code in (200, 400), response.text
    body = response.json()
    assert body.get("errors"), body
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"], body
    assert body["errors"][0]["message"] and "Traceback" not in response.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info], caplog.text
    return body["errors"][0]


NUL_CASES = {
    "cart token": ("query($t: ID!) { cart(token: $t) { id } }", {"t": "abc\x00def"}),
    "order token": ("query($t: ID!) { order(token: $t) { id } }", {"t": "\x00"}),
    "product slug": ("query($s: String) { product(slug: $s) { id } }", {"s": "lab\x00"}),
    "category slug": ("query($s: String) { category(slug: $s) { id } }", {"s": "lab\x00"}),
    "tracking number": ("query($n: String!) { trackShipment(trackingNumber: $n) { id } }", {"n": "1Z\x00"}),
    "search": ("query($q: String) { products(first: 1, search: $q) { totalCount } }", {"q": "kite\x00"}),
    "option filter": (
        "query($f: ProductFilter) { products(first: 1, filter: $f) { totalCount } }",
        {"f": {"options": [{"name": "Colour", "values": ["Red\x00"]}]}},
    ),
    "sign-in email": (
        'mutation($e: String!) { tokenCreate(email: $e, password: "long enough password") { accessToken } }',
        {"e": "a\x00@example.com"},
    ),
    "registration email": (
        'mutation($e: String!) { customerRegister(input: {email: $e, password: "long enough password"}) { customer { id } } }',
        {"e": "new\x00@example.com"},
    ),
    "literal in the document": ('{ product(slug: "lab\\u0000") { id } }', {}),
}


@pytest.mark.parametrize("case", list(NUL_CASES))
async def test_a_nul_character_in_any_string_is_bad_user_input(db, client, caplog, case):
    query, variables = NUL_CASES[case]
    accounts = await Account.all().count()
    error = await refused(client, caplog, query, variables)
    assert "NUL" in error["message"]
    assert await Account.all().count() == accounts


async def test_a_nul_character_in_a_staff_mutation_changes_nothing(db, client, caplog):
    headers = bearer(await token_for(Permission.MANAGE_PRODUCTS))
    before = await Category.all().count()
    query = "mutation($i: CategoryCreateInput!) { categoryCreate(input: $i) { category { id } userErrors { code } } }"
    await refused(client, caplog, query, {"i": {"name": "Kites\x00"}}, headers)
    assert await Category.all().count() == before


AFTER = "query($c: String, $sort: ProductSort) { products(first: 2, after: $c, sort: $sort) { totalCount } }"
BEFORE = "query($c: String, $sort: ProductSort) { products(last: 2, before: $c, sort: $sort) { totalCount } }"

CURSOR_CASES = {
    "id past 2^70": (AFTER, None, cursor("NAME_ASC", "Kite", 2**70)),
    "id past int4 backward": (BEFORE, None, cursor("NAME_ASC", "Kite", 2**31)),
    "negative id past int4": (AFTER, None, cursor("NAME_ASC", "Kite", -(2**31) - 1)),
    "id of 1e308": (AFTER, None, cursor("NAME_ASC", "Kite", 1e308)),
    "price of 1e308": (AFTER, "PRICE_ASC", cursor("PRICE_ASC", 1e308, 1)),
    "price past the column": (AFTER, "PRICE_DESC", cursor("PRICE_DESC", "99999999999999999999", 1)),
    "rank of 1e308": (
        'query($c: String) { products(first: 2, after: $c, search: "kite") { totalCount } }',
        None,
        cursor("RELEVANCE", 1e308, 1),
    ),
    "year 1": (AFTER, "NEWEST", cursor("NEWEST", "0001-01-01T00:00:00+05:00", 1)),
    "year 1 naive": (BEFORE, "NEWEST", cursor("NEWEST", "0001-01-01T00:00:00", 1)),
    "year 9999 behind UTC": (AFTER, "NEWEST", cursor("NEWEST", "9999-12-31T23:59:59-05:00", 1)),
}


@pytest.mark.parametrize("case", list(CURSOR_CASES))
async def test_a_cursor_out_of_its_columns_range_is_bad_user_input(db, client, caplog, case):
    query, sort, value = CURSOR_CASES[case]
    await refused(client, caplog, query, {"c": value, "sort": sort} if sort else {"c": value})


@pytest.mark.parametrize(
    ("query", "after"),
    [
        ("query($a: String) { categories(first: 2, after: $a) { totalCount } }", cursor("categories", 2**70, 1)),
        ("query($a: String) { categories(first: 2, after: $a) { totalCount } }", cursor("categories", 1, 2**40)),
    ],
)
async def test_other_connections_refuse_cursors_out_of_range(db, client, caplog, query, after):
    await refused(client, caplog, query, {"a": after})


async def test_stock_adjusted_past_the_column_is_refused_and_changes_nothing(db, client, caplog):
    headers = bearer(await token_for(Permission.MANAGE_INVENTORY))
    variant = encode_id("ProductVariant", db.data.variants[next(iter(db.data.variants))])
    set_ = 'mutation($v: ID!, $q: Int!) { stockSet(variantId: $v, warehouse: "north", quantity: $q) { userErrors { code } } }'
    adjust = 'mutation($v: ID!, $d: Int!) { stockAdjust(variantId: $v, warehouse: "north", delta: $d, reason: "count") { userErrors { field code message } } }'
    body = (
        await client.post(
            "/graphql", json={"query": set_, "variables": {"v": variant, "q": 1_000_000_000}}, headers=headers
        )
    ).json()
    assert body["data"]["stockSet"]["userErrors"] == []
    before = await Stock.filter(warehouse__code="north").order_by("id").values_list("quantity", flat=True)
    with caplog.at_level(logging.INFO):
        # Twice past MAX_STOCK: the second would have passed the int4 column (a 500 from PostgreSQL).
        for delta in (1_000_000_000, 1_000_000_000):
            body = (
                await client.post(
                    "/graphql", json={"query": adjust, "variables": {"v": variant, "d": delta}}, headers=headers
                )
            ).json()
            assert "errors" not in body, body
            errors = body["data"]["stockAdjust"]["userErrors"]
            assert [(e["field"], e["code"]) for e in errors] == [(["delta"], "INVALID_QUANTITY")] and errors[0][
                "message"
            ]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    assert await Stock.filter(warehouse__code="north").order_by("id").values_list("quantity", flat=True) == before
    await refused(client, caplog, adjust, {"v": variant, "d": 2**31})  # not an Int at all


@pytest.mark.parametrize("length", [201, 255])
async def test_a_category_name_longer_than_its_column_is_refused_and_changes_nothing(db, client, caplog, length):
    headers = bearer(await token_for(Permission.MANAGE_PRODUCTS))
    before = await Category.all().count()
    query = "mutation($i: CategoryCreateInput!) { categoryCreate(input: $i) { category { id } userErrors { field code message } } }"
    with caplog.at_level(logging.INFO):
        body = (
            await client.post(
                "/graphql", json={"query": query, "variables": {"i": {"name": "k" * length}}}, headers=headers
            )
        ).json()
    assert "errors" not in body, body
    errors = body["data"]["categoryCreate"]["userErrors"]
    assert [(e["field"], e["code"]) for e in errors] == [(["name"], "TOO_LONG")] and "200" in errors[0]["message"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    assert await Category.all().count() == before


FILTERED = (
    "query($f: ProductFilter, $q: String) { products(first: 3, filter: $f, search: $q) { totalCount nodes { name } } }"
)


def options(entries: int, values: int = 1, name: str = "Size", value: str = "M") -> dict:
    return {"options": [{"name": f"{name}{i}" if i else name, "values": [value] * values} for i in range(entries)]}


def attributes(entries: int, values: int = 1, slug: str = "material") -> dict:
    return {"attributes": [{"slug": f"{slug}{i}", "values": ["Wool"] * values} for i in range(entries)]}


FILTER_CASES = {
    "too many option entries": {"f": options(11)},
    "500 option entries": {"f": options(500)},
    "too many values": {"f": options(1, values=51)},
    "value past its column": {"f": options(1, value="x" * 129)},
    "name past its column": {"f": options(1, name="n" * 65)},
    "search too long": {"q": "kite " * 41},
    "too many attribute entries": {"f": attributes(11)},
    "too many attribute values": {"f": attributes(1, values=51)},
    "attribute slug past its column": {"f": attributes(1, slug="s" * 201)},
}


@pytest.mark.parametrize("case", list(FILTER_CASES))
async def test_a_filter_over_its_bounds_is_bad_user_input_before_any_sql(db, client, caplog, sql_counter, case):
    sql_counter.statements.clear()
    error = await refused(client, caplog, FILTERED, FILTER_CASES[case])
    assert error["extensions"]["field"] in ("filter.options", "filter.attributes", "search")
    assert sql_counter.statements == []


async def test_the_option_filter_is_one_subquery_whatever_the_number_of_options(db, gql, sql_counter):
    shapes = []
    for entries in (1, 10):
        sql_counter.statements.clear()
        await gql.data(FILTERED, {"f": options(entries)})
        # The page comes first (past the count's bound, PostgreSQL estimates it: resolvers/catalogue_counts.py).
        page = next(s for s in sql_counter.statements if "LIMIT" in s)
        shapes.append(page.upper().count("SELECT"))
    assert shapes[0] == shapes[1]


async def test_two_entries_for_one_option_ask_for_a_value_in_both(db, gql):
    def listed(*entries):
        return gql.data(
            FILTERED.replace("first: 3", "first: 50"),
            {"f": {"options": [{"name": "Size", "values": v} for v in entries]}},
        )

    both = await listed(["S", "M"], ["M", "L"])
    assert both == await listed(["M"]) and both["products"]["totalCount"] > 0
    assert (await listed(["S"], ["L"]))["products"]["totalCount"] == 0


# --- lists: at most MAX_LIST_LENGTH items unless their field allows more ---------------------


def ids(type_name: str, count: int) -> list[str]:
    return [encode_id(type_name, i) for i in range(1, count + 1)]


LITERAL_IDS = ", ".join(f'"{i}"' for i in ids("Product", 101))
LINE = {"variantId": encode_id("ProductVariant", 1), "quantity": 1}
# (permission or None, query, variables, the argument the error names)
LIST_CASES = {
    "cart lines": (
        None,
        'mutation($l: [CartLineInput!]!) { cartLinesAdd(cartToken: "t", lines: $l) { userErrors { code } } }',
        {"l": [LINE] * 101},
        "lines",
    ),
    "new cart's lines": (
        None,
        "mutation($i: CartCreateInput) { cartCreate(input: $i) { cart { id } } }",
        {"i": {"lines": [LINE] * 101}},
        "input.lines",
    ),
    "line ids": (
        None,
        'mutation($l: [ID!]!) { cartLinesRemove(cartToken: "t", lineIds: $l) { userErrors { code } } }',
        {"l": ids("CartLine", 500)},
        "lineIds",
    ),
    "nodes": (None, "query($l: [ID!]!) { nodes(ids: $l) { id } }", {"l": ids("Product", 101)}, "ids"),
    "nodes, written in the document": (None, "{ nodes(ids: [" + LITERAL_IDS + "]) { id } }", {}, "ids"),
    "a variable's default": (None, "query($l: [ID!]! = [" + LITERAL_IDS + "]) { nodes(ids: $l) { id } }", {}, "ids"),
    "shipment lines": (
        Permission.MANAGE_SHIPMENTS,
        'mutation($l: [ShipmentLineInput!]!) { shipmentCreate(orderId: "T3JkZXI6MQ", lines: $l, carrier: "dhl", trackingNumber: "1Z1") { userErrors { code } } }',
        {"l": [{"orderLineId": encode_id("OrderLine", 1), "quantity": 1}] * 101},
        "lines",
    ),
    "order statuses": (
        Permission.MANAGE_ORDERS,
        "query($f: OrderFilter) { orders(filter: $f) { edges { cursor } } }",
        {"f": {"status": ["PLACED"] * 101}},
        "filter.status",
    ),
    "permissions": (
        Permission.MANAGE_STAFF,
        'mutation($p: [Permission!]!) { staffPermissionsSet(staffId: "Q3VzdG9tZXI6MQ", permissions: $p) { userErrors { code } } }',
        {"p": ["MANAGE_ORDERS"] * 101},
        "permissions",
    ),
    "variant options": (
        Permission.MANAGE_PRODUCTS,
        "mutation($i: VariantCreateInput!) { variantCreate(input: $i) { userErrors { code } } }",
        {
            "i": {
                "productId": encode_id("Product", 1),
                "sku": "LONG-LIST",
                "price": "1",
                "options": [{"name": f"o{n}", "value": "v"} for n in range(101)],
            }
        },
        "input.options",
    ),
    "countries past every country": (
        Permission.MANAGE_SHIPPING,
        'mutation($c: [String!]) { shippingMethodCreate(input: {name: "All", carrier: "dhl", price: "1", countries: $c}) { userErrors { code } } }',
        {"c": ["DE"] * 1000},
        "input.countries",
    ),
}


@pytest.mark.parametrize("case", list(LIST_CASES))
async def test_a_list_longer_than_its_bound_is_bad_user_input_before_any_sql(db, client, caplog, sql_counter, case):
    permission, query, variables, argument = LIST_CASES[case]
    headers = bearer(await token_for(permission)) if permission else {}
    sql_counter.statements.clear()
    error = await refused(client, caplog, query, variables, headers)
    assert error["extensions"]["field"] == argument and f"`{argument}` may hold at most" in error["message"]
    assert sql_counter.statements == []


async def test_lists_at_their_bound_are_served(db, gql, client):
    # As many IDs as a page holds.
    body = await gql.post("query($l: [ID!]!) { nodes(ids: $l) { id } }", {"l": ids("Product", 100)})
    assert "errors" not in body and len(body["data"]["nodes"]) == 100
    # A shipping method may serve every country: more than the default bound.
    from resolvers.countries import COUNTRIES

    headers = bearer(await token_for(Permission.MANAGE_SHIPPING))
    query = 'mutation($c: [String!]) { shippingMethodCreate(input: {name: "Everywhere", carrier: "dhl", price: "1", countries: $c}) { shippingMethod { id } userErrors { code } } }'
    body = (
        await client.post("/graphql", json={"query": query, "variables": {"c": sorted(COUNTRIES)}}, headers=headers)
    ).json()
    assert body["data"]["shippingMethodCreate"]["userErrors"] == [] and len(COUNTRIES) > 100


def test_every_longer_list_bound_names_a_list_of_the_schema():
    from graphql import GraphQLList, get_nullable_type

    from schema.graphql_core import core_schema
    from schema.input_checks import LIST_LENGTHS, MAX_LIST_LENGTH
    from schema.root import schema

    for coordinate, bound in LIST_LENGTHS.items():
        type_name, field_name = coordinate.split(".")
        field = core_schema(schema).get_type(type_name).fields[field_name]  # type: ignore[union-attr]
        assert isinstance(get_nullable_type(field.type), GraphQLList) and bound > MAX_LIST_LENGTH, coordinate


# --- date-times the timestamp columns can hold, and variables that do not parse --------------

ORDERS_SINCE = "query($d: DateTime) { orders(filter: {createdAfter: $d}) { edges { cursor } } }"
ORDERS_UNTIL = "query($d: DateTime) { orders(filter: {createdBefore: $d}) { edges { cursor } } }"
DISCOUNT_FROM = (
    'mutation($d: DateTime) { discountCodeCreate(input: {code: "YEAR0", kind: PERCENTAGE, value: "5", startsAt: $d}) '
    "{ discountCode { code } userErrors { code } } }"
)
TRACKED_AT = (
    'mutation($d: DateTime) { shipmentAddTrackingEvent(shipmentId: "U2hpcG1lbnQ6MQ", status: IN_TRANSIT, occurredAt: $d) '
    "{ userErrors { code } } }"
)
SHIPPING_PRICE = 'mutation($p: Decimal!) { shippingMethodCreate(input: {name: "Odd", carrier: "dhl", price: $p}) { userErrors { code } } }'
# (permission, query, variables)
VALUE_CASES = {
    "orders since year 1 at +05:00": (Permission.MANAGE_ORDERS, ORDERS_SINCE, {"d": "0001-01-01T00:00:00+05:00"}),
    "orders until 9999 at -05:00": (Permission.MANAGE_ORDERS, ORDERS_UNTIL, {"d": "9999-12-31T23:59:59-05:00"}),
    "orders since no date": (Permission.MANAGE_ORDERS, ORDERS_SINCE, {"d": "not a date"}),
    "a discount starting in year 0": (Permission.MANAGE_DISCOUNTS, DISCOUNT_FROM, {"d": "0001-01-01T00:00:00+05:00"}),
    "a tracking event in year 10000": (Permission.MANAGE_SHIPMENTS, TRACKED_AT, {"d": "9999-12-31T23:59:59-05:00"}),
    "a price that is no number": (Permission.MANAGE_SHIPPING, SHIPPING_PRICE, {"p": "abc"}),
}


@pytest.mark.parametrize("case", list(VALUE_CASES))
async def test_a_variable_no_column_can_hold_is_bad_user_input(db, client, caplog, case):
    from models import DiscountCode, ShippingMethod

    permission, query, variables = VALUE_CASES[case]
    headers = bearer(await token_for(permission))
    before = (await DiscountCode.all().count(), await ShippingMethod.all().count())
    error = await refused(client, caplog, query, variables, headers)
    assert "Value cannot represent" in error["message"]
    assert (await DiscountCode.all().count(), await ShippingMethod.all().count()) == before


async def test_a_literal_date_time_out_of_range_is_refused_and_year_1_in_utc_is_not(db, client, caplog):
    headers = bearer(await token_for(Permission.MANAGE_ORDERS))
    literal = ORDERS_UNTIL.replace("query($d: DateTime) ", "").replace("$d", '"9999-12-31T23:59:59-05:00"')
    with caplog.at_level(logging.INFO):
        body = (await client.post("/graphql", json={"query": literal}, headers=headers)).json()
    assert [e["extensions"]["code"] for e in body["errors"]] == [
        "GRAPHQL_VALIDATION_FAILED"
    ] and "out of range" in body["errors"][0]["message"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    for edge in ("0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59+00:00"):
        body = (
            await client.post("/graphql", json={"query": ORDERS_SINCE, "variables": {"d": edge}}, headers=headers)
        ).json()
        assert "errors" not in body, body


# --- text longer than its column: INVALID on the field, naming the column's length -----------


def mutation(name: str, arguments: str, variables: str = "$s: String!") -> str:
    return f"mutation({variables}) {{ {name}({arguments}) {{ userErrors {{ field code message }} }} }}"


def email_of(length: int) -> str:
    return "a" * 60 + "@" + "b" * (length - 65) + ".com"


ADDRESS_INPUT = {
    "firstName": "Ada",
    "lastName": "Lovelace",
    "line1": "1 Road",
    "city": "Berlin",
    "postalCode": "10115",
    "country": "DE",
}
# (caller: a permission, "customer" or None; query; variables; the field named; the length in the message; the model that must not grow)
LENGTH_CASES = {
    "a customer's email": (
        None,
        mutation("customerRegister", 'input: {email: $s, password: "long enough password"}'),
        {"s": email_of(255)},
        ["email"],
        254,
        "Account",
    ),
    "a customer's first name": (
        None,
        mutation(
            "customerRegister",
            'input: {email: "long.name@example.com", password: "long enough password", firstName: $s}',
        ),
        {"s": "n" * 101},
        ["firstName"],
        100,
        "Account",
    ),
    "a saved address's city": (
        "customer",
        mutation("customerAddressCreate", "address: $a", "$a: AddressInput!"),
        {"a": {**ADDRESS_INPUT, "city": "c" * 101}},
        ["address", "city"],
        100,
        "Address",
    ),
    "a customer's phone": (
        "customer",
        mutation("customerUpdate", "phone: $s"),
        {"s": "1" * 41},
        ["phone"],
        40,
        "Account",
    ),
    "a corrected address's line": (
        "customer",
        mutation("customerAddressUpdate", f'id: "{encode_id("Address", 1)}", input: $a', "$a: AddressInput!"),
        {"a": {**ADDRESS_INPUT, "line1": "l" * 201}},
        ["input", "line1"],
        200,
        "Address",
    ),
    "a cart's billing address": (
        None,
        mutation("cartUpdateBillingAddress", 'cartToken: "no-such-cart", address: $a', "$a: AddressInput!"),
        {"a": {**ADDRESS_INPUT, "postalCode": "1" * 21}},
        ["address", "postalCode"],
        20,
        "Cart",
    ),
    "a cart's email": (
        None,
        mutation("cartCreate", "input: {email: $s}"),
        {"s": email_of(255)},
        ["email"],
        254,
        "Cart",
    ),
    "a warehouse's code": (
        Permission.MANAGE_INVENTORY,
        mutation("warehouseCreate", 'input: {code: $s, name: "Far"}'),
        {"s": "w" * 33},
        ["code"],
        32,
        "Warehouse",
    ),
    "a warehouse's name": (
        Permission.MANAGE_INVENTORY,
        mutation("warehouseCreate", 'input: {code: "far", name: $s}'),
        {"s": "w" * 201},
        ["name"],
        200,
        "Warehouse",
    ),
    "a stock change's reason": (
        Permission.MANAGE_INVENTORY,
        mutation(
            "stockAdjust", f'variantId: "{encode_id("ProductVariant", 1)}", warehouse: "north", delta: 1, reason: $s'
        ),
        {"s": "r" * 256},
        ["reason"],
        255,
        "StockMovement",
    ),
    "a shipping method's name": (
        Permission.MANAGE_SHIPPING,
        mutation("shippingMethodCreate", 'input: {name: $s, carrier: "dhl", price: "1"}'),
        {"s": "m" * 101},
        ["name"],
        100,
        "ShippingMethod",
    ),
    "a shipping method's carrier": (
        Permission.MANAGE_SHIPPING,
        mutation("shippingMethodCreate", 'input: {name: "Slow", carrier: $s, price: "1"}'),
        {"s": "c" * 51},
        ["carrier"],
        50,
        "ShippingMethod",
    ),
    "a discount code": (
        Permission.MANAGE_DISCOUNTS,
        mutation("discountCodeCreate", "input: {code: $s, kind: FREE_SHIPPING}"),
        {"s": "D" * 65},
        ["code"],
        64,
        "DiscountCode",
    ),
    "an idempotency key": (
        None,
        mutation("checkoutComplete", 'cartToken: "t", payment: {provider: "manual"}, idempotencyKey: $s'),
        {"s": "k" * 129},
        ["idempotencyKey"],
        128,
        "Order",
    ),
    "a tracking number": (
        Permission.MANAGE_SHIPMENTS,
        mutation(
            "shipmentCreate", f'orderId: "{encode_id("Order", 1)}", lines: [], carrier: "dhl", trackingNumber: $s'
        ),
        {"s": "1" * 101},
        ["trackingNumber"],
        100,
        "Shipment",
    ),
    "a tracking event's description": (
        Permission.MANAGE_SHIPMENTS,
        mutation(
            "shipmentAddTrackingEvent", f'shipmentId: "{encode_id("Shipment", 1)}", status: IN_TRANSIT, description: $s'
        ),
        {"s": "d" * 501},
        ["description"],
        500,
        "ShipmentEvent",
    ),
    "a tracking event's location": (
        Permission.MANAGE_SHIPMENTS,
        mutation(
            "shipmentAddTrackingEvent", f'shipmentId: "{encode_id("Shipment", 1)}", status: IN_TRANSIT, location: $s'
        ),
        {"s": "l" * 201},
        ["location"],
        200,
        "ShipmentEvent",
    ),
    "a category's slug": (
        Permission.MANAGE_PRODUCTS,
        mutation("categoryCreate", 'input: {name: "Slugs", slug: $s}'),
        {"s": "s" * 201},
        ["slug"],
        200,
        "Category",
    ),
    "a SKU": (
        Permission.MANAGE_PRODUCTS,
        mutation("variantCreate", f'input: {{productId: "{encode_id("Product", 1)}", sku: $s, price: "1"}}'),
        {"s": "S" * 65},
        ["sku"],
        64,
        "ProductVariant",
    ),
    "an image URL": (
        Permission.MANAGE_PRODUCTS,
        mutation("productImageCreate", f'input: {{productId: "{encode_id("Product", 1)}", url: $s}}'),
        {"s": "https://img.example.com/" + "i" * 1001},
        ["url"],
        1024,
        "ProductImage",
    ),
    "an image's alt text": (
        Permission.MANAGE_PRODUCTS,
        mutation(
            "productImageCreate",
            f'input: {{productId: "{encode_id("Product", 1)}", url: "https://img.example.com/a.jpg", altText: $s}}',
        ),
        {"s": "a" * 256},
        ["altText"],
        255,
        "ProductImage",
    ),
}


async def _headers(caller) -> dict[str, str]:
    if caller is None:
        return {}
    if caller == "customer":
        return bearer(await token_for(staff=False))
    return bearer(await token_for(caller))


@pytest.mark.parametrize("case", list(LENGTH_CASES))
async def test_text_longer_than_its_column_is_invalid_and_changes_nothing(db, client, caplog, case):
    import models

    caller, query, variables, field, length, model_name = LENGTH_CASES[case]
    model = getattr(models, model_name)
    headers = await _headers(caller)
    before = await model.all().count()
    with caplog.at_level(logging.INFO):
        body = (await client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)).json()
    assert "errors" not in body, body
    (errors,) = [payload["userErrors"] for payload in body["data"].values()]
    assert [(e["field"], e["code"]) for e in errors] == [(field, "TOO_LONG")], errors
    assert str(length) in errors[0]["message"], errors  # the column's own length, from the same constant
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    assert await model.all().count() == before


async def test_a_cancellation_reason_longer_than_its_column_is_refused_and_the_order_stays(db, gql, client, caplog):
    from models import Order, ProductVariant
    from tests.test_checkout import CHECKOUT, ready_cart

    variant = await ProductVariant.filter(stocks__quantity__gt=5).first()
    order = (await gql.data(CHECKOUT, {"t": await ready_cart(gql, [(variant.sku, 1)]), "p": {"provider": "manual"}}))[
        "checkoutComplete"
    ]["order"]
    headers = bearer(await token_for(Permission.MANAGE_ORDERS))
    cancel = mutation("orderCancel", "orderId: $o, reason: $s", "$o: ID!, $s: String")
    with caplog.at_level(logging.INFO):
        body = (
            await client.post(
                "/graphql", json={"query": cancel, "variables": {"o": order["id"], "s": "r" * 501}}, headers=headers
            )
        ).json()
    errors = body["data"]["orderCancel"]["userErrors"]
    assert [(e["field"], e["code"]) for e in errors] == [(["reason"], "TOO_LONG")] and "500" in errors[0]["message"]
    assert (await Order.get(number=order["number"])).status == "PLACED"
    body = (
        await client.post(
            "/graphql", json={"query": cancel, "variables": {"o": order["id"], "s": "r" * 500}}, headers=headers
        )
    ).json()
    assert body["data"]["orderCancel"]["userErrors"] == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


async def test_a_category_deeper_than_its_path_column_is_refused_and_changes_nothing(db, client, caplog):
    from models.catalogue import PATH_LENGTH

    headers = bearer(await token_for(Permission.MANAGE_PRODUCTS))
    # A parent whose path leaves no room for one more level (the tree built by hand, not level by level).
    deep = await Category.create(name="Deep", slug="deep-down", path="", depth=60)
    own = f"/{deep.id}/"
    deep.path = ("/1" * PATH_LENGTH)[: PATH_LENGTH - 1 - len(own)] + own  # one character short of the column
    await deep.save(update_fields=["path"])
    before = await Category.all().count()
    create = 'mutation($p: ID!) { categoryCreate(input: {name: "Deeper", parent: $p}) { category { id } userErrors { field code message } } }'
    try:
        with caplog.at_level(logging.INFO):
            body = (
                await client.post(
                    "/graphql",
                    json={"query": create, "variables": {"p": encode_id("Category", deep.id)}},
                    headers=headers,
                )
            ).json()
        assert "errors" not in body, body
        errors = body["data"]["categoryCreate"]["userErrors"]
        assert [(e["field"], e["code"]) for e in errors] == [(["parent"], "INVALID")] and "deep" in errors[0]["message"]
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
        assert await Category.all().count() == before
    finally:
        await Category.filter(parent_id=deep.id).delete()
        await deep.delete()


def test_the_variables_scan_finds_nul_and_the_longest_list_at_any_depth():
    from schema.input_checks import scan, scan_document

    assert scan({"a": "x", "b": 1, "c": None}) == (False, 0)
    assert scan({"key\x00": 1}) == (True, 0)
    assert scan({"f": {"options": [{"values": ["M", "L\x00"]}]}}) == (True, 2)
    assert scan({"l": [[0] * 3, [0] * 150]}) == (False, 150)
    # A short document can hold neither an escaped NUL nor a list literal of more than 100 items.
    from graphql import parse

    short = "{ nodes(ids: [1 2 3]) { id } }"
    assert scan_document(short, parse(short)) == (False, False)
    long = "{ nodes(ids: [" + " ".join('"x"' for _ in range(101)) + "]) { id } }"
    assert scan_document(long, parse(long)) == (False, True)
