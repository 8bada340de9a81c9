"""`node(id)` and `nodes(ids)` answer every type that implements Node, with that type's visibility.

The types are read from the schema, so a new Node type fails `test_every_node_type_as_each_caller`
until it has a case here (and a lookup in schema/node.py). Each object is asked for as its owner,
as another customer, anonymously, as staff holding every permission and as staff holding none:
what a caller may not see answers null with no error, exactly like an ID that names nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from graphql import GraphQLInterfaceType

from models import Cart, Order, OrderLine, Payment, Permission, ProductImage, ProductVariant, Shipment
from schema.ids import decode_id_of, encode_id
from tests.graphql_schema import GRAPHQL_SCHEMA
from tests.staff import bearer, token_for
from tests.test_checkout import CHECKOUT, PAID, make_variant, ready_cart
from tests.test_shipments import ship

CALLERS = ("owner", "other customer", "anonymous", "staff", "staff without permissions")
EVERYONE = frozenset(CALLERS)
STAFF = frozenset({"staff"})
OWNER_AND_STAFF = frozenset({"owner", "staff"})
NODE = "query($id: ID!) { node(id: $id) { __typename id } }"
NODES = "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }"


@dataclass
class World:
    """Objects of every Node type, by type name: (what it is, its global ID, who may see it)."""

    headers: dict[str, dict[str, str]]
    cases: dict[str, list[tuple[str, str, frozenset[str]]]] = field(default_factory=dict)

    def add(self, type_name: str, label: str, pk: int, seen_by: frozenset[str]) -> None:
        self.cases.setdefault(type_name, []).append((label, encode_id(type_name, pk), seen_by))


async def _customer_id(client, headers: dict[str, str]) -> int:
    body = (await client.post("/graphql", headers=headers, json={"query": "{ me { id } }"})).json()
    return decode_id_of(body["data"]["me"]["id"], "Customer")


async def _cart(client, headers: dict[str, str]) -> int:
    create = "mutation { cartCreate { cart { token } userErrors { code } } }"
    body = (await client.post("/graphql", headers=headers, json={"query": create})).json()
    return (await Cart.get(token=body["data"]["cartCreate"]["cart"]["token"])).id


async def _paid_order(gql, headers: dict[str, str]) -> Order:
    variant = await make_variant()
    token = await ready_cart(gql, [(variant.sku, 1)], email=not headers, headers=headers)
    placed = (await gql.data(CHECKOUT, {"t": token, "p": PAID}))["checkoutComplete"]["order"]
    return await Order.get(token=placed["token"])


@pytest.fixture(scope="module")
async def callers(db) -> dict[str, dict[str, str]]:
    """Each caller's headers; made once per backend (hashing a password takes about a second)."""
    return {
        "owner": bearer(await token_for(staff=False)),
        "other customer": bearer(await token_for(staff=False)),
        "anonymous": {},
        "staff": bearer(await token_for(*Permission)),
        "staff without permissions": bearer(await token_for()),
    }


async def _parcel(client, staff: dict[str, str], order: Order) -> int:
    line = await OrderLine.get(order_id=order.id)
    number = "NODE-" + uuid.uuid4().hex[:10].upper()
    lines = [{"orderLineId": encode_id("OrderLine", line.id), "quantity": 1}]
    assert (await ship(client, staff, encode_id("Order", order.id), lines, number=number))["userErrors"] == []
    return (await Shipment.get(tracking_number=number)).id


async def build_world(gql, client, db, headers: dict[str, dict[str, str]]) -> World:
    owner = headers["owner"]
    world = World(headers)

    active = db.data.products["Zephyr Linen Shirt"]
    draft = db.data.products["Hidden Draft Jacket"]
    world.add("Product", "an active product", active, EVERYONE)
    world.add("Product", "a draft", draft, STAFF)
    world.add("ProductVariant", "a variant of an active product", db.data.variants["ZEP-S"], EVERYONE)
    world.add("ProductVariant", "a variant of a draft", db.data.variants["HID-1"], STAFF)
    world.add("Image", "an active product's image", (await ProductImage.get(product_id=active)).id, EVERYONE)
    world.add("Image", "a draft's image", (await ProductImage.get(product_id=draft)).id, STAFF)
    world.add("Category", "a category", db.data.categories["Lab"], EVERYONE)

    world.add("Cart", "the owner's cart", await _cart(client, owner), frozenset({"owner"}))
    world.add("Cart", "a guest's cart (its token is what grants it)", await _cart(client, {}), frozenset())

    order = await _paid_order(gql, owner)
    guests = await _paid_order(gql, {})
    world.add("Order", "the owner's order", order.id, OWNER_AND_STAFF)
    world.add("Order", "a guest's order (its token is what grants it)", guests.id, STAFF)
    world.add("Payment", "the owner's order's payment", (await Payment.get(order_id=order.id)).id, OWNER_AND_STAFF)
    world.add("Payment", "a guest's order's payment", (await Payment.get(order_id=guests.id)).id, STAFF)

    parcel = await _parcel(client, headers["staff"], order)
    world.add("Shipment", "a parcel of the owner's order", parcel, OWNER_AND_STAFF)

    world.add("Customer", "the owner's account", await _customer_id(client, owner), OWNER_AND_STAFF)
    return world


