"""Staff with MANAGE_CUSTOMERS list, search, filter, sort and page customers, and see one with its orders."""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from decimal import Decimal

import pytest

from models import Account, Order, OrderStatus, Permission
from resolvers import accounts, accounts_admin
from schema.ids import encode_id
from tests.staff import SECRET, bearer, token_for
from tests.test_checkout import CHECKOUT, PAID, make_variant, ready_cart

CUSTOMERS = """
query($search: String, $filter: CustomerFilter, $sort: CustomerSort, $first: Int, $after: String, $last: Int,
      $before: String) {
  customers(search: $search, filter: $filter, sort: $sort, first: $first, after: $after, last: $last,
            before: $before) {
    totalCount
    edges { cursor node { id email firstName lastName createdAt orderCount totalSpent { amount currency } } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}"""
CUSTOMER = """
query($id: ID!) {
  customer(id: $id) { email orderCount totalSpent { amount } orders(first: 5) { edges { node { number status } } } }
}"""


STORED_ADDRESS = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "line1": "1 Main St",
    "city": "Berlin",
    "postal_code": "10115",
    "country": "DE",
}


async def customer(marker: str, name: str, last_name: str = "") -> Account:
    return await accounts.register_customer(f"{name}.{marker}@example.com", "long enough password", name, last_name)


async def add_order(account: Account, status: OrderStatus, total: str) -> None:
    """An order of `account` as checkout would leave it, written directly: the listing only reads
    its customer, status and total."""
    await Order.create(
        number=1_000_000_000 + secrets.randbelow(1_000_000_000),
        token=uuid.uuid4().hex,
        customer_id=account.id,
        email=account.email,
        status=status,
        currency="EUR",
        subtotal=Decimal(total),
        discount_total=Decimal(0),
        shipping_total=Decimal(0),
        tax_total=Decimal(0),
        total=Decimal(total),
        # A whole address, as checkout stores it: other tests on this database list every order.
        shipping_address=STORED_ADDRESS,
        shipping_method_name="Standard",
        shipping_carrier="test",
        payment_provider="manual",
    )


async def staff_data(client, headers, query, variables):
    body = (await client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)).json()
    assert not body.get("errors"), body
    return body["data"]


async def staff_errors(client, headers, query, variables) -> list[str]:
    body = (await client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)).json()
    assert body.get("errors"), body
    return [error["extensions"]["code"] for error in body["errors"]]


def names(connection) -> list[str]:
    return [edge["node"]["firstName"] for edge in connection["edges"]]


@pytest.fixture
async def shop(db):
    """Three customers sharing a marker in their email addresses, and a staff account with it too."""
    marker = uuid.uuid4().hex[:12]
    ada = await customer(marker, "ada", "Lovelace")
    bob = await customer(marker, "bob")
    cy = await customer(marker, "cy")
    for status, total in (
        (OrderStatus.PAID, "10.00"),
        (OrderStatus.DELIVERED, "5.50"),
        (OrderStatus.CANCELLED, "100.00"),
        (OrderStatus.PLACED, "7.00"),
    ):
        await add_order(ada, status, total)
    await add_order(bob, OrderStatus.REFUNDED, "20.00")
    await accounts_admin.create_staff(f"staff.{marker}@example.com", "long enough password", [])
    return marker, (ada, bob, cy)


async def test_customers_with_their_order_count_and_total_spent(client, shop):
    marker, (ada, bob, cy) = shop
    staff = bearer(await token_for(Permission.MANAGE_CUSTOMERS))
    listing = (await staff_data(client, staff, CUSTOMERS, {"search": marker, "sort": "EMAIL_ASC"}))["customers"]
    # The staff account with the marker is no customer.
    assert listing["totalCount"] == 3
    assert [edge["node"] for edge in listing["edges"]] == [
        {
            "id": encode_id("Customer", account.id),
            "email": account.email,
            "firstName": account.first_name,
            "lastName": account.last_name,
            "createdAt": account.created_at.isoformat(),
            "orderCount": count,
            "totalSpent": {"amount": spent, "currency": "EUR"},
        }
        # Spent: paid and delivered count; cancelled, refunded and unpaid (placed) do not.
        for account, count, spent in ((ada, 4, "15.50"), (bob, 1, "0.00"), (cy, 0, "0.00"))
    ]
    assert listing["pageInfo"]["hasNextPage"] is False and listing["pageInfo"]["hasPreviousPage"] is False


