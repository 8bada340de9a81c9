"""Staff list and change what checkout offers (issue 19, point 4): discount codes (MANAGE_DISCOUNTS)
and shipping methods (MANAGE_SHIPPING), through the API, on SQLite and PostgreSQL.

Other tests share the database, so each test lists only what it made, by a marker of its own in the
search box."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from models import Cart, DiscountCode, Order, Permission, ShippingMethod
from resolvers import checkout
from resolvers.countries import COUNTRIES
from schema.ids import encode_id
from tests import databases
from tests.staff import bearer, token_for
from tests.test_checkout import CHECKOUT, PAID, make_variant, ready_cart

ERRORS = "userErrors { field code message }"
CODE_FIELDS = "id code kind value minSubtotal startsAt endsAt usageLimit usedCount status"
CODES = f"""
query($search: String, $filter: DiscountCodeFilter, $sort: DiscountCodeSort, $first: Int, $after: String, $last: Int,
      $before: String) {{
  discountCodes(search: $search, filter: $filter, sort: $sort, first: $first, after: $after, last: $last,
                before: $before) {{
    totalCount
    edges {{ cursor node {{ {CODE_FIELDS} }} }}
    pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
  }}
}}"""
CREATE_CODE = f"""mutation($i: DiscountCodeCreateInput!) {{
  discountCodeCreate(input: $i) {{ discountCode {{ {CODE_FIELDS} }} {ERRORS} }} }}"""
UPDATE_CODE = f"""mutation($id: ID!, $i: DiscountCodeUpdateInput!) {{
  discountCodeUpdate(id: $id, input: $i) {{ discountCode {{ {CODE_FIELDS} }} {ERRORS} }} }}"""
DEACTIVATE_CODE = f"""mutation($id: ID!) {{
  discountCodeDeactivate(id: $id) {{ discountCode {{ code status }} {ERRORS} }} }}"""

METHOD_FIELDS = "id name carrier price { amount } freeOver { amount } countries minDays maxDays status"
METHODS = f"""
query($search: String, $filter: ShippingMethodFilter, $sort: ShippingMethodSort, $first: Int, $after: String,
      $last: Int, $before: String) {{
  shippingMethods(search: $search, filter: $filter, sort: $sort, first: $first, after: $after, last: $last,
                  before: $before) {{
    totalCount
    nodes {{ {METHOD_FIELDS} }}
    edges {{ cursor }}
    pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
  }}
}}"""
CREATE_METHOD = f"""mutation($i: ShippingMethodCreateInput!) {{
  shippingMethodCreate(input: $i) {{ shippingMethod {{ {METHOD_FIELDS} }} {ERRORS} }} }}"""
UPDATE_METHOD = f"""mutation($id: ID!, $i: ShippingMethodUpdateInput!) {{
  shippingMethodUpdate(id: $id, input: $i) {{ shippingMethod {{ {METHOD_FIELDS} }} {ERRORS} }} }}"""
DELETE_METHOD = f"""mutation($id: ID!) {{
  shippingMethodDelete(id: $id) {{ deletedId shippingMethod {{ name status }} {ERRORS} }} }}"""
CART = """query($t: ID!) { cart(token: $t) {
  discountTotal { amount } discountCodes { code applicable message }
  shippingMethod { name } availableShippingMethods { id name } } }"""
APPLY = f"mutation($t: ID!, $c: String!) {{ cartApplyDiscountCode(cartToken: $t, code: $c) {{ {ERRORS} }} }}"
CHOOSE = (
    f"mutation($t: ID!, $m: ID!) {{ cartUpdateShippingMethod(cartToken: $t, shippingMethodId: $m) {{ {ERRORS} }} }}"
)


class Staff:
    """A staff member's requests: `data` for answers without errors, `error_codes` for refused ones."""

    def __init__(self, client, headers: dict[str, str]) -> None:
        self.client, self.headers = client, headers

    async def post(self, query: str, variables: dict) -> dict:
        return (
            await self.client.post("/graphql", json={"query": query, "variables": variables}, headers=self.headers)
        ).json()

    async def data(self, query: str, variables: dict) -> dict:
        body = await self.post(query, variables)
        assert not body.get("errors"), body
        return body["data"]

    async def error_codes(self, query: str, variables: dict) -> list[str]:
        body = await self.post(query, variables)
        return [error["extensions"]["code"] for error in body.get("errors", [])]