def node_types() -> set[str]:
    node = GRAPHQL_SCHEMA.get_type("Node")
    assert isinstance(node, GraphQLInterfaceType)
    return {t.name for t in GRAPHQL_SCHEMA.get_implementations(node).objects}


async def _post(client, headers: dict[str, str], query: str, variables: dict[str, Any]) -> dict[str, Any]:
    body = (await client.post("/graphql", headers=headers, json={"query": query, "variables": variables})).json()
    assert not body.get("errors"), body
    return body["data"]


async def test_every_node_type_as_each_caller(gql, client, db, callers):
    world = await build_world(gql, client, db, callers)
    assert set(world.cases) == node_types(), "a type implements Node without a case here"
    assert {"Cart", "Order", "Customer", "Image", "Shipment"} <= node_types()

    for caller in CALLERS:
        headers = world.headers[caller]
        expected_list, ids = [], []
        for type_name, cases in world.cases.items():
            for label, gid, seen_by in cases:
                expected = {"__typename": type_name, "id": gid} if caller in seen_by else None
                got = (await _post(client, headers, NODE, {"id": gid}))["node"]
                assert got == expected, (type_name, label, caller)
                ids.append(gid)
                expected_list.append(expected)
            # An ID naming nothing answers exactly as an object the caller may not see.
            missing = encode_id(type_name, 2_000_000_000)
            assert (await _post(client, headers, NODE, {"id": missing}))["node"] is None, (type_name, caller)
        # All of them at once, in order, through `nodes`.
        assert (await _post(client, headers, NODES, {"ids": ids}))["nodes"] == expected_list, caller


async def test_the_owner_reads_their_private_objects_through_node(gql, client, callers):
    owner = callers["owner"]
    order = await _paid_order(gql, owner)
    cart = await _cart(client, owner)
    query = """query($ids: [ID!]!) { nodes(ids: $ids) {
      ... on Cart { token totalQuantity }
      ... on Order { number status lines { quantity } }
      ... on Customer { email }
    } }"""
    me = await _customer_id(client, owner)
    ids = [encode_id("Cart", cart), encode_id("Order", order.id), encode_id("Customer", me)]
    data = await _post(client, owner, query, {"ids": ids})
    assert data["nodes"] == [
        {"token": (await Cart.get(id=cart)).token, "totalQuantity": 0},
        {"number": order.number, "status": "PAID", "lines": [{"quantity": 1}]},
        {"email": order.email},
    ]


async def test_a_malformed_id_nulls_only_its_own_item(gql, db):
    product = encode_id("Product", db.data.products["Zephyr Linen Shirt"])
    body = await gql.post(
        "query($ids: [ID!]!) { nodes(ids: $ids) { id } categories(first: 1) { totalCount } }",
        {"ids": [product, "not-an-id", product]},
    )
    assert body["data"]["nodes"] == [{"id": product}, None, {"id": product}]
    assert body["data"]["categories"]["totalCount"] > 0
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [(["nodes", 1], "BAD_USER_INPUT")]


async def _statements(client, sql_counter, headers: dict[str, str], query: str, ids: list[str]) -> int:
    sql_counter.statements.clear()
    data = await _post(client, headers, query, {"ids": ids})
    assert None not in data["nodes"], data
    return len(sql_counter.statements)


async def test_many_ids_of_one_type_cost_the_statements_of_one(gql, client, sql_counter, callers):
    """Orders, their lines and parcels (and, for a customer, the parcels' orders to check who may
    see them): one statement per relation, whether `nodes` is given one ID or several."""
    owner = callers["owner"]
    orders, parcels = [], []
    for _ in range(3):
        order = await _paid_order(gql, owner)
        orders.append(encode_id("Order", order.id))
        parcels.append(encode_id("Shipment", await _parcel(client, callers["staff"], order)))

    order_query = "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Order { number lines { sku } shipments { id } } } }"
    one = await _statements(client, sql_counter, owner, order_query, orders[:1])
    assert await _statements(client, sql_counter, owner, order_query, orders) == one, sql_counter.statements

    parcel_query = "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Shipment { trackingNumber events { status } } } }"
    one = await _statements(client, sql_counter, owner, parcel_query, parcels[:1])
    assert await _statements(client, sql_counter, owner, parcel_query, parcels) == one, sql_counter.statements


async def test_variants_through_nodes_are_batched(gql, db, sql_counter):
    ids = [encode_id("ProductVariant", pk) for pk in db.data.variants.values()]
    query = "query($ids: [ID!]!) { nodes(ids: $ids) { ... on ProductVariant { sku } } }"
    visible = await ProductVariant.filter(product__status="ACTIVE", id__in=list(db.data.variants.values())).count()
    sql_counter.statements.clear()
    data = await gql.data(query, {"ids": ids})
    assert sum(node is not None for node in data["nodes"]) == visible
    # The variants, then their products (whether each is visible): two statements for any number.
    assert len(sql_counter.statements) == 2, sql_counter.statements