@pytest.mark.parametrize(
    "sort,expected",
    [
        ("EMAIL_ASC", ["ada", "bob", "cy"]),
        ("EMAIL_DESC", ["cy", "bob", "ada"]),
        ("CREATED_AT_ASC", ["ada", "bob", "cy"]),
        ("CREATED_AT_DESC", ["cy", "bob", "ada"]),
        (None, ["cy", "bob", "ada"]),
        ("ORDER_COUNT_ASC", ["cy", "bob", "ada"]),
        ("ORDER_COUNT_DESC", ["ada", "bob", "cy"]),
        # bob and cy both spent nothing: the later account first going down, last going up.
        ("TOTAL_SPENT_ASC", ["bob", "cy", "ada"]),
        ("TOTAL_SPENT_DESC", ["ada", "cy", "bob"]),
    ],
)
async def test_each_sort(client, shop, sort, expected):
    marker, _ = shop
    staff = bearer(await token_for(Permission.MANAGE_CUSTOMERS))
    listing = (await staff_data(client, staff, CUSTOMERS, {"search": marker, "sort": sort}))["customers"]
    assert names(listing) == expected


@pytest.mark.parametrize(
    "sort",
    ["EMAIL_ASC", "EMAIL_DESC", "CREATED_AT_ASC", "CREATED_AT_DESC", "ORDER_COUNT_DESC", "TOTAL_SPENT_ASC"],
)
async def test_paging_forward_and_back_gives_every_customer_once(client, shop, sort):
    marker, _ = shop
    staff = bearer(await token_for(Permission.MANAGE_CUSTOMERS))
    everyone = names((await staff_data(client, staff, CUSTOMERS, {"search": marker, "sort": sort}))["customers"])
    seen, after, pages = [], None, []
    while True:
        page = (
            await staff_data(client, staff, CUSTOMERS, {"search": marker, "sort": sort, "first": 1, "after": after})
        )["customers"]
        assert page["totalCount"] == 3
        seen += names(page)
        pages.append(page)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == everyone
    back = (
        await staff_data(
            client,
            staff,
            CUSTOMERS,
            {"search": marker, "sort": sort, "last": 2, "before": pages[-1]["pageInfo"]["startCursor"]},
        )
    )["customers"]
    assert names(back) == everyone[:2] and back["pageInfo"]["hasNextPage"] is True
    assert back["pageInfo"]["hasPreviousPage"] is False


async def test_search_and_filter(client, shop):
    marker, (ada, bob, cy) = shop
    staff = bearer(await token_for(Permission.MANAGE_CUSTOMERS))

    async def found(search, filter=None) -> list[str]:
        variables = {"search": search, "filter": filter, "sort": "CREATED_AT_ASC", "first": 100}
        return [
            edge["node"]["email"]
            for edge in (await staff_data(client, staff, CUSTOMERS, variables))["customers"]["edges"]
        ]

    assert await found(f"ADA.{marker.upper()}") == [ada.email]  # the email, in any case
    lovelaces = await found("lOVELACE")  # the name, in any case (other tests have their Lovelaces too)
    assert ada.email in lovelaces and bob.email not in lovelaces
    assert ada.email in await found("Ada Lovelace")  # first and last name together
    # % and _ are the characters they are, not wildcards.
    assert await found(f"{marker[:4]}%{marker[5:]}") == []
    assert await found(f"{marker[:4]}_{marker[5:]}") == []
    assert await found(marker, {"hasOrders": True}) == [ada.email, bob.email]
    assert await found(marker, {"hasOrders": False}) == [cy.email]
    assert await found(marker, {"createdAfter": bob.created_at.isoformat()}) == [bob.email, cy.email]
    assert await found(marker, {"createdBefore": bob.created_at.isoformat()}) == [ada.email]
    window = {"createdAfter": ada.created_at.isoformat(), "createdBefore": cy.created_at.isoformat()}
    assert await found(marker, window) == [ada.email, bob.email]