@pytest.fixture
async def discounts(client) -> Staff:
    return Staff(client, bearer(await token_for(Permission.MANAGE_DISCOUNTS)))


@pytest.fixture
async def shipping(client) -> Staff:
    return Staff(client, bearer(await token_for(Permission.MANAGE_SHIPPING)))


def moment(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


def marker() -> str:
    return f"Q{uuid.uuid4().hex[:8].upper()}"


async def create_code(staff: Staff, code: str, **terms) -> dict:
    payload = (await staff.data(CREATE_CODE, {"i": {"code": code, "kind": "PERCENTAGE", "value": "10.00", **terms}}))[
        "discountCodeCreate"
    ]
    assert payload["userErrors"] == [], payload
    return payload["discountCode"]


async def codes(staff: Staff, **variables) -> dict:
    return (await staff.data(CODES, variables))["discountCodes"]


def names(connection: dict, key: str = "code") -> list[str]:
    return [edge["node"][key] for edge in connection["edges"]]


async def test_discount_codes_are_searched_filtered_sorted_and_paged(discounts):
    mark = marker()
    made = {
        "ACT": await create_code(discounts, f"{mark}-ACT"),
        "FREE": await create_code(discounts, f"{mark}-FREE", kind="FREE_SHIPPING", value="0.00"),
        "SOON": await create_code(discounts, f"{mark}-SOON", startsAt=moment(2)),
        "OVER": await create_code(discounts, f"{mark}-OVER", startsAt=moment(-3), endsAt=moment(-1)),
        "USED": await create_code(discounts, f"{mark}-USED", usageLimit=1),
        "OFF": await create_code(discounts, f"{mark}-OFF"),
    }
    await DiscountCode.filter(code=f"{mark}-USED").update(used_count=1)  # as a checkout would have
    off = (await discounts.data(DEACTIVATE_CODE, {"id": made["OFF"]["id"]}))["discountCodeDeactivate"]
    assert off == {"discountCode": {"code": f"{mark}-OFF", "status": "DEACTIVATED"}, "userErrors": []}

    everything = await codes(discounts, search=mark.lower())  # matched in any case
    assert everything["totalCount"] == 6
    assert names(everything) == sorted(f"{mark}-{name}" for name in made)  # CODE_ASC by default
    status = {edge["node"]["code"].split("-")[1]: edge["node"]["status"] for edge in everything["edges"]}
    assert status == {
        "ACT": "ACTIVE",
        "FREE": "ACTIVE",
        "SOON": "SCHEDULED",
        "OVER": "EXPIRED",
        "USED": "EXPIRED",
        "OFF": "DEACTIVATED",
    }
    # The filter's SQL agrees with each code's status, one status or several at a time.
    for wanted in (["ACTIVE"], ["SCHEDULED"], ["EXPIRED"], ["DEACTIVATED"], ["ACTIVE", "EXPIRED"]):
        found = await codes(discounts, search=mark, filter={"status": wanted})
        expected = sorted(f"{mark}-{name}" for name, s in status.items() if s in wanted)
        assert (names(found), found["totalCount"]) == (expected, len(expected)), wanted
    free = await codes(discounts, search=mark, filter={"kind": ["FREE_SHIPPING"], "status": ["ACTIVE"]})
    assert names(free) == [f"{mark}-FREE"]
    assert (await codes(discounts, search="%"))["totalCount"] == 0  # LIKE's wildcards are plain text

    # Pages forward and back, in each sort, with the total on every page.
    for sort, order in (
        ("CODE_DESC", sorted(names(everything), reverse=True)),
        ("NEWEST", [made[name]["code"] for name in reversed(list(made))]),
    ):
        seen, after = [], None
        while True:
            page = await codes(discounts, search=mark, sort=sort, first=4, after=after)
            assert page["totalCount"] == 6
            seen += names(page)
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        assert seen == order, sort
        back = await codes(discounts, search=mark, sort=sort, last=4, before=page["pageInfo"]["startCursor"])
        assert names(back) == order[:4] and back["pageInfo"]["hasNextPage"]
        assert not back["pageInfo"]["hasPreviousPage"]
    tail = await codes(discounts, search=mark, last=2)
    assert names(tail) == sorted(names(everything))[-2:] and tail["pageInfo"]["hasPreviousPage"]

    cursor = everything["edges"][0]["cursor"]
    assert await discounts.error_codes(CODES, {"sort": "NEWEST", "after": cursor}) == ["BAD_USER_INPUT"]
    assert await discounts.error_codes(CODES, {"after": "bm90IGEgY3Vyc29y"}) == ["BAD_USER_INPUT"]
    assert await discounts.error_codes(CODES, {"first": 101}) == ["BAD_USER_INPUT"]
    assert await discounts.error_codes(CODES, {"search": "x" * 101}) == ["BAD_USER_INPUT"]


async def test_a_discount_code_update_is_checked_and_changes_only_what_is_given(discounts):
    code = await create_code(discounts, f"{marker()}-UPD", minSubtotal="30", usageLimit=5, startsAt=moment(-1))
    await DiscountCode.filter(code=code["code"]).update(used_count=2)

    async def update(**changes) -> dict:
        return (await discounts.data(UPDATE_CODE, {"id": code["id"], "i": changes}))["discountCodeUpdate"]

    refusals = [
        ({"value": "150"}, ["value"], "INVALID"),
        ({"kind": "FIXED_AMOUNT", "value": "0"}, ["value"], "INVALID_AMOUNT"),
        ({"value": "1.005"}, ["value"], "INVALID_AMOUNT"),
        ({"endsAt": moment(-2)}, ["endsAt"], "INVALID"),  # before its start
        ({"usageLimit": 0}, ["usageLimit"], "INVALID"),
        ({"value": None}, ["value"], "REQUIRED"),
        ({"kind": None}, ["kind"], "REQUIRED"),
    ]
    for changes, field, error in refusals:
        payload = await update(**changes)
        assert payload["discountCode"] is None, changes
        assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(field, error)], changes
    unchanged = (await codes(discounts, search=code["code"]))["edges"][0]["node"]
    assert unchanged == {**code, "usedCount": 2}

    changed = await update(value="15.00", minSubtotal=None, endsAt=moment(30))
    assert changed["userErrors"] == []
    node = changed["discountCode"]
    assert (node["value"], node["minSubtotal"], node["usageLimit"], node["usedCount"]) == ("15.00", None, 5, 2)
    assert node["startsAt"] == code["startsAt"] and node["endsAt"] is not None and node["status"] == "ACTIVE"
    # A limit at the uses so far ends it; the use count is never written by an update.
    assert (await update(usageLimit=2))["discountCode"]["status"] == "EXPIRED"
    assert (await update(usageLimit=None, endsAt=None))["discountCode"]["status"] == "ACTIVE"
    assert (await DiscountCode.get(code=code["code"])).used_count == 2

    gone = encode_id("DiscountCode", 2**31 - 1)
    payload = (await discounts.data(UPDATE_CODE, {"id": gone, "i": {"value": "5"}}))["discountCodeUpdate"]
    assert [e["code"] for e in payload["userErrors"]] == ["NOT_FOUND"]
    assert await discounts.error_codes(UPDATE_CODE, {"id": encode_id("Product", 1), "i": {}}) == ["BAD_USER_INPUT"]


