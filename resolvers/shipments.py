"""Following each parcel until it is delivered (`shipments_admin`: shipping an order).

Carriers (through webhooks) and staff report tracking events. Reports arrive late and out of
order, so a shipment's status is that of the event that happened last; after every event the
order's status follows its parcels (`orders.status_from_parcels`): a fully shipped order is
DELIVERED while every parcel is, and SHIPPED again when one moves after its delivery.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from urllib.parse import quote

from loaders import Loaders
from models import (
    Account,
    CarrierDelivery,
    Order,
    OrderStatus,
    Permission,
    Shipment,
    ShipmentEvent,
    ShipmentStatus,
)
from models.changes import shipment_topic
from models.shipments import EVENT_DESCRIPTION_LENGTH, EVENT_LOCATION_LENGTH
from models.snapshot import snapshot
from resolvers import outbox
from resolvers.errors import DomainError, ErrorCode
from resolvers.orders import check_transition, record_change, sees_order, status_from_parcels

# How far ahead of our clock a reported event may be dated (carriers' clocks and time zones drift).
MAX_CLOCK_SKEW = timedelta(hours=1)

# Where a customer follows a parcel, per carrier code.
TRACKING_URLS = {
    "dhl": "https://www.dhl.com/global-en/home/tracking.html?tracking-id={number}",
    "ups": "https://www.ups.com/track?tracknum={number}",
    "fedex": "https://www.fedex.com/fedextrack/?trknbr={number}",
    "usps": "https://tools.usps.com/go/TrackConfirmAction?tLabels={number}",
    "dpd": "https://tracking.dpd.de/status/en_US/parcel/{number}",
    "posten": "https://tracking.postnord.com/se/?id={number}",
}


def shipment_topics(shipment: Shipment) -> tuple[str, ...]:
    return (shipment_topic(shipment.tracking_number),)


def announce_shipment(shipment: Shipment) -> None:
    outbox.record(outbox.Change("shipment", {"id": shipment.id, "row": snapshot(shipment)}, shipment_topics(shipment)))


def tracking_url(carrier: str, number: str) -> str:
    template = TRACKING_URLS.get(carrier)
    return template.format(number=quote(number, safe="")) if template else ""


@dataclass(frozen=True)
class TrackingReport:
    status: ShipmentStatus
    description: str = ""
    location: str = ""
    occurred_at: datetime | None = None  # None: now
    estimated_delivery: date | None = None
    event_id: str | None = None  # the carrier's id for this report, for idempotent webhooks


@dataclass(frozen=True)
class TrackingResult:
    shipment: Shipment
    applied: bool  # False: this event id had been received for this parcel before, and nothing changed


async def add_tracking_event(shipment_id: int, report: TrackingReport) -> TrackingResult:
    description, location = report.description.strip(), report.location.strip()
    if len(description) > EVENT_DESCRIPTION_LENGTH:
        raise DomainError(
            ErrorCode.TOO_LONG, f"A description is at most {EVENT_DESCRIPTION_LENGTH} characters.", ["description"]
        )
    if len(location) > EVENT_LOCATION_LENGTH:
        raise DomainError(
            ErrorCode.TOO_LONG, f"A location is at most {EVENT_LOCATION_LENGTH} characters.", ["location"]
        )
    now = datetime.now(UTC)
    occurred_at = report.occurred_at or now
    if occurred_at.tzinfo is None:
        raise DomainError(
            ErrorCode.INVALID, "Give the time with its offset from UTC, e.g. 2026-11-27T14:05:00Z.", ["occurredAt"]
        )
    if occurred_at > now + MAX_CLOCK_SKEW:
        raise DomainError(ErrorCode.INVALID, "An event cannot have happened in the future.", ["occurredAt"])
    async with outbox.transaction():
        # The lock orders concurrent reports on one shipment (and repeated webhook deliveries).
        shipment = await Shipment.filter(id=shipment_id).select_for_update().first()
        if shipment is None:
            raise DomainError(ErrorCode.NOT_FOUND, "No shipment has this ID.", ["shipmentId"])
        if report.event_id is not None:
            # Per parcel: a carrier may give another parcel's event the same id.
            if await CarrierDelivery.filter(shipment_id=shipment.id, event_id=report.event_id).exists():
                return TrackingResult(shipment, applied=False)
            await CarrierDelivery.create(shipment_id=shipment.id, event_id=report.event_id)
        await ShipmentEvent.create(
            shipment_id=shipment.id,
            status=report.status,
            description=description,
            location=location,
            occurred_at=occurred_at,
        )
        latest = await ShipmentEvent.filter(shipment_id=shipment.id).order_by("-occurred_at", "-id").first()
        assert latest is not None
        shipment.status = latest.status
        if report.estimated_delivery is not None:
            shipment.estimated_delivery = report.estimated_delivery
        shipment.version += 1
        await shipment.save(update_fields=["status", "estimated_delivery", "version"])
        announce_shipment(shipment)
        await _follow_parcels(shipment.order_id)
    return TrackingResult(shipment, applied=True)


async def _follow_parcels(order_id: int) -> None:
    """Set the order's status from its parcels after any of them moved, and announce a change.

    The order is locked before its parcels are read, so two parcels reported at once are seen
    together by whichever report comes second."""
    order = await Order.filter(id=order_id).select_for_update().first()
    if order is None:
        return
    parcels = [s.status for s in await Shipment.filter(order_id=order_id).only("id", "status")]
    status = status_from_parcels(order.status, parcels)
    if status == order.status:
        return
    check_transition(order.status, status)
    order.status = status
    message = (
        "Every parcel has been delivered."
        if status == OrderStatus.DELIVERED
        else "A delivered parcel is on its way again."
    )
    await record_change(order, ["status"], [(status.value, message)], None)


async def shipment_by_tracking_number(tracking_number: str, carrier: str | None = None) -> Shipment | None:
    """The newest shipment with this number (two carriers may reuse one), or the carrier's own."""
    queryset = Shipment.filter(tracking_number=tracking_number.strip())
    if carrier is not None:
        queryset = queryset.filter(carrier=carrier.strip().lower())
    return await queryset.order_by("-id").first()


async def shipment_by_id(loaders: Loaders, shipment_id: int, viewer: Account | None) -> Shipment | None:
    """A shipment by its ID. Its tracking number makes a parcel public to whoever knows it; an ID
    is a counter anyone can guess, so it shows the parcel only to staff who ship orders
    (MANAGE_SHIPMENTS) and to whoever may read its order (`orders.sees_order`)."""
    shipment = await loaders.shipment_by_id.load(shipment_id)
    if shipment is None or viewer is None:
        return None
    if viewer.has_permission(Permission.MANAGE_SHIPMENTS):
        return shipment
    order = await loaders.order_by_id.load(shipment.order_id)
    return shipment if order is not None and sees_order(viewer, order) else None


async def shipments_by_tracking_number(tracking_number: str) -> list[Shipment]:
    """Every shipment with this number (two carriers may reuse one), oldest first: what a
    `shipmentUpdated` subscriber is sent first."""
    return list(await Shipment.filter(tracking_number=tracking_number.strip()).order_by("id"))
