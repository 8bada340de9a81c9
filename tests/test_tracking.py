"""Tracking events: kept in the order they happened, the status of the latest, delivered orders, public tracking."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from graphql import GraphQLObjectType

from models import OrderStatus, Permission, Shipment, ShipmentEvent, ShipmentStatus
from resolvers.orders import check_transition, status_from_parcels
from schema.ids import encode_id
from tests.graphql_schema import GRAPHQL_SCHEMA
from tests.staff import bearer, token_for
from tests.test_checkout import CHECKOUT, PAID, make_variant, ready_cart
from tests.test_orders import staff_call
from tests.test_shipments import ship

ADD = """mutation($s: ID!, $st: ShipmentStatus!, $d: String, $l: String, $at: DateTime, $eta: Date) {
  shipmentAddTrackingEvent(shipmentId: $s, status: $st, description: $d, location: $l, occurredAt: $at, estimatedDelivery: $eta) {
    shipment { status estimatedDelivery events { status description location occurredAt } } userErrors { field code message } } }"""
TRACK = """query($n: String!) { trackShipment(trackingNumber: $n) {
  id carrier trackingNumber trackingUrl status estimatedDelivery events { status description location occurredAt } } }"""


def at(hours_ago: float) -> str:
    return (datetime.now(UTC) - timedelta(hours=hours_ago)).isoformat()


async def shipped_order(gql, client, staff, parts: list[int]) -> tuple[dict, list[str]]:
    """A paid order of sum(parts) units of one variant, shipped in len(parts) parcels a day ago; their shipment ids."""
    variant = await make_variant()
    order = (await gql.data(CHECKOUT, {"t": await ready_cart(gql, [(variant.sku, sum(parts))]), "p": PAID}))[
        "checkoutComplete"
    ]["order"]
    line = (await gql.data("query($t: ID!) { order(token: $t) { lines { id } } }", {"t": order["token"]}))["order"][
        "lines"
    ][0]
    ids = []
    for quantity in parts:
        number = "TRK-" + uuid.uuid4().hex[:10].upper()
        result = await ship(
            client, staff, order["id"], [{"orderLineId": line["id"], "quantity": quantity}], number=number
        )
        assert result["userErrors"] == []
        await ShipmentEvent.filter(shipment__tracking_number=number).update(
            occurred_at=datetime.now(UTC) - timedelta(days=1)
        )
        ids.append((await gql.data(TRACK, {"n": number}))["trackShipment"]["id"])
    return order, ids


async def test_events_are_kept_in_time_order_and_the_latest_sets_the_status(gql, client):
    staff = bearer(await token_for(Permission.MANAGE_SHIPMENTS))
    _, [shipment] = await shipped_order(gql, client, staff, [1])
    out = await staff_call(
        client, staff, ADD, {"s": shipment, "st": "OUT_FOR_DELIVERY", "at": at(1), "l": "Berlin, DE"}
    )
    assert out["userErrors"] == [] and out["shipment"]["status"] == "OUT_FOR_DELIVERY"
    # Reported late: it happened before the last one, so it is filed before it and changes no status.
    late = await staff_call(
        client, staff, ADD, {"s": shipment, "st": "IN_TRANSIT", "at": at(5), "d": "Departed hub", "l": "Leipzig, DE"}
    )
    assert late["shipment"]["status"] == "OUT_FOR_DELIVERY"
    events = late["shipment"]["events"]
    assert [e["status"] for e in events] == ["LABEL_CREATED", "IN_TRANSIT", "OUT_FOR_DELIVERY"]
    assert events[1] == {
        "status": "IN_TRANSIT",
        "description": "Departed hub",
        "location": "Leipzig, DE",
        "occurredAt": events[1]["occurredAt"],
    }
    times = [datetime.fromisoformat(e["occurredAt"]) for e in events]
    assert times == sorted(times)
    failed = await staff_call(client, staff, ADD, {"s": shipment, "st": "FAILED_ATTEMPT", "eta": "2030-01-02"})
    assert failed["shipment"]["status"] == "FAILED_ATTEMPT" and failed["shipment"]["estimatedDelivery"] == "2030-01-02"


async def test_an_order_is_delivered_when_its_last_parcel_is(gql, client, db):
    staff = bearer(await token_for(Permission.MANAGE_SHIPMENTS))
    order, [first, second] = await shipped_order(gql, client, staff, [1, 2])
    status = "query($t: ID!) { order(token: $t) { status events { kind } } }"
    await staff_call(client, staff, ADD, {"s": first, "st": "DELIVERED"})
    assert (await gql.data(status, {"t": order["token"]}))["order"]["status"] == "SHIPPED"
    await staff_call(client, staff, ADD, {"s": second, "st": "DELIVERED"})
    delivered = (await gql.data(status, {"t": order["token"]}))["order"]
    assert delivered["status"] == "DELIVERED" and delivered["events"][-1]["kind"] == "DELIVERED"
    # A report filed late, of something before the delivery, changes neither the parcel nor the order.
    await staff_call(client, staff, ADD, {"s": second, "st": "IN_TRANSIT", "at": at(2)})
    assert (await gql.data(status, {"t": order["token"]}))["order"]["status"] == "DELIVERED"


async def test_a_delivered_order_follows_a_parcel_that_moves_again(gql, client):
    staff = bearer(await token_for(Permission.MANAGE_SHIPMENTS))
    order, [first, second] = await shipped_order(gql, client, staff, [1, 1])
    status = "query($t: ID!) { order(token: $t) { status events { kind message } } }"
    for shipment in (first, second):
        await staff_call(client, staff, ADD, {"s": shipment, "st": "DELIVERED", "at": at(5)})
    assert (await gql.data(status, {"t": order["token"]}))["order"]["status"] == "DELIVERED"
    hours_ago = 5
    for moved in ("RETURNED", "IN_TRANSIT"):
        hours_ago -= 1
        await staff_call(client, staff, ADD, {"s": second, "st": moved, "at": at(hours_ago)})
        followed = (await gql.data(status, {"t": order["token"]}))["order"]
        assert followed["status"] == "SHIPPED" and followed["events"][-1]["kind"] == "SHIPPED", moved
        hours_ago -= 1
        await staff_call(client, staff, ADD, {"s": second, "st": "DELIVERED", "at": at(hours_ago)})
        assert (await gql.data(status, {"t": order["token"]}))["order"]["status"] == "DELIVERED"
    kinds = [e["kind"] for e in (await gql.data(status, {"t": order["token"]}))["order"]["events"]]
    assert kinds[-5:] == ["DELIVERED", "SHIPPED", "DELIVERED", "SHIPPED", "DELIVERED"]


@pytest.mark.parametrize(
    "current, parcels, expected",
    [
        ("SHIPPED", ["DELIVERED", "DELIVERED"], "DELIVERED"),
        ("SHIPPED", ["DELIVERED", "OUT_FOR_DELIVERY"], "SHIPPED"),
        ("DELIVERED", ["DELIVERED", "RETURNED"], "SHIPPED"),
        ("DELIVERED", ["IN_TRANSIT"], "SHIPPED"),
        ("DELIVERED", ["DELIVERED"], "DELIVERED"),
        ("PARTIALLY_SHIPPED", ["DELIVERED"], "PARTIALLY_SHIPPED"),  # the rest has not shipped
        ("PAID", [], "PAID"),
        ("CANCELLED", ["DELIVERED"], "CANCELLED"),
        ("REFUNDED", ["DELIVERED"], "REFUNDED"),
        ("REFUNDED", ["RETURNED"], "REFUNDED"),
    ],
)
def test_status_from_parcels(current, parcels, expected):
    result = status_from_parcels(OrderStatus(current), [ShipmentStatus(p) for p in parcels])
    assert result == OrderStatus(expected)
    if result != current:
        check_transition(OrderStatus(current), result)  # the rule only asks for allowed transitions


async def test_a_partly_shipped_order_is_not_delivered_by_its_first_parcel(gql, client):
    staff = bearer(await token_for(Permission.MANAGE_SHIPMENTS))
    variant = await make_variant()
    order = (await gql.data(CHECKOUT, {"t": await ready_cart(gql, [(variant.sku, 2)]), "p": PAID}))["checkoutComplete"][
        "order"
    ]
    line = (await gql.data("query($t: ID!) { order(token: $t) { lines { id } } }", {"t": order["token"]}))["order"][
        "lines"
    ][0]
    number = "TRK-" + uuid.uuid4().hex[:10].upper()
    await ship(client, staff, order["id"], [{"orderLineId": line["id"], "quantity": 1}], number=number)
    shipment = (await gql.data(TRACK, {"n": number}))["trackShipment"]["id"]
    await staff_call(client, staff, ADD, {"s": shipment, "st": "DELIVERED"})
    assert (await gql.data("query($t: ID!) { order(token: $t) { status } }", {"t": order["token"]}))["order"][
        "status"
    ] == "PARTIALLY_SHIPPED"


async def test_bad_reports_change_nothing(gql, client):
    staff = bearer(await token_for(Permission.MANAGE_SHIPMENTS))
    _, [shipment] = await shipped_order(gql, client, staff, [1])
    before = await ShipmentEvent.all().count()
    future = await staff_call(client, staff, ADD, {"s": shipment, "st": "DELIVERED", "at": at(-3)})
    assert future == {
        "shipment": None,
        "userErrors": [{"field": ["occurredAt"], "code": "INVALID", "message": future["userErrors"][0]["message"]}],
    }
    naive = await staff_call(client, staff, ADD, {"s": shipment, "st": "DELIVERED", "at": "2026-11-01T10:00:00"})
    assert naive["userErrors"][0]["field"] == ["occurredAt"]
    long = await staff_call(client, staff, ADD, {"s": shipment, "st": "IN_TRANSIT", "d": "x" * 501})
    assert long["userErrors"][0]["field"] == ["description"]
    missing = await staff_call(client, staff, ADD, {"s": encode_id("Shipment", 10**9), "st": "IN_TRANSIT"})
    assert missing["userErrors"][0]["code"] == "NOT_FOUND"
    assert await ShipmentEvent.all().count() == before
    assert (await Shipment.all().order_by("-id").first()).status == "LABEL_CREATED"


async def test_public_tracking_shows_the_parcel_and_nothing_personal(gql, client):
    staff = bearer(await token_for(Permission.MANAGE_SHIPMENTS))
    _, [shipment_id] = await shipped_order(gql, client, staff, [1])
    shipment = await Shipment.all().order_by("-id").first()
    tracked = (await gql.data(TRACK, {"n": shipment.tracking_number}))["trackShipment"]
    assert tracked["id"] == shipment_id and tracked["carrier"] == "dhl" and tracked["status"] == "LABEL_CREATED"
    assert tracked["trackingUrl"].endswith(shipment.tracking_number)
    # The estimate is the shipping method's slowest promise, from the day it shipped.
    assert tracked["estimatedDelivery"] is not None
    assert (await gql.data(TRACK, {"n": "NO-SUCH-NUMBER"}))["trackShipment"] is None
    # Anonymous callers reach only these fields: no order, address, name or email can be selected.
    graphql_type = GRAPHQL_SCHEMA.type_map["Shipment"]
    assert isinstance(graphql_type, GraphQLObjectType)
    assert set(graphql_type.fields) == {
        "id",
        "carrier",
        "trackingNumber",
        "trackingUrl",
        "status",
        "estimatedDelivery",
        "events",
    }
    assert set(GRAPHQL_SCHEMA.type_map["ShipmentEvent"].fields) == {"status", "description", "location", "occurredAt"}


async def test_only_shipping_staff_add_events(gql, client):
    staff = bearer(await token_for(Permission.MANAGE_SHIPMENTS))
    _, [shipment] = await shipped_order(gql, client, staff, [1])
    orders_only = bearer(await token_for(Permission.MANAGE_ORDERS))
    body = (
        await client.post(
            "/graphql", headers=orders_only, json={"query": ADD, "variables": {"s": shipment, "st": "DELIVERED"}}
        )
    ).json()
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