async def test_a_deactivated_code_stops_applying_to_carts_that_hold_it(gql, discounts):
    variant = await make_variant()
    code = await create_code(discounts, f"{marker()}-STOP")
    token = await ready_cart(gql, [(variant.sku, 1)])
    assert (await gql.data(APPLY, {"t": token, "c": code["code"].lower()}))["cartApplyDiscountCode"]["userErrors"] == []
    assert (await gql.data(CART, {"t": token}))["cart"]["discountTotal"] == {"amount": "2.00"}

    assert (await discounts.data(DEACTIVATE_CODE, {"id": code["id"]}))["discountCodeDeactivate"]["userErrors"] == []
    cart = (await gql.data(CART, {"t": token}))["cart"]
    assert cart["discountTotal"] == {"amount": "0.00"}
    assert cart["discountCodes"] == [
        {"code": code["code"], "applicable": False, "message": "This code is no longer active."}
    ]
    other = await ready_cart(gql, [(variant.sku, 1)], address=False)
    refused = (await gql.data(APPLY, {"t": other, "c": code["code"]}))["cartApplyDiscountCode"]["userErrors"]
    assert [e["code"] for e in refused] == ["DISCOUNT_CODE_INVALID"]
    orders_before = await Order.all().count()
    result = (await gql.data(CHECKOUT, {"t": token, "p": PAID}))["checkoutComplete"]
    assert result["order"] is None and [e["code"] for e in result["userErrors"]] == ["DISCOUNT_CODE_INVALID"]
    assert await Order.all().count() == orders_before
    assert (await DiscountCode.get(code=code["code"])).used_count == 0
    # Deactivating again changes nothing and says so plainly.
    again = (await discounts.data(DEACTIVATE_CODE, {"id": code["id"]}))["discountCodeDeactivate"]
    assert again == {"discountCode": {"code": code["code"], "status": "DEACTIVATED"}, "userErrors": []}


