"""The whole journey live, across processes: uvicorn with 2 workers and the Redis bus.

Every subscriber is connected to one worker and every change is made through the other (the test
finds which worker holds each connection from /proc), so each event crosses Redis. Place an order,
mark it paid, ship it in two parts, report the parcels through the carrier webhook until both are
delivered: each subscriber receives exactly the expected states, in order, and nothing else.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import uuid
from contextlib import AsyncExitStack
from datetime import UTC, datetime

import httpx
import pytest

from models import Permission
from tests.conftest import GraphQLClient
from tests.live import LEGACY_WS, GraphQLWebSocket, client_on_worker, uvicorn_workers, ws_on_worker
from tests.staff import bearer, token_for
from tests.test_checkout import CHECKOUT, make_variant, ready_cart
from tests.test_orders import MARK_PAID
from tests.test_shipments import SHIP
from tests.test_subscriptions import ALL, MINE, PARCEL, STATUS, customer

pytestmark = pytest.mark.slow  # real uvicorn workers: `make test-fast` skips them

SECRET = "journey-carrier-secret-0123456789"


@pytest.fixture
async def workers(db, redis_url):
    if db.name != "postgres":
        pytest.skip("the multi-process journey runs on PostgreSQL (SQLite is one process's file)")
    env = {"DATABASE_URL": db.url, "REDIS_URL": redis_url, "CARRIER_WEBHOOK_SECRETS": f"dhl={SECRET}"}
    async with uvicorn_workers(env, workers=2) as served:
        yield served


class HTTPOnWorker:
    """A keep-alive HTTP connection known to be served by a given worker."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    @classmethod
    async def connect(cls, base: str, worker: int, workers: list[int], stack: AsyncExitStack) -> HTTPOnWorker:
        return cls(await client_on_worker(base, worker, workers, stack))

    async def call(self, query: str, variables: dict, headers: dict[str, str] | None = None) -> dict:
        body = (
            await self.client.post("/graphql", json={"query": query, "variables": variables}, headers=headers or {})
        ).json()
        assert not body.get("errors"), body
        return next(iter(body["data"].values()))

    async def webhook(self, event: dict) -> dict:
        body = json.dumps(event).encode()
        signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        response = await self.client.post("/webhooks/carriers/dhl", content=body, headers={"X-Signature": signature})
        assert response.status_code == 200, response.text
        return response.json()


async def expect(ws: GraphQLWebSocket, field: str, key: str, values: list) -> None:
    got = [(await ws.next_data(timeout=10))[field][key] for _ in values]
    assert got == values
    await ws.nothing_more(0.3)


async def test_the_whole_journey_reaches_subscribers_on_the_other_worker(workers):
    base, pids = workers
    subscriber_worker, mutation_worker = pids
    url = base.replace("http://", "ws://") + "/graphql"
    staff_token = await token_for(Permission.MANAGE_ORDERS, Permission.MANAGE_SHIPMENTS)
    staff = bearer(staff_token)
    _, customer_token = await customer()
    variant = await make_variant()

    async with AsyncExitStack() as stack:
        http = await HTTPOnWorker.connect(base, mutation_worker, pids, stack)
        dashboard = await ws_on_worker(
            url, subscriber_worker, pids, stack, payload={"authorization": f"Bearer {staff_token}"}
        )
        shopper = await ws_on_worker(
            url,
            subscriber_worker,
            pids,
            stack,
            protocol=LEGACY_WS,
            payload={"authorization": f"Bearer {customer_token}"},
        )
        await dashboard.subscribe(ALL)
        await shopper.subscribe(MINE)
        await asyncio.sleep(0.3)  # both subscriptions registered before the first change

        # The customer's cart, checked out unpaid, through the mutation worker.
        cart = await ready_cart(
            GraphQLClient(http.client), [(variant.sku, 3)], email=False, headers=bearer(customer_token)
        )
        order = (await http.call(CHECKOUT, {"t": cart, "p": {"provider": "manual"}}))["order"]

        follower = await ws_on_worker(url, subscriber_worker, pids, stack)
        await follower.subscribe(STATUS, {"t": order["token"]})
        assert (await follower.next_data())["orderStatusChanged"]["status"] == "PLACED"  # the current state first

        await http.call(MARK_PAID, {"id": order["id"]}, staff)
        line = (await http.call("query($t: ID!) { order(token: $t) { lines { id } } }", {"t": order["token"]}))[
            "lines"
        ][0]["id"]
        numbers = ["JRN-" + uuid.uuid4().hex[:8].upper() for _ in range(2)]
        parcels = await ws_on_worker(url, subscriber_worker, pids, stack)
        for number in numbers:
            await parcels.subscribe(PARCEL, {"n": number})
        await asyncio.sleep(0.3)
        for number, quantity in zip(numbers, (2, 1), strict=True):
            shipped = await http.call(
                SHIP,
                {"o": order["id"], "l": [{"orderLineId": line, "quantity": quantity}], "c": "dhl", "n": number},
                staff,
            )
            assert shipped["userErrors"] == []
        for number in numbers:
            for status in ("IN_TRANSIT", "OUT_FOR_DELIVERY", "DELIVERED"):
                event = {
                    "eventId": uuid.uuid4().hex,
                    "trackingNumber": number,
                    "status": status,
                    "occurredAt": datetime.now(UTC).isoformat(),
                }
                assert (await http.webhook(event))["result"] == "applied"
                await asyncio.sleep(0.01)  # distinct timestamps: the order the carrier reported them in

        statuses = ["PLACED", "PAID", "PARTIALLY_SHIPPED", "SHIPPED", "DELIVERED"]
        await expect(dashboard, "orderEvents", "status", statuses)
        await expect(shopper, "myOrderUpdates", "status", statuses)
        await expect(follower, "orderStatusChanged", "status", statuses[1:])
        received = [(await parcels.next_data())["shipmentUpdated"] for _ in range(8)]
        for number in numbers:
            assert [r["status"] for r in received if r["trackingNumber"] == number] == [
                "LABEL_CREATED",
                "IN_TRANSIT",
                "OUT_FOR_DELIVERY",
                "DELIVERED",
            ]
        await parcels.nothing_more(0.3)
