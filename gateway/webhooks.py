"""`POST /webhooks/carriers/{carrier}`: carriers report tracking events.

The body is one JSON event:

    {"eventId": "evt-81", "trackingNumber": "1Z999AA10123456784", "status": "IN_TRANSIT",
     "occurredAt": "2026-11-27T14:05:00Z", "description": "Departed facility", "location": "Leipzig, DE",
     "estimatedDelivery": "2026-11-29"}

signed with an HMAC-SHA256 of the exact body bytes under the carrier's secret
(CARRIER_WEBHOOK_SECRETS), sent hex-encoded, optionally as `sha256=<hex>`, in the header
CARRIER_SIGNATURE_HEADER (default X-Signature). Answers:

- 401: missing or wrong signature (nothing is read further, nothing changes);
- 404: a carrier without a configured secret, or no shipment of this carrier has the number;
- 400: a body that is not such an event, with the reason (as JSON, like every answer here): not
  JSON, a field of the wrong type, too long, out of range, or holding a NUL;
- 200 `{"result": "applied"}`, or `{"result": "duplicate"}` for an event id received before for
  the same parcel (carriers retry deliveries; each event takes effect once).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from models import ShipmentStatus
from models.changes import Sink
from models.shipments import (
    CARRIER_EVENT_ID_LENGTH,
    EVENT_DESCRIPTION_LENGTH,
    EVENT_LOCATION_LENGTH,
    TRACKING_NUMBER_LENGTH,
)
from resolvers import outbox, shipments
from resolvers.errors import DomainError

STATUSES = ", ".join(s.value for s in ShipmentStatus)


class Malformed(ValueError):
    pass


def signature_valid(secret: str, body: bytes, header: str | None) -> bool:
    if not header:
        return False
    given = header.strip()
    if given.lower().startswith("sha256="):
        given = given[7:]
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given.lower())


def _text(event: dict[str, Any], name: str, *, required: bool = False, limit: int) -> str:
    value = event.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise Malformed(f"`{name}` must be a {'non-empty ' if required else ''}string")
    if len(value) > limit:
        raise Malformed(f"`{name}` is longer than {limit} characters")
    if "\x00" in value or (not value.isascii() and not _encodable(value)):
        # Neither can be stored: PostgreSQL text holds no NUL, UTF-8 no lone surrogate.
        raise Malformed(f"`{name}` holds a NUL or a character that is not text")
    return value.strip()


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_event(body: bytes) -> tuple[str, shipments.TrackingReport]:
    """(tracking number, report with the event id), or Malformed with the reason."""
    try:
        event = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
        raise Malformed("the body is not JSON") from None
    if not isinstance(event, dict):
        raise Malformed("the body must be a JSON object")
    event_id = _text(event, "eventId", required=True, limit=CARRIER_EVENT_ID_LENGTH)
    number = _text(event, "trackingNumber", required=True, limit=TRACKING_NUMBER_LENGTH)
    status_name = _text(event, "status", required=True, limit=30)
    try:
        status = ShipmentStatus(status_name)
    except ValueError:
        raise Malformed(f"`status` must be one of {STATUSES}") from None
    occurred_text = _text(event, "occurredAt", required=True, limit=40)
    try:
        occurred_at = datetime.fromisoformat(occurred_text)
    except ValueError:
        raise Malformed("`occurredAt` must be an ISO 8601 date-time such as 2026-11-27T14:05:00Z") from None
    if occurred_at.tzinfo is None:
        raise Malformed("`occurredAt` needs its offset from UTC, e.g. 2026-11-27T14:05:00Z")
    try:
        occurred_at.astimezone(UTC)  # what the database stores
    except OverflowError:
        raise Malformed("`occurredAt` is out of range") from None
    estimate_text = _text(event, "estimatedDelivery", limit=10)
    try:
        estimate = date.fromisoformat(estimate_text) if estimate_text else None
    except ValueError:
        raise Malformed("`estimatedDelivery` must be a date such as 2026-11-29") from None
    report = shipments.TrackingReport(
        status=status,
        description=_text(event, "description", limit=EVENT_DESCRIPTION_LENGTH),
        location=_text(event, "location", limit=EVENT_LOCATION_LENGTH),
        occurred_at=occurred_at,
        estimated_delivery=estimate,
        event_id=event_id,
    )
    return number, report


def carrier_webhook(
    secrets: dict[str, str], signature_header: str, announce: Sink | None
) -> Callable[[Request], Awaitable[Response]]:
    async def receive(request: Request) -> Response:
        carrier = request.path_params["carrier"].lower()
        secret = secrets.get(carrier)
        if secret is None:
            return JSONResponse({"error": f"no webhook is configured for the carrier {carrier!r}"}, 404)
        body = await request.body()
        if not signature_valid(secret, body, request.headers.get(signature_header)):
            return JSONResponse({"error": f"missing or invalid signature in {signature_header}"}, 401)
        try:
            number, report = parse_event(body)
        except Malformed as reason:
            return JSONResponse({"error": f"malformed event: {reason}"}, 400)
        shipment = await shipments.shipment_by_tracking_number(number, carrier)
        if shipment is None:
            return JSONResponse({"error": f"no {carrier} shipment has the tracking number {number!r}"}, 404)
        outbox.use_sink(announce)
        try:
            result = await shipments.add_tracking_event(shipment.id, report)
        except DomainError as error:
            return JSONResponse({"error": error.message, "field": error.field}, 400)
        return JSONResponse({"result": "applied" if result.applied else "duplicate", "eventId": report.event_id})

    return receive