async def create_method(staff: Staff, name: str, **settings) -> dict:
    variables = {"i": {"name": name, "carrier": "dhl", "price": "4.50", **settings}}
    payload = (await staff.data(CREATE_METHOD, variables))["shippingMethodCreate"]
    assert payload["userErrors"] == [], payload
    return payload["shippingMethod"]


async def methods(staff: Staff, **variables) -> dict:
    return (await staff.data(METHODS, variables))["shippingMethods"]


async def test_shipping_methods_are_searched_filtered_sorted_and_paged(shipping, sql_counter):
    mark, carrier = marker(), f"c{uuid.uuid4().hex[:8]}"
    made = [
        await create_method(shipping, f"{mark} Alpha", carrier=carrier, freeOver="50.00", countries=["de", "AT"]),
        await create_method(shipping, f"{mark} Bravo"),
        await create_method(shipping, f"{mark} Charlie"),
        await create_method(shipping, f"{mark} Delta"),
    ]
    assert made[0]["freeOver"] == {"amount": "50.00"} and made[0]["countries"] == ["AT", "DE"]
    off = await shipping.data(UPDATE_METHOD, {"id": made[1]["id"], "i": {"active": False}})
    assert off["shippingMethodUpdate"]["shippingMethod"]["status"] == "INACTIVE"
    await ShippingMethod.filter(name=f"{mark} Charlie").update(active=False, archived_at=datetime.now(UTC))

    every = await methods(shipping, search=mark.lower())
    assert every["totalCount"] == 4
    assert [(m["name"].split()[1], m["status"]) for m in every["nodes"]] == [
        ("Alpha", "ACTIVE"),
        ("Bravo", "INACTIVE"),
        ("Charlie", "ARCHIVED"),
        ("Delta", "ACTIVE"),
    ]
    assert [m["name"] for m in (await methods(shipping, search=carrier.upper()))["nodes"]] == [f"{mark} Alpha"]
    for wanted, expected in (
        (["ACTIVE"], ["Alpha", "Delta"]),
        (["INACTIVE", "ARCHIVED"], ["Bravo", "Charlie"]),
    ):
        found = await methods(shipping, search=mark, filter={"status": wanted})
        assert [m["name"].split()[1] for m in found["nodes"]] == expected and found["totalCount"] == len(expected)

    first = await methods(shipping, search=mark, sort="NAME_DESC", first=3)
    assert [m["name"].split()[1] for m in first["nodes"]] == ["Delta", "Charlie", "Bravo"]
    assert first["pageInfo"]["hasNextPage"] and not first["pageInfo"]["hasPreviousPage"]
    rest = await methods(shipping, search=mark, sort="NAME_DESC", first=3, after=first["pageInfo"]["endCursor"])
    assert [m["name"].split()[1] for m in rest["nodes"]] == ["Alpha"] and rest["totalCount"] == 4
    back = await methods(shipping, search=mark, sort="NAME_DESC", last=2, before=rest["pageInfo"]["startCursor"])
    assert [m["name"].split()[1] for m in back["nodes"]] == ["Charlie", "Bravo"] and back["pageInfo"]["hasPreviousPage"]
    statements = []
    for size in (1, 4):  # the page and its count, whatever the page's size
        sql_counter.statements.clear()
        await methods(shipping, search=mark, first=size)
        statements.append([s for s in sql_counter.statements if "shipping_method" in s])
    assert len(statements[0]) == len(statements[1]) == 2, statements
    newest = await methods(shipping, search=mark, sort="NEWEST", first=1)
    assert newest["nodes"][0]["name"] == f"{mark} Delta"
    cursor = newest["pageInfo"]["endCursor"]
    assert await shipping.error_codes(METHODS, {"sort": "NAME_ASC", "after": cursor}) == ["BAD_USER_INPUT"]


