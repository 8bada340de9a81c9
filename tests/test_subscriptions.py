"""Subscriptions over a real WebSocket, both protocols: current state first, then committed changes only.

The server is uvicorn in the test's event loop with the in-process bus; tests/test_live_workers.py
proves the same across two worker processes through Redis.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import uuid

import pytest
from starlette.websockets import WebSocket
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from tortoise.expressions import F
from websockets.exceptions import ConnectionClosed

from gateway.app import create_app
from gateway.settings import load_settings
from models import Order, Permission
from resolvers import accounts
from schema import live
from tests.cache_client import metric
from tests.live import LEGACY_WS, TRANSPORT_WS, GraphQLWebSocket, serve_in_loop
from tests.staff import SECRET, bearer, token_for
from tests.test_checkout import CHECKOUT, PAID, make_variant, ready_cart
from tests.test_orders import CANCEL, MARK_PAID, REFUND, staff_call
from tests.test_shipments import ship

STATUS = "subscription($t: ID!) { orderStatusChanged(orderToken: $t) { number status } }"
MINE = "subscription { myOrderUpdates { number status } }"
ALL = "subscription { orderEvents { number status shipments { trackingNumber } } }"
PARCEL = "subscription($n: String!) { shipmentUpdated(trackingNumber: $n) { trackingNumber status events { status } } }"


@pytest.fixture
async def url(app):
    async with serve_in_loop(app) as ws_url:
        yield ws_url


async def place(gql, *, paid: bool = False, headers: dict[str, str] | None = None) -> dict:
    variant = await make_variant()
    cart = await ready_cart(gql, [(variant.sku, 2)], email=headers is None, headers=headers)
    payment = PAID if paid else {"provider": "manual"}
    return (await gql.data(CHECKOUT, {"t": cart, "p": payment}))["checkoutComplete"]["order"]


async def customer() -> tuple[str, str]:
    email = f"live.{uuid.uuid4().hex[:8]}@example.com"
    await accounts.register_customer(email, "long enough password")
    return email, (await accounts.sign_in(email, "long enough password", SECRET)).access_token


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_the_token_holder_sees_each_status_change_once(url, gql, client, protocol):
    order = await place(gql)
    staff = bearer(await token_for(Permission.MANAGE_ORDERS))
    async with GraphQLWebSocket.open(url, protocol=protocol) as ws:
        await ws.subscribe(STATUS, {"t": order["token"]})
        assert await ws.next_data() == {"orderStatusChanged": {"number": order["number"], "status": "PLACED"}}
        await staff_call(client, staff, MARK_PAID, {"id": order["id"]})
        assert (await ws.next_data())["orderStatusChanged"]["status"] == "PAID"
        readings = (await client.get("/metrics")).text
        assert (
            metric(readings, "gateway_subscriptions") >= 1 and metric(readings, "gateway_events_delivered_total") >= 1
        )
        # Cancelling a paid order records two events (cancelled, refunded) in one transaction: one message.
        await staff_call(client, staff, CANCEL, {"id": order["id"]})
        assert (await ws.next_data())["orderStatusChanged"]["status"] == "CANCELLED"
        await ws.nothing_more()


async def test_a_refused_change_publishes_nothing(url, gql, client):
    order = await place(gql)
    staff = bearer(await token_for(Permission.MANAGE_ORDERS))
    async with GraphQLWebSocket.open(url) as ws:
        await ws.subscribe(STATUS, {"t": order["token"]})
        await ws.next_data()
        # A refused transition reaches no subscriber (tests/test_outbox.py: nor does a rollback).
        assert (await staff_call(client, staff, REFUND, {"id": order["id"]}))["userErrors"] == [
            {"code": "INVALID_TRANSITION"}
        ]
        await ws.nothing_more()


async def test_subscribers_without_the_right_get_an_error(url, gql):
    _email, token = await customer()
    async with GraphQLWebSocket.open(url) as anonymous:
        await anonymous.subscribe(ALL)
        refused = await anonymous.receive()
        assert refused["type"] == "next" and refused["payload"]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert (await anonymous.receive())["type"] == "complete"
        await anonymous.subscribe(MINE)
        assert (await anonymous.receive())["payload"]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert (await anonymous.receive())["type"] == "complete"
        await anonymous.subscribe(STATUS, {"t": "not-a-token"})
        assert (await anonymous.receive())["payload"]["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    async with GraphQLWebSocket.open(url, payload=bearer(token)) as signed_in:
        await signed_in.subscribe(ALL)
        assert (await signed_in.receive())["payload"]["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_customer_follows_their_own_orders_only(url, gql, client):
    _email, token = await customer()
    open_order = await place(gql, headers=bearer(token))
    staff = bearer(await token_for(Permission.MANAGE_ORDERS))
    async with GraphQLWebSocket.open(url, payload=bearer(token)) as ws:
        await ws.subscribe(MINE)
        # Current state first: the open order.
        assert await ws.next_data() == {"myOrderUpdates": {"number": open_order["number"], "status": "PLACED"}}
        someone_else = await place(gql)
        await staff_call(client, staff, MARK_PAID, {"id": someone_else["id"]})
        second = await place(gql, paid=True, headers=bearer(token))
        assert await ws.next_data() == {"myOrderUpdates": {"number": second["number"], "status": "PAID"}}
        await staff_call(client, staff, CANCEL, {"id": open_order["id"]})
        assert await ws.next_data() == {"myOrderUpdates": {"number": open_order["number"], "status": "CANCELLED"}}
        await ws.nothing_more()


async def test_staff_follow_every_order_including_new_shipments(url, gql, client):
    staff_token = await token_for(Permission.MANAGE_ORDERS, Permission.MANAGE_SHIPMENTS)
    async with GraphQLWebSocket.open(url, payload=bearer(staff_token)) as ws:
        await ws.subscribe(ALL)
        await ws.nothing_more(0.2)  # nothing is sent first
        order = await place(gql, paid=True)
        assert await ws.next_data() == {"orderEvents": {"number": order["number"], "status": "PAID", "shipments": []}}
        lines = (await gql.data("query($t: ID!) { order(token: $t) { lines { id } } }", {"t": order["token"]}))[
            "order"
        ]["lines"]
        shipped = await ship(
            client, bearer(staff_token), order["id"], [{"orderLineId": lines[0]["id"], "quantity": 1}], number="LIVE-1"
        )
        assert shipped["userErrors"] == []
        update = (await ws.next_data())["orderEvents"]
        assert update == {
            "number": order["number"],
            "status": "PARTIALLY_SHIPPED",
            "shipments": [{"trackingNumber": "LIVE-1"}],
        }
        await ws.nothing_more()


async def test_a_long_lived_order_stream_remembers_a_bounded_number_of_orders(url, gql, client, monkeypatch):
    # orderEvents sees every order: what it remembers having sent must not grow with each one.
    streams: list[live.Sent] = []

    class Recorded(live.Sent):
        def __init__(self, max_rows: int) -> None:
            super().__init__(max_rows)
            streams.append(self)

    monkeypatch.setattr(live, "MAX_REMEMBERED_ROWS", 2)
    monkeypatch.setattr(live, "Sent", Recorded)
    async with GraphQLWebSocket.open(url, payload=bearer(await token_for(Permission.MANAGE_ORDERS))) as ws:
        await ws.subscribe(ALL)
        await ws.nothing_more(0.2)
        for _ in range(4):
            order = await place(gql, paid=True)
            assert (await ws.next_data())["orderEvents"]["number"] == order["number"]
        assert [len(stream) for stream in streams] == [2]


async def test_a_closed_connection_is_freed_without_waiting_for_a_collection(url, gql):
    # Kept in a reference cycle, every closed connection (socket, buffers, compression state)
    # waited for a full collection, which the tuned collector makes rare: the soak's memory grew.
    order = await place(gql)

    def sockets() -> int:
        return sum(type(o) is WebSocket for o in gc.get_objects())

    gc.collect()
    gc.disable()
    try:
        for _ in range(3):
            async with GraphQLWebSocket.open(url) as ws:
                await ws.subscribe(STATUS, {"t": order["token"]})
                assert (await ws.next_data())["orderStatusChanged"]["status"] == "PLACED"
        for _ in range(100):  # the server finishes closing on its own time
            if sockets() == 0:
                break
            await asyncio.sleep(0.05)
        assert sockets() == 0
    finally:
        gc.enable()


async def test_a_parcel_is_followed_by_its_tracking_number(url, gql, client):
    staff = bearer(await token_for(Permission.MANAGE_SHIPMENTS))
    order = await place(gql, paid=True)
    lines = (await gql.data("query($t: ID!) { order(token: $t) { lines { id quantity } } }", {"t": order["token"]}))[
        "order"
    ]["lines"]
    number = "PARCEL-" + uuid.uuid4().hex[:8].upper()
    await ship(client, staff, order["id"], [{"orderLineId": lines[0]["id"], "quantity": 2}], number=number)
    shipment_id = (await gql.data("query($n: String!) { trackShipment(trackingNumber: $n) { id } }", {"n": number}))[
        "trackShipment"
    ]["id"]
    add = """mutation($s: ID!, $st: ShipmentStatus!, $at: DateTime) {
      shipmentAddTrackingEvent(shipmentId: $s, status: $st, occurredAt: $at) { userErrors { code } } }"""
    async with GraphQLWebSocket.open(url, protocol=LEGACY_WS) as ws:
        await ws.subscribe(PARCEL, {"n": number})
        first = (await ws.next_data())["shipmentUpdated"]
        assert first == {"trackingNumber": number, "status": "LABEL_CREATED", "events": [{"status": "LABEL_CREATED"}]}
        await staff_call(client, staff, add, {"s": shipment_id, "st": "IN_TRANSIT"})
        assert (await ws.next_data())["shipmentUpdated"]["status"] == "IN_TRANSIT"
        await staff_call(client, staff, add, {"s": shipment_id, "st": "DELIVERED"})
        delivered = (await ws.next_data())["shipmentUpdated"]
        assert delivered["status"] == "DELIVERED" and [e["status"] for e in delivered["events"]] == [
            "LABEL_CREATED",
            "IN_TRANSIT",
            "DELIVERED",
        ]
        await ws.nothing_more()


async def test_connection_limits(db):
    app = create_app(
        load_settings(
            {"DATABASE_URL": db.url, "RATE_LIMIT_PER_SECOND": "0", "WS_MAX_SUBSCRIPTIONS": "2", "WS_INIT_TIMEOUT": "1"}
        )
    )
    async with serve_in_loop(app) as url:
        async with GraphQLWebSocket.open(url) as ws:
            for _ in range(2):
                await ws.subscribe(PARCEL, {"n": "NO-SUCH-PARCEL"})
            await ws.subscribe(PARCEL, {"n": "NO-SUCH-PARCEL"})
            refused = await ws.receive()
            assert refused["type"] == "error" and refused["payload"][0]["message"] == "Subscription limit reached"
        # A client that never sends connection_init is disconnected after WS_INIT_TIMEOUT.
        for protocol in (TRANSPORT_WS, LEGACY_WS):
            async with GraphQLWebSocket.open(url, protocol=protocol, init=False) as silent:
                with pytest.raises(ConnectionClosed) as closed:
                    await silent.receive(timeout=5)
                assert closed.value.rcvd.code == 4408


async def test_after_lost_events_subscribers_get_the_current_state(url, app, gql):
    order = await place(gql)
    staff_token = await token_for(Permission.MANAGE_ORDERS)
    async with (
        GraphQLWebSocket.open(url) as follower,
        GraphQLWebSocket.open(url, payload=bearer(staff_token)) as dashboard,
    ):
        await follower.subscribe(STATUS, {"t": order["token"]})
        assert (await follower.next_data())["orderStatusChanged"]["status"] == "PLACED"
        await dashboard.subscribe(ALL)
        await dashboard.nothing_more(0.2)
        # A change whose event never arrived (Redis was down, or the subscriber fell behind) ...
        await Order.filter(token=order["token"]).update(status="PAID", version=F("version") + 1)
        app.state.events.resync_all()
        # ... is caught up from the current state; the all-orders stream says events were lost.
        assert (await follower.next_data())["orderStatusChanged"]["status"] == "PAID"
        lost = await dashboard.receive()
        assert lost["type"] == "next" and lost["payload"]["errors"][0]["extensions"]["code"] == "EVENTS_LOST"
        assert (await dashboard.receive())["type"] == "complete"
        await follower.nothing_more()


async def test_an_event_is_executed_once_per_distinct_viewer_and_query(url, gql, client, monkeypatch):
    order = await place(gql)
    staff_token = await token_for(Permission.MANAGE_ORDERS)
    query = "subscription($t: ID!) { orderStatusChanged(orderToken: $t) { status events { kind actor } } }"
    executions = []
    execute = StrawberryGraphQLCoreExecutionContext.execute_operation

    def counted(self, serially=None):
        if self._share is not None:
            executions.append(self._share[1][3])  # the credentials part of the key
        return execute(self, serially)

    monkeypatch.setattr(StrawberryGraphQLCoreExecutionContext, "execute_operation", counted)
    async with (
        GraphQLWebSocket.open(url) as first,
        GraphQLWebSocket.open(url) as second,
        GraphQLWebSocket.open(url, payload=bearer(staff_token)) as staff,
    ):
        for ws in (first, second, staff):
            await ws.subscribe(query, {"t": order["token"]})
            await ws.next_data()
        await staff_call(client, bearer(staff_token), MARK_PAID, {"id": order["id"]})
        shoppers = [(await ws.next_data())["orderStatusChanged"] for ws in (first, second)]
        seen_by_staff = (await staff.next_data())["orderStatusChanged"]
    assert shoppers[0] == shoppers[1] and shoppers[0]["status"] == "PAID"
    # Who did it is shown to staff only: the two audiences got different results ...
    assert shoppers[0]["events"][-1]["actor"] is None and seen_by_staff["events"][-1]["actor"] is not None
    # ... from one execution each: the two shoppers shared theirs.
    assert sorted(executions, key=str) == sorted([None, staff_token], key=str)


async def test_a_subscriber_leaving_mid_event_does_not_cancel_the_others(url, gql, client, monkeypatch):
    order = await place(gql)
    staff = bearer(await token_for(Permission.MANAGE_ORDERS))
    execute = StrawberryGraphQLCoreExecutionContext.execute_operation

    def slow(self, serially=None):
        result = execute(self, serially)
        if self._share is None:
            return result

        async def later():
            await asyncio.sleep(0.3)  # long enough for the first subscriber to disconnect
            return await result if inspect.isawaitable(result) else result

        return later()

    monkeypatch.setattr(StrawberryGraphQLCoreExecutionContext, "execute_operation", slow)
    async with GraphQLWebSocket.open(url) as staying:
        await staying.subscribe(STATUS, {"t": order["token"]})
        await staying.next_data()
        async with GraphQLWebSocket.open(url) as leaving:
            await leaving.subscribe(STATUS, {"t": order["token"]})
            await leaving.next_data()
            await staff_call(client, staff, MARK_PAID, {"id": order["id"]})
            await asyncio.sleep(0.05)  # the event is being executed for both ...
        # ... and one of them has gone: the other still gets it.
        assert (await staying.next_data())["orderStatusChanged"]["status"] == "PAID"


SET_PERMISSIONS = """mutation($s: ID!, $p: [Permission!]!) {
  staffPermissionsSet(staffId: $s, permissions: $p) { staff { permissions } userErrors { code } } }"""


async def refused_with(ws: GraphQLWebSocket, code: str) -> None:
    """The subscription ends: an error with `code`, then `complete`, then nothing."""
    refusal = await ws.receive()
    assert refusal["type"] == "next" and refusal["payload"]["errors"][0]["extensions"]["code"] == code, refusal
    assert (await ws.receive())["type"] == "complete"


async def test_a_right_taken_away_ends_the_staff_stream(url, gql, client):
    staff_token = await token_for(Permission.MANAGE_ORDERS)
    admin = bearer(await token_for(Permission.MANAGE_STAFF))
    staff_id = (await client.post("/graphql", json={"query": "{ me { id } }"}, headers=bearer(staff_token))).json()[
        "data"
    ]["me"]["id"]
    async with GraphQLWebSocket.open(url, payload=bearer(staff_token)) as ws:
        await ws.subscribe(ALL)
        first = await place(gql, paid=True)
        assert (await ws.next_data())["orderEvents"]["number"] == first["number"]
        taken = await staff_call(client, admin, SET_PERMISSIONS, {"s": staff_id, "p": []})
        assert taken == {"staff": {"permissions": []}, "userErrors": []}
        await place(gql, paid=True)  # an order with an email and an address this staff member may no longer see
        await refused_with(ws, "FORBIDDEN")
        await place(gql, paid=True)
        await ws.nothing_more()


async def test_a_signed_out_session_stops_streaming_at_once(url, gql, client):
    from tests.test_accounts import REVOKE, TOKEN

    email, _ = await customer()
    tokens = (await gql.data(TOKEN, {"email": email, "password": "long enough password"}))["tokenCreate"]
    staff = bearer(await token_for(Permission.MANAGE_ORDERS))
    order = await place(gql, headers=bearer(tokens["accessToken"]))
    async with GraphQLWebSocket.open(url, payload=bearer(tokens["accessToken"])) as ws:
        await ws.subscribe(MINE)
        assert (await ws.next_data())["myOrderUpdates"]["number"] == order["number"]
        assert (await gql.data(REVOKE, {"t": tokens["refreshToken"]}))["tokenRevoke"]["revoked"] is True
        await staff_call(client, staff, MARK_PAID, {"id": order["id"]})
        await refused_with(ws, "UNAUTHENTICATED")
        await staff_call(client, staff, CANCEL, {"id": order["id"]})
        await ws.nothing_more()


async def test_an_expired_token_ends_the_stream_when_it_expires(db, gql):
    import httpx

    from tests.test_accounts import TOKEN

    email, lasting = await customer()
    order = await place(gql, headers=bearer(lasting))
    app = create_app(load_settings({"DATABASE_URL": db.url, "RATE_LIMIT_PER_SECOND": "0", "ACCESS_TOKEN_TTL": "3"}))
    async with (
        serve_in_loop(app) as url,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway.test") as http,
    ):
        signed_in = (
            await http.post(
                "/graphql", json={"query": TOKEN, "variables": {"email": email, "password": "long enough password"}}
            )
        ).json()
        short_lived = signed_in["data"]["tokenCreate"]["accessToken"]  # valid for two to three seconds
        async with GraphQLWebSocket.open(url, payload=bearer(short_lived)) as ws:
            await ws.subscribe(MINE)
            assert (await ws.next_data())["myOrderUpdates"]["number"] == order["number"]
            # No event needed: the subscription ends when the token does.
            await refused_with(ws, "UNAUTHENTICATED")
            staff = bearer(await token_for(Permission.MANAGE_ORDERS))
            await staff_call(http, staff, MARK_PAID, {"id": order["id"]})
            await ws.nothing_more()
