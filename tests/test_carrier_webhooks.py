"""Carrier webhooks: signed, idempotent, and a refusal changes nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime

import httpx
import pytest

from gateway.app import create_app
from gateway.settings import load_settings
from models import CarrierDelivery, Permission, Shipment, ShipmentEvent
from tests.staff import bearer, token_for
from tests.test_tracking import TRACK, shipped_order

SECRET = "dhl-webhook-secret-0123456789"


@pytest.fixture(scope="module")
def webhook_app(db):
    return create_app(
        load_settings(
            {
                "DATABASE_URL": db.url,
                "RATE_LIMIT_PER_SECOND": "0",
                "CARRIER_WEBHOOK_SECRETS": f"dhl={SECRET},ups=ups-webhook-secret-0123456789",
                "CARRIER_SIGNATURE_HEADER": "X-Carrier-Signature",
            }
        )
    )


@pytest.fixture
async def carrier(webhook_app):
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=webhook_app), base_url="http://gateway.test"
    ) as http:
        yield http


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {
        "X-Carrier-Signature": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
        "content-type": "application/json",
    }


def event(number: str, status: str = "IN_TRANSIT", **extra) -> bytes:
    return json.dumps(
        {
            "eventId": extra.pop("eventId", uuid.uuid4().hex),
            "trackingNumber": number,
            "status": status,
            "occurredAt": datetime.now(UTC).isoformat(),
            **extra,
        }
    ).encode()


async def a_parcel(gql, client) -> Shipment:
    staff = bearer(await token_for(Permission.MANAGE_SHIPMENTS))
    await shipped_order(gql, client, staff, [1])
    return await Shipment.all().order_by("-id").first()


async def counts() -> tuple[int, int]:
    return await ShipmentEvent.all().count(), await CarrierDelivery.all().count()


async def test_a_signed_event_is_applied_once(gql, client, carrier):
    parcel = await a_parcel(gql, client)
    body = event(
        parcel.tracking_number, description="Departed hub", location="Leipzig, DE", estimatedDelivery="2030-01-05"
    )
    applied = await carrier.post("/webhooks/carriers/dhl", content=body, headers=signed(body))
    assert applied.status_code == 200 and applied.json()["result"] == "applied"
    before = await counts()
    again = await carrier.post("/webhooks/carriers/DHL", content=body, headers=signed(body))  # the carrier retries
    assert again.status_code == 200 and again.json()["result"] == "duplicate"
    assert await counts() == before
    tracked = (await gql.data(TRACK, {"n": parcel.tracking_number}))["trackShipment"]
    assert tracked["status"] == "IN_TRANSIT" and tracked["estimatedDelivery"] == "2030-01-05"
    assert tracked["events"][-1]["location"] == "Leipzig, DE"


async def test_an_event_id_is_a_duplicate_only_for_its_own_parcel(gql, client, carrier):
    first, second = await a_parcel(gql, client), await a_parcel(gql, client)
    shared = uuid.uuid4().hex  # the carrier numbers events per parcel: both parcels have an event "shared"
    for parcel, status in ((first, "IN_TRANSIT"), (second, "OUT_FOR_DELIVERY")):
        body = event(parcel.tracking_number, status, eventId=shared)
        response = await carrier.post("/webhooks/carriers/dhl", content=body, headers=signed(body))
        assert response.status_code == 200 and response.json()["result"] == "applied", (
            parcel.tracking_number,
            response.text,
        )
    assert (await Shipment.get(id=first.id)).status == "IN_TRANSIT"
    assert (await Shipment.get(id=second.id)).status == "OUT_FOR_DELIVERY"
    retried = event(second.tracking_number, "OUT_FOR_DELIVERY", eventId=shared)
    before = await counts()
    response = await carrier.post("/webhooks/carriers/dhl", content=retried, headers=signed(retried))
    assert response.status_code == 200 and response.json()["result"] == "duplicate"
    assert await counts() == before


async def test_bad_signatures_get_401_and_change_nothing(gql, client, carrier):
    parcel = await a_parcel(gql, client)
    body = event(parcel.tracking_number, "DELIVERED")
    before = await counts()
    for headers in (
        {},
        signed(body, "some-other-secret-0123456789"),
        {"X-Carrier-Signature": "sha256=zz"},
        signed(body, "ups-webhook-secret-0123456789"),
        {"X-Signature": signed(body)["X-Carrier-Signature"]},
    ):
        refused = await carrier.post("/webhooks/carriers/dhl", content=body, headers=headers)
        assert refused.status_code == 401, (headers, refused.text)
    tampered = body.replace(b"DELIVERED", b"RETURNED")
    assert (await carrier.post("/webhooks/carriers/dhl", content=tampered, headers=signed(body))).status_code == 401
    assert await counts() == before
    assert (await Shipment.get(id=parcel.id)).status == "LABEL_CREATED"


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (
            json.dumps({"trackingNumber": "X", "status": "IN_TRANSIT", "occurredAt": "2026-11-27T10:00:00Z"}).encode(),
            "eventId",
        ),
        (
            json.dumps(
                {
                    "eventId": "e1",
                    "trackingNumber": "X",
                    "status": "LOST_IN_SPACE",
                    "occurredAt": "2026-11-27T10:00:00Z",
                }
            ).encode(),
            "status",
        ),
        (
            json.dumps(
                {"eventId": "e1", "trackingNumber": "X", "status": "IN_TRANSIT", "occurredAt": "yesterday"}
            ).encode(),
            "occurredAt",
        ),
        (
            json.dumps(
                {"eventId": "e1", "trackingNumber": "X", "status": "IN_TRANSIT", "occurredAt": "2026-11-27T10:00:00"}
            ).encode(),
            "offset",
        ),
        (
            json.dumps(
                {
                    "eventId": "e1",
                    "trackingNumber": "X",
                    "status": "IN_TRANSIT",
                    "occurredAt": "2026-11-27T10:00:00Z",
                    "estimatedDelivery": "soon",
                }
            ).encode(),
            "estimatedDelivery",
        ),
        (
            json.dumps(
                {"eventId": 7, "trackingNumber": "X", "status": "IN_TRANSIT", "occurredAt": "2026-11-27T10:00:00Z"}
            ).encode(),
            "eventId",
        ),
    ],
)
async def test_malformed_bodies_get_400_with_a_reason(carrier, body, reason):
    before = await counts()
    refused = await carrier.post("/webhooks/carriers/dhl", content=body, headers=signed(body))
    assert refused.status_code == 400 and reason in refused.json()["error"]
    assert await counts() == before


def hostile(number: str, **fields) -> bytes:
    return json.dumps(
        {
            "eventId": uuid.uuid4().hex,
            "trackingNumber": number,
            "status": "IN_TRANSIT",
            "occurredAt": datetime.now(UTC).isoformat(),
            **fields,
        }
    ).encode()


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda n: hostile(n, eventId="evt\x00 1"), "eventId"),
        (lambda n: hostile(n + "\x00"), "trackingNumber"),
        (lambda n: hostile(n, description="Departed\x00hub"), "description"),
        (lambda n: hostile(n, location="\x00"), "location"),
        (lambda n: hostile(n, description="\ud800"), "description"),  # a lone surrogate: no UTF-8 text
        (lambda n: hostile(n).replace(b'"IN_TRANSIT"', b'"IN_\x00TRANSIT"'), "JSON"),  # a raw NUL byte
        (lambda n: b"[" * 100_000, "JSON"),
        (lambda n: hostile(n, occurredAt="0001-01-01T00:00:00+14:00"), "occurredAt"),
        (lambda n: hostile(n, description=["a"] * 3), "description"),
        (lambda n: hostile(n, eventId=10**30), "eventId"),
        (lambda n: hostile(n, estimatedDelivery=1e308), "estimatedDelivery"),
    ],
)
async def test_hostile_bodies_get_400_in_json_and_change_nothing(gql, client, carrier, make, reason):
    parcel = await a_parcel(gql, client)
    body = make(parcel.tracking_number)
    before = await counts()
    refused = await carrier.post("/webhooks/carriers/dhl", content=body, headers=signed(body))
    assert refused.status_code == 400 and refused.headers["content-type"] == "application/json", refused.text
    assert reason in refused.json()["error"]
    assert await counts() == before
    assert (await Shipment.get(id=parcel.id)).status == "LABEL_CREATED"


async def test_unknown_carriers_and_parcels_get_404(gql, client, carrier):
    parcel = await a_parcel(gql, client)
    body = event(parcel.tracking_number)
    assert (await carrier.post("/webhooks/carriers/fedex", content=body, headers=signed(body))).status_code == 404
    # A dhl parcel's number reported by ups is not ups's parcel.
    ups = signed(body, "ups-webhook-secret-0123456789")
    assert (await carrier.post("/webhooks/carriers/ups", content=body, headers=ups)).status_code == 404
    unknown = event("NO-SUCH-PARCEL")
    response = await carrier.post("/webhooks/carriers/dhl", content=unknown, headers=signed(unknown))
    assert response.status_code == 404 and "NO-SUCH-PARCEL" in response.json()["error"]
    future = event(parcel.tracking_number, occurredAt="2099-01-01T00:00:00Z")
    response = await carrier.post("/webhooks/carriers/dhl", content=future, headers=signed(future))
    assert response.status_code == 400 and response.json()["field"] == ["occurredAt"]
    assert not await CarrierDelivery.filter(event_id=json.loads(future)["eventId"]).exists()


async def test_only_post_is_accepted(carrier):
    assert (await carrier.get("/webhooks/carriers/dhl")).status_code == 405