async def test_a_shipping_method_update_is_checked_and_reaches_carts(gql, shipping):
    variant = await make_variant()
    method = await create_method(shipping, f"{marker()} Courier", price="7.00")

    async def update(**changes) -> dict:
        return (await shipping.data(UPDATE_METHOD, {"id": method["id"], "i": changes}))["shippingMethodUpdate"]

    refusals = [
        ({"price": "-1"}, ["price"], "INVALID_AMOUNT"),
        ({"countries": ["DE", "XX"]}, ["countries"], "UNKNOWN_COUNTRY"),
        ({"minDays": 6}, ["maxDays"], "INVALID"),  # past its maxDays of 5
        ({"name": " "}, ["name"], "REQUIRED"),
        ({"name": "n" * 101}, ["name"], "TOO_LONG"),
        ({"carrier": None}, ["carrier"], "REQUIRED"),
        ({"minWeightGrams": 10, "maxWeightGrams": 5}, ["maxWeightGrams"], "INVALID"),
    ]
    for changes, field, error in refusals:
        payload = await update(**changes)
        assert payload["shippingMethod"] is None, changes
        assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(field, error)], changes
    assert (await methods(shipping, search=method["name"]))["nodes"] == [method]

    token = await ready_cart(gql, [(variant.sku, 1)], method=False)

    async def offered() -> dict[str, str]:
        cart = (await gql.data(CART, {"t": token}))["cart"]
        return {m["name"]: m["id"] for m in cart["availableShippingMethods"]}

    assert method["name"] in await offered()
    changed = await update(price="3.25", countries=["FR"], freeOver="40.00", name=f"{method['name']} Plus")
    assert changed["userErrors"] == [] and changed["shippingMethod"]["price"] == {"amount": "3.25"}
    assert changed["shippingMethod"]["countries"] == ["FR"] and changed["shippingMethod"]["carrier"] == "dhl"
    assert changed["shippingMethod"]["name"] not in await offered()  # the cart ships to DE
    assert (await update(countries=sorted(COUNTRIES)))["userErrors"] == []  # past the usual list bound of 100
    changed = await update(countries=None, freeOver=None, active=False)
    assert changed["shippingMethod"]["status"] == "INACTIVE" and changed["shippingMethod"]["freeOver"] is None
    assert changed["shippingMethod"]["name"] not in await offered()
    assert (await update(active=True))["shippingMethod"]["status"] == "ACTIVE"
    assert changed["shippingMethod"]["name"] in await offered()


