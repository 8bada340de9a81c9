"""Shipping an order in parts: reserved stock becomes sold, the order's status follows."""

from __future__ import annotations

import uuid

from models import OrderLine, Permission, Shipment, Stock, StockMovement
from schema.ids import encode_id
from tests.staff import bearer, token_for
from tests.test_checkout import CHECKOUT, PAID, make_variant, ready_cart

SHIP = """mutation($o: ID!, $l: [ShipmentLineInput!]!, $c: String!, $n: String!) {
  shipmentCreate(orderId: $o, lines: $l, carrier: $c, trackingNumber: $n) {
    shipment { carrier trackingNumber trackingUrl status } userErrors { field code } } }"""


async def ship(client, headers, order_id, lines, carrier="dhl", number=None):
    variables = {"o": order_id, "l": lines, "c": carrier, "n": number or uuid.uuid4().hex[:12].upper()}
    body = (await client.post("/graphql", headers=headers, json={"query": SHIP, "variables": variables})).json()
    assert not body.get("errors"), body
    return body["data"]["shipmentCreate"]


async def test_two_part_shipment_turns_reservations_into_sales(gql, client):
    staff = bearer(await token_for(Permission.MANAGE_SHIPMENTS))
    variant = await make_variant()
    order = (await gql.data(CHECKOUT, {"t": await ready_cart(gql, [(variant.sku, 3)]), "p": PAID}))["checkoutComplete"][
        "order"
    ]
    line = await OrderLine.get(order__number=order["number"])
    line_id = encode_id("OrderLine", line.id)

    first = await ship(
        client, staff, order["id"], [{"orderLineId": line_id, "quantity": 2}], number="PART1-" + uuid.uuid4().hex[:6]
    )
    assert first["userErrors"] == [] and first["shipment"]["status"] == "LABEL_CREATED"
    assert first["shipment"]["trackingUrl"].startswith("https://www.dhl.com/")
    stock = await Stock.get(variant_id=variant.id, warehouse__code="central")
    assert (stock.quantity, stock.reserved) == (3, 1)
    status = (
        await gql.data(
            "query($t: ID!) { order(token: $t) { status shipments { trackingNumber } lines { quantityShipped } } }",
            {"t": order["token"]},
        )
    )["order"]
    assert (
        status["status"] == "PARTIALLY_SHIPPED"
        and status["lines"] == [{"quantityShipped": 2}]
        and len(status["shipments"]) == 1
    )

    too_many = await ship(client, staff, order["id"], [{"orderLineId": line_id, "quantity": 2}])
    assert too_many == {
        "shipment": None,
        "userErrors": [{"field": ["lines", "0", "quantity"], "code": "INVALID_QUANTITY"}],
    }
    duplicate = await ship(
        client,
        staff,
        order["id"],
        [{"orderLineId": line_id, "quantity": 1}],
        number=first["shipment"]["trackingNumber"],
    )
    assert duplicate["userErrors"] == [{"field": ["trackingNumber"], "code": "DUPLICATE"}]

    second = await ship(client, staff, order["id"], [{"orderLineId": line_id, "quantity": 1}], carrier="ups")
    assert second["userErrors"] == []
    stock = await Stock.get(variant_id=variant.id, warehouse__code="central")
    assert (stock.quantity, stock.reserved) == (2, 0)
    assert await StockMovement.filter(variant_id=variant.id, kind="SALE").count() == 2
    final = (await gql.data("query($t: ID!) { order(token: $t) { status events { kind } } }", {"t": order["token"]}))[
        "order"
    ]
    assert final["status"] == "SHIPPED" and [e["kind"] for e in final["events"]][-2:] == [
        "PARTIALLY_SHIPPED",
        "SHIPPED",
    ]
    assert await Shipment.filter(order__number=order["number"]).count() == 2


async def test_unpaid_or_cancelled_orders_do_not_ship(gql, client):
    staff = bearer(await token_for(Permission.MANAGE_SHIPMENTS))
    variant = await make_variant()
    order = (await gql.data(CHECKOUT, {"t": await ready_cart(gql, [(variant.sku, 1)]), "p": {"provider": "manual"}}))[
        "checkoutComplete"
    ]["order"]
    line = await OrderLine.get(order__number=order["number"])
    refused = await ship(client, staff, order["id"], [{"orderLineId": encode_id("OrderLine", line.id), "quantity": 1}])
    assert refused["userErrors"] == [{"field": ["orderId"], "code": "INVALID_TRANSITION"}]
    assert (await Stock.get(variant_id=variant.id, warehouse__code="central")).reserved == 1
