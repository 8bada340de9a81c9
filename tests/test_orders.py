"""Order state: allowed transitions only, stock released on cancel, refunds, who sees which orders."""

from __future__ import annotations

import pytest

from models import OrderStatus, Permission, Stock, StockMovement
from resolvers import accounts
from resolvers.errors import DomainError
from resolvers.orders import TRANSITIONS, check_transition
from schema.ids import encode_id
from tests.staff import SECRET, bearer, token_for
from tests.test_checkout import CHECKOUT, PAID, make_variant, ready_cart

ORDER = "order { status events { kind } }"
MARK_PAID = f"mutation($id: ID!) {{ orderMarkPaid(orderId: $id) {{ {ORDER} userErrors {{ code }} }} }}"
CANCEL = (
    f'mutation($id: ID!) {{ orderCancel(orderId: $id, reason: "customer asked") {{ {ORDER} userErrors {{ code }} }} }}'
)
REFUND = f"mutation($id: ID!) {{ orderRefund(orderId: $id) {{ {ORDER} userErrors {{ code }} }} }}"


@pytest.mark.parametrize("current", list(OrderStatus))
@pytest.mark.parametrize("target", list(OrderStatus))
def test_the_transition_table(current, target):
    if target in TRANSITIONS[current]:
        check_transition(current, target)
    else:
        with pytest.raises(DomainError) as refused:
            check_transition(current, target)
        assert refused.value.code == "INVALID_TRANSITION"


async def staff_call(client, headers, query, variables):
    body = (await client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)).json()
    assert not body.get("errors"), body
    return next(iter(body["data"].values()))


async def test_manual_order_paid_then_cancelled_releases_and_refunds(gql, client, db):
    staff = bearer(await token_for(Permission.MANAGE_ORDERS))
    variant = await make_variant()
    token = await ready_cart(gql, [(variant.sku, 2)])
    order = (await gql.data(CHECKOUT, {"t": token, "p": {"provider": "manual"}}))["checkoutComplete"]["order"]
    assert (await Stock.get(variant_id=variant.id, warehouse__code="central")).reserved == 2

    paid = await staff_call(client, staff, MARK_PAID, {"id": order["id"]})
    assert paid["order"]["status"] == "PAID"
    again = await staff_call(client, staff, MARK_PAID, {"id": order["id"]})
    assert again == {"order": None, "userErrors": [{"code": "INVALID_TRANSITION"}]}

    cancelled = await staff_call(client, staff, CANCEL, {"id": order["id"]})
    assert cancelled["order"]["status"] == "CANCELLED"
    events = "query($t: ID!) { order(token: $t) { events { kind actor } } }"
    seen_by_staff = (
        await client.post("/graphql", headers=staff, json={"query": events, "variables": {"t": order["token"]}})
    ).json()
    assert seen_by_staff["data"]["order"]["events"][0] == {"kind": "PLACED", "actor": "ada@example.com"}
    assert "@" in seen_by_staff["data"]["order"]["events"][2]["actor"]
    seen_by_holder = (await gql.data(events, {"t": order["token"]}))["order"]["events"]
    assert {e["actor"] for e in seen_by_holder} == {None}
    assert [e["kind"] for e in cancelled["order"]["events"]] == ["PLACED", "PAID", "CANCELLED", "REFUNDED"]
    stock = await Stock.get(variant_id=variant.id, warehouse__code="central")
    assert (stock.quantity, stock.reserved) == (5, 0)
    assert await StockMovement.filter(variant_id=variant.id, kind="RELEASE", reserved_delta=-2).count() == 1
    assert (await staff_call(client, staff, REFUND, {"id": order["id"]}))["userErrors"] == [
        {"code": "INVALID_TRANSITION"}
    ]


async def test_refund_of_a_paid_order(gql, client):
    staff = bearer(await token_for(Permission.MANAGE_ORDERS))
    variant = await make_variant()
    order = (await gql.data(CHECKOUT, {"t": await ready_cart(gql, [(variant.sku, 1)]), "p": PAID}))["checkoutComplete"][
        "order"
    ]
    refunded = await staff_call(client, staff, REFUND, {"id": order["id"]})
    assert refunded["order"]["status"] == "REFUNDED" and refunded["order"]["events"][-1]["kind"] == "REFUNDED"
    assert (await Stock.get(variant_id=variant.id, warehouse__code="central")).reserved == 0


async def test_customers_see_their_own_orders_and_staff_filter_all(gql, client):
    email = "orders.owner@example.com"
    if not await accounts.Account.filter(email=email).exists():
        await accounts.register_customer(email, "long enough password")
    me = bearer((await accounts.sign_in(email, "long enough password", SECRET)).access_token)
    variant = await make_variant()
    token = await ready_cart(gql, [(variant.sku, 1)], email=False, headers=me)  # the account's email
    order = (await gql.data(CHECKOUT, {"t": token, "p": PAID}))["checkoutComplete"]["order"]
    mine = (
        await client.post(
            "/graphql", headers=me, json={"query": "{ me { orders(first: 5) { edges { node { number email } } } } }"}
        )
    ).json()
    assert mine["data"]["me"]["orders"]["edges"][0]["node"] == {"number": order["number"], "email": email}

    staff = bearer(await token_for(Permission.MANAGE_ORDERS))
    query = "query($f: OrderFilter) { orders(filter: $f, first: 50) { edges { node { number status email } } } }"
    body = (
        await client.post(
            "/graphql", headers=staff, json={"query": query, "variables": {"f": {"email": email, "status": ["PAID"]}}}
        )
    ).json()
    numbers = [e["node"]["number"] for e in body["data"]["orders"]["edges"]]
    assert order["number"] in numbers and all(e["node"]["email"] == email for e in body["data"]["orders"]["edges"])


async def test_an_ordered_product_is_archived_not_deleted(gql, client):
    from models import Product, ProductStatus

    staff = bearer(await token_for(Permission.MANAGE_PRODUCTS))
    variant = await make_variant()
    await gql.data(CHECKOUT, {"t": await ready_cart(gql, [(variant.sku, 1)]), "p": PAID})
    product_id = encode_id("Product", variant.product_id)
    delete = "mutation($id: ID!) { productDelete(id: $id) { deletedId product { status } userErrors { code } } }"
    result = (
        await client.post("/graphql", headers=staff, json={"query": delete, "variables": {"id": product_id}})
    ).json()
    assert result["data"]["productDelete"] == {"deletedId": None, "product": {"status": "ARCHIVED"}, "userErrors": []}
    product = await Product.get(id=variant.product_id)
    assert product.status == ProductStatus.ARCHIVED
    await Product.filter(id=product.id).update(
        status=ProductStatus.ACTIVE
    )  # the Lab's shirt is shared with other tests