async def test_refused_input(client, shop):
    marker, _ = shop
    staff = bearer(await token_for(Permission.MANAGE_CUSTOMERS))
    too_long = "x" * 255
    assert await staff_errors(client, staff, CUSTOMERS, {"search": too_long}) == ["BAD_USER_INPUT"]
    first = (await staff_data(client, staff, CUSTOMERS, {"search": marker, "sort": "EMAIL_ASC", "first": 1}))[
        "customers"
    ]
    cursor = first["pageInfo"]["endCursor"]
    # A cursor of another sort, and cursors whose key is of the wrong kind for theirs.
    assert await staff_errors(client, staff, CUSTOMERS, {"sort": "EMAIL_DESC", "after": cursor}) == ["BAD_USER_INPUT"]
    for sort, key in (("TOTAL_SPENT_DESC", "lots"), ("TOTAL_SPENT_DESC", "1e30"), ("CREATED_AT_ASC", "yesterday")):
        forged = base64.urlsafe_b64encode(json.dumps([f"customers:{sort}", key, 1]).encode()).decode().rstrip("=")
        assert await staff_errors(client, staff, CUSTOMERS, {"sort": sort, "after": forged}) == ["BAD_USER_INPUT"]
    assert await staff_errors(client, staff, CUSTOMERS, {"first": 101}) == ["BAD_USER_INPUT"]


async def test_one_customer_with_the_orders_they_placed(gql, client, db):
    marker = uuid.uuid4().hex[:12]
    account = await customer(marker, "dee")
    own = bearer((await accounts.sign_in(account.email, "long enough password", SECRET)).access_token)
    variant = await make_variant()
    placed = (await gql.data(CHECKOUT, {"t": await ready_cart(gql, [(variant.sku, 1)], headers=own), "p": PAID}))[
        "checkoutComplete"
    ]["order"]
    staff = bearer(await token_for(Permission.MANAGE_CUSTOMERS))
    seen = (await staff_data(client, staff, CUSTOMER, {"id": encode_id("Customer", account.id)}))["customer"]
    assert seen == {
        "email": account.email,
        "orderCount": 1,
        "totalSpent": {"amount": placed["total"]["amount"]},
        "orders": {"edges": [{"node": {"number": placed["number"], "status": "PAID"}}]},
    }
    # The customer sees the same numbers of themselves.
    mine = await staff_data(client, own, "{ me { orderCount totalSpent { amount } } }", {})
    assert mine["me"] == {"orderCount": 1, "totalSpent": {"amount": placed["total"]["amount"]}}
    # A staff account is no customer; an ID naming nothing is null; `node` answers as `customer` does.
    other_staff = await accounts_admin.create_staff(f"staff.{marker}@example.com", "long enough password", [])
    for account_id in (other_staff.id, 2_000_000_000):
        assert (await staff_data(client, staff, CUSTOMER, {"id": encode_id("Customer", account_id)}))[
            "customer"
        ] is None
    node = "query($id: ID!) { node(id: $id) { ... on Customer { email } } }"
    assert (await staff_data(client, staff, node, {"id": encode_id("Customer", account.id)}))["node"] == {
        "email": account.email
    }
    assert (await staff_data(client, staff, node, {"id": encode_id("Customer", other_staff.id)}))["node"] is None
    wrong_type = {"id": encode_id("Product", 1)}
    assert await staff_errors(client, staff, CUSTOMER, wrong_type) == ["BAD_USER_INPUT"]


async def test_only_staff_with_manage_customers(client, shop):
    marker, (ada, _, _) = shop
    for permission in (Permission.MANAGE_STAFF, Permission.MANAGE_ORDERS):
        other = bearer(await token_for(permission))
        assert await staff_errors(client, other, CUSTOMERS, {"search": marker}) == ["FORBIDDEN"]
        assert await staff_errors(client, other, CUSTOMER, {"id": encode_id("Customer", ada.id)}) == ["FORBIDDEN"]
    shopper = bearer((await accounts.sign_in(ada.email, "long enough password", SECRET)).access_token)
    assert await staff_errors(client, shopper, CUSTOMERS, {"search": marker}) == ["FORBIDDEN"]
