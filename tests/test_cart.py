"""Carts through the API: lines, quantities against availability, prices, refusals that change nothing.

Longer than 400 lines: one test module per domain, as the layers have one file per domain; every
test stands alone, so its length costs a reader nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from tortoise.exceptions import IntegrityError, OperationalError

from models import Cart, CartLine, ProductVariant
from schema.ids import encode_id

CART = "cart { token email totalQuantity subtotal { amount currency } lines { id quantity variant { sku } unitPrice { amount } total { amount } } }"
ERRORS = "userErrors { field code message }"
CREATE = f"mutation($i: CartCreateInput) {{ cartCreate(input: $i) {{ {CART} {ERRORS} }} }}"
ADD = f"mutation($t: ID!, $l: [CartLineInput!]!) {{ cartLinesAdd(cartToken: $t, lines: $l) {{ {CART} {ERRORS} }} }}"
UPDATE = f"mutation($t: ID!, $l: [CartLineUpdateInput!]!) {{ cartLinesUpdate(cartToken: $t, lines: $l) {{ {CART} {ERRORS} }} }}"
REMOVE = f"mutation($t: ID!, $ids: [ID!]!) {{ cartLinesRemove(cartToken: $t, lineIds: $ids) {{ {CART} {ERRORS} }} }}"
EMAIL = f"mutation($t: ID!, $e: String!) {{ cartUpdateEmail(cartToken: $t, email: $e) {{ {CART} {ERRORS} }} }}"


async def vid(sku: str) -> str:
    return encode_id("ProductVariant", (await ProductVariant.get(sku=sku)).id)


async def snapshot(token: str) -> list:
    cart = await Cart.get(token=token)
    return [cart.email, *await CartLine.filter(cart_id=cart.id).order_by("id").values_list("variant_id", "quantity")]


async def test_create_add_merge_update_remove(gql):
    created = (
        await gql.data(
            CREATE, {"i": {"lines": [{"variantId": await vid("ZEP-S"), "quantity": 2}], "email": "A@B.example"}}
        )
    )["cartCreate"]
    cart = created["cart"]
    assert created["userErrors"] == [] and cart["email"] == "a@b.example" and len(cart["token"]) >= 32
    assert cart["lines"][0]["quantity"] == 2 and cart["lines"][0]["total"] == {"amount": "39.98"}
    token = cart["token"]

    merged = (
        await gql.data(
            ADD,
            {
                "t": token,
                "l": [
                    {"variantId": await vid("ZEP-S"), "quantity": 1},
                    {"variantId": await vid("AUR-L"), "quantity": 2},
                ],
            },
        )
    )["cartLinesAdd"]["cart"]
    assert [(line["variant"]["sku"], line["quantity"]) for line in merged["lines"]] == [("ZEP-S", 3), ("AUR-L", 2)]
    assert merged["subtotal"] == {"amount": "249.97", "currency": "EUR"} and merged["totalQuantity"] == 5

    aur = merged["lines"][1]["id"]
    updated = (await gql.data(UPDATE, {"t": token, "l": [{"lineId": aur, "quantity": 1}]}))["cartLinesUpdate"]["cart"]
    assert [line["quantity"] for line in updated["lines"]] == [3, 1]
    zero = (await gql.data(UPDATE, {"t": token, "l": [{"lineId": aur, "quantity": 0}]}))["cartLinesUpdate"]["cart"]
    assert [line["variant"]["sku"] for line in zero["lines"]] == ["ZEP-S"]
    removed = (await gql.data(REMOVE, {"t": token, "ids": [zero["lines"][0]["id"]]}))["cartLinesRemove"]["cart"]
    assert removed["lines"] == [] and removed["subtotal"]["amount"] == "0.00"
    fetched = (await gql.data("query($t: ID!) { cart(token: $t) { token lines { id } } }", {"t": token}))["cart"]
    assert fetched == {"token": token, "lines": []}
    assert (await gql.data('{ cart(token: "no-such-cart") { token } }'))["cart"] is None


TWICE = """mutation($t: ID!, $l: [CartLineInput!]!) {
  first: cartLinesAdd(cartToken: $t, lines: $l) { cart { totalQuantity lines { quantity } } }
  second: cartLinesAdd(cartToken: $t, lines: $l) { cart { totalQuantity lines { quantity } } }
}"""


async def test_each_mutation_of_one_request_answers_with_the_state_it_left(gql):
    token = (await gql.data(CREATE, {"i": {}}))["cartCreate"]["cart"]["token"]
    answered = await gql.data(TWICE, {"t": token, "l": [{"variantId": await vid("ZEP-S"), "quantity": 1}]})
    assert answered["first"]["cart"] == {"totalQuantity": 1, "lines": [{"quantity": 1}]}
    assert answered["second"]["cart"] == {"totalQuantity": 2, "lines": [{"quantity": 2}]}


async def test_refusals_name_the_field_and_change_nothing(gql):
    token = (await gql.data(CREATE, {"i": {"lines": [{"variantId": await vid("ZEP-S"), "quantity": 1}]}}))[
        "cartCreate"
    ]["cart"]["token"]
    before = await snapshot(token)
    cases = [
        # ZEP-S has 5 available (5 on hand in central, none reserved); the cart holds 1 already.
        (
            ADD,
            {"t": token, "l": [{"variantId": await vid("ZEP-S"), "quantity": 5}]},
            ["lines", "0", "quantity"],
            "INSUFFICIENT_STOCK",
        ),
        (
            ADD,
            {"t": token, "l": [{"variantId": await vid("ZEP-M"), "quantity": 1}]},
            ["lines", "0", "quantity"],
            "INSUFFICIENT_STOCK",
        ),
        (
            ADD,
            {"t": token, "l": [{"variantId": await vid("HID-1"), "quantity": 1}]},
            ["lines", "0", "variantId"],
            "NOT_FOR_SALE",
        ),
        (
            ADD,
            {
                "t": token,
                "l": [
                    {"variantId": await vid("AUR-L"), "quantity": 1},
                    {"variantId": await vid("OLD-1"), "quantity": 1},
                ],
            },
            ["lines", "1", "variantId"],
            "NOT_FOR_SALE",
        ),
        (
            ADD,
            {"t": token, "l": [{"variantId": await vid("AUR-L"), "quantity": 0}]},
            ["lines", "0", "quantity"],
            "INVALID_QUANTITY",
        ),
        (
            ADD,
            {"t": token, "l": [{"variantId": await vid("AUR-L"), "quantity": -2}]},
            ["lines", "0", "quantity"],
            "INVALID_QUANTITY",
        ),
        (
            ADD,
            {"t": "not-a-token", "l": [{"variantId": await vid("AUR-L"), "quantity": 1}]},
            ["cartToken"],
            "NOT_FOUND",
        ),
        (
            UPDATE,
            {"t": token, "l": [{"lineId": encode_id("CartLine", 999999), "quantity": 1}]},
            ["lines", "0", "lineId"],
            "NOT_FOUND",
        ),
        (REMOVE, {"t": token, "ids": [encode_id("CartLine", 999999)]}, ["lineIds", "0"], "NOT_FOUND"),
        (EMAIL, {"t": token, "e": "not an email"}, ["email"], "INVALID_EMAIL"),
    ]
    for query, variables, field, code in cases:
        payload = next(iter((await gql.data(query, variables)).values()))
        assert payload["cart"] is None and [(e["field"], e["code"]) for e in payload["userErrors"]] == [
            (field, code)
        ], variables
        assert await snapshot(token) == before
    message = next(iter((await gql.data(*cases[0][:2])).values()))["userErrors"][0]["message"]
    assert "Only 5 of ZEP-S available" in message


async def test_over_the_line_maximum(gql):
    payload = (await gql.data(CREATE, {"i": {"lines": [{"variantId": await vid("ZEP-S"), "quantity": 100}]}}))[
        "cartCreate"
    ]
    assert payload["userErrors"][0]["code"] == "INVALID_QUANTITY" and payload["cart"] is None


async def test_a_completed_cart_is_frozen(gql):
    token = (await gql.data(CREATE, {}))["cartCreate"]["cart"]["token"]
    await Cart.filter(token=token).update(completed_at=datetime.now(UTC))
    payload = (await gql.data(ADD, {"t": token, "l": [{"variantId": await vid("ZEP-S"), "quantity": 1}]}))[
        "cartLinesAdd"
    ]
    assert [e["code"] for e in payload["userErrors"]] == ["CART_COMPLETED"]
    billed = (await gql.data(BILL_TO, {"t": token, "a": ADDRESS}))["cartUpdateBillingAddress"]
    assert [e["code"] for e in billed["userErrors"]] == ["CART_COMPLETED"]
    assert (await Cart.get(token=token)).billing_address is None


async def test_cart_mutations_stay_within_ten_statements(gql, sql_counter):
    token = (await gql.data(CREATE, {}))["cartCreate"]["cart"]["token"]
    for query, variables in (
        (
            ADD,
            {
                "t": token,
                "l": [
                    {"variantId": await vid("ZEP-S"), "quantity": 1},
                    {"variantId": await vid("AUR-L"), "quantity": 1},
                ],
            },
        ),
        (ADD, {"t": token, "l": [{"variantId": await vid("ZEP-S"), "quantity": 1}]}),
        (EMAIL, {"t": token, "e": "x@example.com"}),
    ):
        sql_counter.statements.clear()
        await gql.data(query, variables)
        assert len(sql_counter.statements) <= 10, sql_counter.statements


async def test_the_database_refuses_a_non_positive_line(db):
    cart = await Cart.create(token=f"t-{db.name}-constraint", currency="EUR")
    variant = await ProductVariant.first()
    with pytest.raises((IntegrityError, OperationalError)):
        await CartLine.create(cart=cart, variant=variant, quantity=0)


ADDRESS = {
    "firstName": "Ada",
    "lastName": "Lovelace",
    "line1": "1 Main St",
    "city": "Berlin",
    "postalCode": "10115",
    "country": "de",
}
SHIP_TO = f"mutation($t: ID!, $a: AddressInput!) {{ cartUpdateShippingAddress(cartToken: $t, address: $a) {{ cart {{ shippingAddress {{ country city }} shippingMethod {{ name }} availableShippingMethods {{ id name price {{ amount }} }} }} {ERRORS} }} }}"
SHIP_BY = f"mutation($t: ID!, $m: ID!) {{ cartUpdateShippingMethod(cartToken: $t, shippingMethodId: $m) {{ cart {{ shippingMethod {{ name price {{ amount }} }} }} {ERRORS} }} }}"


async def test_shipping_address_and_methods(gql, client):
    from models import Permission, ShippingMethod
    from tests.staff import bearer, token_for

    staff = bearer(await token_for(Permission.MANAGE_SHIPPING))
    create = """mutation($i: ShippingMethodCreateInput!) { shippingMethodCreate(input: $i) { shippingMethod { id name } userErrors { field code } } }"""
    nordic = (
        await client.post(
            "/graphql",
            headers=staff,
            json={
                "query": create,
                "variables": {
                    "i": {
                        "name": "Nordic Post",
                        "carrier": "posten",
                        "price": "3.00",
                        "countries": ["se", "NO"],
                        "maxWeightGrams": 1000,
                    }
                },
            },
        )
    ).json()
    assert nordic["data"]["shippingMethodCreate"]["userErrors"] == []
    bad = (
        await client.post(
            "/graphql",
            headers=staff,
            json={"query": create, "variables": {"i": {"name": "Bad", "carrier": "x", "price": "-1"}}},
        )
    ).json()
    assert bad["data"]["shippingMethodCreate"]["userErrors"] == [{"field": ["price"], "code": "INVALID_AMOUNT"}]

    token = (await gql.data(CREATE, {"i": {"lines": [{"variantId": await vid("ZEP-S"), "quantity": 1}]}}))[
        "cartCreate"
    ]["cart"]["token"]
    no_address = await gql.data(
        SHIP_BY, {"t": token, "m": nordic["data"]["shippingMethodCreate"]["shippingMethod"]["id"]}
    )
    assert no_address["cartUpdateShippingMethod"]["userErrors"][0]["code"] == "SHIPPING_ADDRESS_REQUIRED"

    shipped = (await gql.data(SHIP_TO, {"t": token, "a": ADDRESS}))["cartUpdateShippingAddress"]["cart"]
    assert shipped["shippingAddress"] == {"country": "DE", "city": "Berlin"}
    names = [m["name"] for m in shipped["availableShippingMethods"]]
    assert "Nordic Post" not in names and {"Standard", "Express"} <= set(names)
    standard = next(m for m in shipped["availableShippingMethods"] if m["name"] == "Standard")
    assert standard["price"]["amount"] == "4.95"  # subtotal 19.99 is under the 50.00 threshold

    refused = await gql.data(SHIP_BY, {"t": token, "m": nordic["data"]["shippingMethodCreate"]["shippingMethod"]["id"]})
    assert refused["cartUpdateShippingMethod"]["userErrors"] == [
        {
            "field": ["shippingMethodId"],
            "code": "SHIPPING_METHOD_UNAVAILABLE",
            "message": "This shipping method does not serve this cart.",
        }
    ]
    chosen = await gql.data(SHIP_BY, {"t": token, "m": standard["id"]})
    assert chosen["cartUpdateShippingMethod"]["cart"]["shippingMethod"] == {
        "name": "Standard",
        "price": {"amount": "4.95"},
    }

    # To Sweden: Nordic Post serves it (the cart weighs 300 g), and the chosen Standard still fits.
    sweden = (await gql.data(SHIP_TO, {"t": token, "a": {**ADDRESS, "country": "SE"}}))["cartUpdateShippingAddress"][
        "cart"
    ]
    assert sweden["availableShippingMethods"][0]["name"] == "Nordic Post" and sweden["shippingMethod"] == {
        "name": "Standard"
    }
    unassigned = (await gql.data(SHIP_TO, {"t": token, "a": {**ADDRESS, "country": "XX"}}))["cartUpdateShippingAddress"]
    assert unassigned["userErrors"][0]["field"] == ["address", "country"]
    invalid = (await gql.data(SHIP_TO, {"t": token, "a": {**ADDRESS, "country": "Deutschland"}}))[
        "cartUpdateShippingAddress"
    ]
    assert invalid["userErrors"] == [
        {
            "field": ["address", "country"],
            "code": "UNKNOWN_COUNTRY",
            "message": "`country` must be an ISO 3166-1 alpha-2 code such as DE.",
        }
    ]
    await ShippingMethod.filter(name="Nordic Post").delete()


BILL_TO = f"""mutation($t: ID!, $a: AddressInput!) {{ cartUpdateBillingAddress(cartToken: $t, address: $a) {{
  cart {{ shippingAddress {{ city }} billingAddress {{ firstName company city country }} total {{ amount }} }} {ERRORS} }} }}"""
BILLING = "query($t: ID!) { cart(token: $t) { billingAddress { city } } }"


async def test_a_billing_address_defaults_to_the_shipping_address(gql):
    token = (await gql.data(CREATE, {"i": {"lines": [{"variantId": await vid("ZEP-S"), "quantity": 1}]}}))[
        "cartCreate"
    ]["cart"]["token"]
    assert (await gql.data(BILLING, {"t": token}))["cart"]["billingAddress"] is None
    await gql.data(SHIP_TO, {"t": token, "a": ADDRESS})
    assert (await gql.data(BILLING, {"t": token}))["cart"]["billingAddress"] == {"city": "Berlin"}

    office = {**ADDRESS, "firstName": " Accounts ", "company": "Analytical Engines", "city": "Zurich", "country": "ch"}
    billed = (await gql.data(BILL_TO, {"t": token, "a": office}))["cartUpdateBillingAddress"]
    assert billed["userErrors"] == []
    assert billed["cart"]["shippingAddress"] == {"city": "Berlin"}
    assert billed["cart"]["billingAddress"] == {
        "firstName": "Accounts",
        "company": "Analytical Engines",
        "city": "Zurich",
        "country": "CH",
    }
    # Checked as a shipping address is, and a refusal changes nothing.
    for bad, field, code in (
        ({**office, "city": " "}, ["address", "city"], "REQUIRED"),
        ({**office, "country": "Schweiz"}, ["address", "country"], "UNKNOWN_COUNTRY"),
        ({**office, "line1": "x" * 201}, ["address", "line1"], "TOO_LONG"),
    ):
        refused = (await gql.data(BILL_TO, {"t": token, "a": bad}))["cartUpdateBillingAddress"]
        assert refused["cart"] is None and [(e["field"], e["code"]) for e in refused["userErrors"]] == [(field, code)]
    assert (await gql.data(BILLING, {"t": token}))["cart"]["billingAddress"] == {"city": "Zurich"}
    # A billing address without a shipping address is kept as it is.
    other = (await gql.data(CREATE, {}))["cartCreate"]["cart"]["token"]
    alone = (await gql.data(BILL_TO, {"t": other, "a": office}))["cartUpdateBillingAddress"]["cart"]
    assert alone["shippingAddress"] is None and alone["billingAddress"]["city"] == "Zurich"
    unknown = (await gql.data(BILL_TO, {"t": "no-such-cart", "a": office}))["cartUpdateBillingAddress"]
    assert [e["code"] for e in unknown["userErrors"]] == ["NOT_FOUND"]


TOTALS = "cart { subtotal { amount } discountTotal { amount } shippingTotal { amount } taxTotal { amount } total { amount } discountCodes { code applicable message } }"
APPLY = f"mutation($t: ID!, $c: String!) {{ cartApplyDiscountCode(cartToken: $t, code: $c) {{ {TOTALS} {ERRORS} }} }}"
DROP = f"mutation($t: ID!, $c: String!) {{ cartRemoveDiscountCode(cartToken: $t, code: $c) {{ {TOTALS} {ERRORS} }} }}"


async def test_discount_codes_shipping_and_tax_make_the_total(gql):
    from datetime import timedelta

    from models import DiscountCode, DiscountKind

    await DiscountCode.get_or_create(
        code="EXPIRED1",
        defaults={"kind": DiscountKind.PERCENTAGE, "value": 50, "ends_at": datetime.now(UTC) - timedelta(days=1)},
    )
    await DiscountCode.get_or_create(
        code="BIGSPEND", defaults={"kind": DiscountKind.FIXED_AMOUNT, "value": 10, "min_subtotal": 100}
    )
    token = (await gql.data(CREATE, {"i": {"lines": [{"variantId": await vid("ZEP-S"), "quantity": 2}]}}))[
        "cartCreate"
    ]["cart"]["token"]
    # 2 x 19.99 to Germany (19 % VAT included in prices), Standard shipping 4.95 under the 50.00 threshold.
    cart = (await gql.data(SHIP_TO, {"t": token, "a": ADDRESS}))["cartUpdateShippingAddress"]["cart"]
    standard = next(m for m in cart["availableShippingMethods"] if m["name"] == "Standard")
    await gql.data(SHIP_BY, {"t": token, "m": standard["id"]})

    applied = (await gql.data(APPLY, {"t": token, "c": "welcome10"}))["cartApplyDiscountCode"]
    assert applied["userErrors"] == []
    assert applied["cart"] == {
        "subtotal": {"amount": "39.98"},
        "discountTotal": {"amount": "4.00"},
        "shippingTotal": {"amount": "4.95"},
        "taxTotal": {"amount": "6.54"},
        "total": {"amount": "40.93"},  # 40.93 x 19/119 = 6.535…
        "discountCodes": [{"code": "WELCOME10", "applicable": True, "message": None}],
    }

    for code, reason in (("NOSUCHCODE", "does not exist"), ("EXPIRED1", "expired"), ("BIGSPEND", "at least 100")):
        refused = (await gql.data(APPLY, {"t": token, "c": code}))["cartApplyDiscountCode"]
        assert refused["cart"] is None and refused["userErrors"][0]["code"] == "DISCOUNT_CODE_INVALID"
        assert reason in refused["userErrors"][0]["message"]
    still = (
        await gql.data("query($t: ID!) { " + TOTALS.replace("cart {", "cart(token: $t) {", 1) + " }", {"t": token})
    )["cart"]
    assert still["discountCodes"] == [{"code": "WELCOME10", "applicable": True, "message": None}]

    dropped = (await gql.data(DROP, {"t": token, "c": "WELCOME10"}))["cartRemoveDiscountCode"]["cart"]
    assert (
        dropped["discountTotal"] == {"amount": "0.00"}
        and dropped["total"] == {"amount": "44.93"}
        and dropped["discountCodes"] == []
    )
    missing = (await gql.data(DROP, {"t": token, "c": "WELCOME10"}))["cartRemoveDiscountCode"]
    assert missing["userErrors"][0]["code"] == "NOT_FOUND"


async def test_a_code_that_stops_applying_is_shown_as_such(gql):
    token = (await gql.data(CREATE, {"i": {"lines": [{"variantId": await vid("AUR-L"), "quantity": 1}]}}))[
        "cartCreate"
    ]["cart"]["token"]
    assert (await gql.data(APPLY, {"t": token, "c": "SAVE5"}))["cartApplyDiscountCode"][
        "userErrors"
    ] == []  # 95.00 >= 25.00
    line = (await gql.data("query($t: ID!) { cart(token: $t) { lines { id } } }", {"t": token}))["cart"]["lines"][0][
        "id"
    ]
    await gql.data(REMOVE, {"t": token, "ids": [line]})
    cart = (
        await gql.data("query($t: ID!) { " + TOTALS.replace("cart {", "cart(token: $t) {", 1) + " }", {"t": token})
    )["cart"]
    assert cart["discountTotal"] == {"amount": "0.00"}
    assert cart["discountCodes"] == [
        {"code": "SAVE5", "applicable": False, "message": "This code needs a subtotal of at least 25.00."}
    ]


async def test_a_guest_cart_merges_into_the_customers_at_sign_in(gql, client):
    from resolvers import accounts

    email = "merge.shopper@example.com"
    if not await accounts.Account.filter(email=email).exists():
        await accounts.register_customer(email, "long enough password")
    sign_in = """mutation($t: ID) { tokenCreate(email: "merge.shopper@example.com", password: "long enough password", cartToken: $t) {
        accessToken cartToken userErrors { code } } }"""
    # First sign-in with a guest cart: it simply becomes the customer's cart.
    first = (await gql.data(CREATE, {"i": {"lines": [{"variantId": await vid("ZEP-S"), "quantity": 1}]}}))[
        "cartCreate"
    ]["cart"]["token"]
    signed = (await gql.data(sign_in, {"t": first}))["tokenCreate"]
    assert signed["cartToken"] == first and signed["userErrors"] == []
    # A second guest cart later joins it: quantities add up, capped at availability (5 of ZEP-S).
    second = (
        await gql.data(
            CREATE,
            {
                "i": {
                    "lines": [
                        {"variantId": await vid("ZEP-S"), "quantity": 5},
                        {"variantId": await vid("AUR-L"), "quantity": 1},
                    ]
                }
            },
        )
    )["cartCreate"]["cart"]["token"]
    merged = (await gql.data(sign_in, {"t": second}))["tokenCreate"]
    assert merged["cartToken"] == first
    cart = (
        await gql.data("query($t: ID!) { cart(token: $t) { email lines { quantity variant { sku } } } }", {"t": first})
    )["cart"]
    assert cart["email"] == email
    assert sorted((line["variant"]["sku"], line["quantity"]) for line in cart["lines"]) == [("AUR-L", 1), ("ZEP-S", 5)]
    assert (await gql.data("query($t: ID!) { cart(token: $t) { token } }", {"t": second}))["cart"] is None


async def test_the_line_maximum_is_configurable(db):
    import httpx

    from gateway.app import create_app
    from gateway.settings import load_settings

    app = create_app(load_settings({"DATABASE_URL": db.url, "MAX_LINE_QUANTITY": "2", "RATE_LIMIT_PER_SECOND": "0"}))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway.test") as client:
        body = (
            await client.post(
                "/graphql",
                json={
                    "query": CREATE,
                    "variables": {"i": {"lines": [{"variantId": await vid("ZEP-S"), "quantity": 3}]}},
                },
            )
        ).json()
    errors = body["data"]["cartCreate"]["userErrors"]
    assert errors == [
        {"field": ["lines", "0", "quantity"], "code": "INVALID_QUANTITY", "message": "At most 2 of one item per order."}
    ]


async def test_staff_create_discount_codes(client, gql):
    from models import DiscountCode, Permission
    from tests.staff import bearer, token_for

    staff = bearer(await token_for(Permission.MANAGE_DISCOUNTS))
    create = """mutation($i: DiscountCodeCreateInput!) { discountCodeCreate(input: $i) {
        discountCode { code kind value minSubtotal usedCount } userErrors { field code } } }"""

    async def call(values):
        body = (await client.post("/graphql", headers=staff, json={"query": create, "variables": {"i": values}})).json()
        assert not body.get("errors"), body
        return body["data"]["discountCodeCreate"]

    made = await call({"code": "spring20", "kind": "PERCENTAGE", "value": "20", "minSubtotal": "10"})
    assert made == {
        "discountCode": {
            "code": "SPRING20",
            "kind": "PERCENTAGE",
            "value": "20.00",
            "minSubtotal": "10.00",
            "usedCount": 0,
        },
        "userErrors": [],
    }
    before = await DiscountCode.all().count()
    for values, field, code in (
        ({"code": "SPRING20", "kind": "PERCENTAGE", "value": "5"}, ["code"], "DUPLICATE"),
        ({"code": "BAD CODE", "kind": "PERCENTAGE", "value": "5"}, ["code"], "INVALID"),
        ({"code": "TOOMUCH", "kind": "PERCENTAGE", "value": "150"}, ["value"], "INVALID"),
        ({"code": "NEGATIVE", "kind": "FIXED_AMOUNT", "value": "-5"}, ["value"], "INVALID_AMOUNT"),
        (
            {
                "code": "BACKWARDS",
                "kind": "FREE_SHIPPING",
                "startsAt": "2027-01-02T00:00:00+00:00",
                "endsAt": "2027-01-01T00:00:00+00:00",
            },
            ["endsAt"],
            "INVALID",
        ),
    ):
        assert await call(values) == {"discountCode": None, "userErrors": [{"field": field, "code": code}]}
    assert await DiscountCode.all().count() == before
    token = (await gql.data(CREATE, {"i": {"lines": [{"variantId": await vid("ZEP-S"), "quantity": 1}]}}))[
        "cartCreate"
    ]["cart"]["token"]
    applied = (await gql.data(APPLY, {"t": token, "c": "spring20"}))["cartApplyDiscountCode"]["cart"]
    assert applied["discountTotal"] == {"amount": "4.00"}