async def test_a_method_open_carts_chose_is_archived_and_deleted_once_none_has(gql, shipping):
    variant = await make_variant()
    unused = await create_method(shipping, f"{marker()} Unused")
    deleted = (await shipping.data(DELETE_METHOD, {"id": unused["id"]}))["shippingMethodDelete"]
    assert deleted == {"deletedId": unused["id"], "shippingMethod": None, "userErrors": []}
    again = (await shipping.data(DELETE_METHOD, {"id": unused["id"]}))["shippingMethodDelete"]
    assert [e["code"] for e in again["userErrors"]] == ["NOT_FOUND"]

    method = await create_method(shipping, f"{marker()} Chosen")
    token = await ready_cart(gql, [(variant.sku, 1)], method=False)
    assert (await gql.data(CHOOSE, {"t": token, "m": method["id"]}))["cartUpdateShippingMethod"]["userErrors"] == []
    archived = (await shipping.data(DELETE_METHOD, {"id": method["id"]}))["shippingMethodDelete"]
    assert archived == {
        "deletedId": None,
        "shippingMethod": {"name": method["name"], "status": "ARCHIVED"},
        "userErrors": [],
    }
    cart = (await gql.data(CART, {"t": token}))["cart"]
    assert cart["shippingMethod"] is None and method["name"] not in [
        m["name"] for m in cart["availableShippingMethods"]
    ]
    refused = (await gql.data(CHECKOUT, {"t": token, "p": PAID}))["checkoutComplete"]
    assert [e["code"] for e in refused["userErrors"]] == ["SHIPPING_METHOD_UNAVAILABLE"]
    chosen_again = (await gql.data(CHOOSE, {"t": token, "m": method["id"]}))["cartUpdateShippingMethod"]
    assert [e["code"] for e in chosen_again["userErrors"]] == ["SHIPPING_METHOD_UNAVAILABLE"]
    frozen = (await shipping.data(UPDATE_METHOD, {"id": method["id"], "i": {"active": True}}))["shippingMethodUpdate"]
    assert [e["code"] for e in frozen["userErrors"]] == ["INVALID"]
    assert await ShippingMethod.filter(id=(await Cart.get(token=token)).shipping_method_id).exists()

    # The cart moves on to another method: nothing open names it, and a second delete removes it.
    standard = cart["availableShippingMethods"][0]["id"]
    assert (await gql.data(CHOOSE, {"t": token, "m": standard}))["cartUpdateShippingMethod"]["userErrors"] == []
    gone = (await shipping.data(DELETE_METHOD, {"id": method["id"]}))["shippingMethodDelete"]
    assert gone == {"deletedId": method["id"], "shippingMethod": None, "userErrors": []}
    assert (await methods(shipping, search=method["name"]))["totalCount"] == 0


async def test_checkout_counts_no_use_of_a_code_deactivated_after_the_totals_read_it(gql, discounts, monkeypatch):
    """The race, made deterministic: the cart's totals see the code as it was before a deactivation
    committed (as a checkout that read it just before would), and the use count, the statement that
    decides, refuses it."""
    variant = await make_variant()
    code = await create_code(discounts, f"{marker()}-RACE")
    token = await ready_cart(gql, [(variant.sku, 1)])
    assert (await gql.data(APPLY, {"t": token, "c": code["code"]}))["cartApplyDiscountCode"]["userErrors"] == []
    assert (await discounts.data(DEACTIVATE_CODE, {"id": code["id"]}))["discountCodeDeactivate"]["userErrors"] == []
    monkeypatch.setattr(checkout, "discount_problem", lambda *args: None)
    result = (await gql.data(CHECKOUT, {"t": token, "p": PAID}))["checkoutComplete"]
    assert result["order"] is None
    assert [(e["code"], e["field"]) for e in result["userErrors"]] == [("DISCOUNT_CODE_INVALID", ["discountCodes"])]
    assert (await DiscountCode.get(code=code["code"])).used_count == 0
    assert (await Cart.get(token=token)).completed_at is None


async def test_a_cart_choosing_a_method_as_it_is_deleted_is_told_it_is_unavailable(db, gql, shipping):
    if db.name != "postgres":
        pytest.skip("SQLite serializes every transaction: concurrency is proven on PostgreSQL")
    variant = await make_variant()
    method = await create_method(shipping, f"{marker()} Vanishing")
    token = await ready_cart(gql, [(variant.sku, 1)], method=False)
    method_id = (await ShippingMethod.get(name=method["name"])).id
    # The delete, on a connection of its own (the app's pool stays free for the request), holds the
    # row until its commit: the cart reads the method as it was, then its foreign key waits for the
    # row and finds it gone.
    deleting = await asyncpg.connect(databases.postgres_url(db.url))
    try:
        async with deleting.transaction():
            await deleting.execute("DELETE FROM shipping_method WHERE id = $1", method_id)
            choosing = asyncio.create_task(gql.data(CHOOSE, {"t": token, "m": method["id"]}))
            for _ in range(200):  # until the cart's statement waits for the row (at most 10 s)
                waiting = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
                if await deleting.fetchval(waiting) or choosing.done():
                    break
                await asyncio.sleep(0.05)
            assert not choosing.done()
    finally:
        await deleting.close()
    errors = (await choosing)["cartUpdateShippingMethod"]["userErrors"]
    assert [(e["code"], e["field"], e["message"]) for e in errors] == [
        ("SHIPPING_METHOD_UNAVAILABLE", ["shippingMethodId"], "This shipping method has been removed.")
    ]
    assert (await Cart.get(token=token)).shipping_method_id is None
