"""Shipping an order, in parts if need be, and following each parcel until it is delivered.

Units ship from the warehouses that reserved them (the order's allocations, oldest first): on
those stock rows both on hand and reserved drop by the shipped quantity, with a SALE ledger row,
in the same transaction as the shipment, the lines' shipped counts and the order's new status.

Carriers (through webhooks) and staff report tracking events. Reports arrive late and out of
order, so a shipment's status is that of the event that happened last; after every event the
order's status follows its parcels (`orders.status_from_parcels`): a fully shipped order is
DELIVERED while every parcel is, and SHIPPED again when one moves after its delivery.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from urllib.parse import quote

from tortoise.exceptions import IntegrityError

from models import (
    Account,
    Allocation,
    CarrierDelivery,
    Order,
    OrderLine,
    OrderStatus,
    Shipment,
    ShipmentEvent,
    ShipmentLine,
    ShipmentStatus,
    ShippingMethod,
    Stock,
    StockMovement,
)
from models.changes import shipment_topic
from models.shipments import EVENT_DESCRIPTION_LENGTH, EVENT_LOCATION_LENGTH, TRACKING_NUMBER_LENGTH
from models.snapshot import snapshot
from resolvers import outbox
from resolvers.checkout import carrier_code
from resolvers.errors import DomainError, ErrorCode, text_code
from resolvers.inventory import shift_stock, stock_deltas
from resolvers.orders import check_transition, locked_order, record_change, status_from_parcels

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


async def create_shipment(
    order_id: int, lines: list[tuple[int, int]], carrier: str, tracking_number: str, actor: Account | None
) -> Shipment:
    carrier, tracking_number = carrier_code(carrier), tracking_number.strip()
    if not re.fullmatch(rf"[A-Za-z0-9][A-Za-z0-9 -]{{0,{TRACKING_NUMBER_LENGTH - 1}}}", tracking_number):
        raise DomainError(
            text_code(tracking_number, TRACKING_NUMBER_LENGTH),
            f"A tracking number is 1–{TRACKING_NUMBER_LENGTH} letters, digits, spaces or dashes.",
            ["trackingNumber"],
        )
    if not lines:
        raise DomainError(ErrorCode.REQUIRED, "Ship at least one line.", ["lines"])
    async with outbox.transaction():
        order = await locked_order(order_id)
        if order.status not in (OrderStatus.PAID, OrderStatus.PARTIALLY_SHIPPED):
            raise DomainError(
                ErrorCode.INVALID_TRANSITION, f"An order that is {order.status} cannot ship.", ["orderId"]
            )
        order_lines = {line.id: line for line in await OrderLine.filter(order_id=order.id)}
        shipping: dict[int, int] = {}
        for index, (line_id, quantity) in enumerate(lines):
            line = order_lines.get(line_id)
            if line is None:
                raise DomainError(
                    ErrorCode.NOT_FOUND, "This order has no such line.", ["lines", str(index), "orderLineId"]
                )
            left = line.quantity - line.quantity_shipped - shipping.get(line_id, 0)
            if quantity < 1 or quantity > left:
                raise DomainError(
                    ErrorCode.INVALID_QUANTITY,
                    f"Between 1 and {left} of {line.sku} can still ship.",
                    ["lines", str(index), "quantity"],
                )
            shipping[line_id] = shipping.get(line_id, 0) + quantity
        if await Shipment.filter(carrier=carrier, tracking_number=tracking_number).exists():
            raise DomainError(
                ErrorCode.DUPLICATE,
                "This carrier already has a shipment with this tracking number.",
                ["trackingNumber"],
            )

        takes = await _take_from_allocations(order, {order_lines[i].variant_id: q for i, q in shipping.items()})
        await _sell(order, takes, actor)
        for line_id, quantity in shipping.items():
            order_lines[line_id].quantity_shipped += quantity
        await OrderLine.bulk_update([order_lines[line_id] for line_id in shipping], fields=["quantity_shipped"])
        complete = all(line.quantity_shipped == line.quantity for line in order_lines.values())
        status = OrderStatus.SHIPPED if complete else OrderStatus.PARTIALLY_SHIPPED
        changed = status != order.status
        if changed:
            check_transition(order.status, status)
            order.status = status
        try:
            shipment = await Shipment.create(
                order_id=order.id,
                carrier=carrier,
                tracking_number=tracking_number,
                tracking_url=tracking_url(carrier, tracking_number),
                estimated_delivery=await _estimate(order),
            )
        except IntegrityError:
            raise DomainError(
                ErrorCode.DUPLICATE,
                "This carrier already has a shipment with this tracking number.",
                ["trackingNumber"],
            ) from None
        await ShipmentLine.bulk_create(
            [ShipmentLine(shipment_id=shipment.id, order_line_id=i, quantity=q) for i, q in shipping.items()]
        )
        await ShipmentEvent.create(
            shipment_id=shipment.id,
            status=ShipmentStatus.LABEL_CREATED,
            description="Label created.",
            occurred_at=shipment.created_at,
        )
        shipped = f"{sum(shipping.values())} unit(s) shipped with {carrier} ({tracking_number})."
        await record_change(order, ["status"] if changed else [], [(status.value, shipped)], actor)
        announce_shipment(shipment)
    return shipment


async def _estimate(order: Order) -> date | None:
    """The latest day the order's shipping method promises, counted from today."""
    method = await ShippingMethod.filter(name=order.shipping_method_name, carrier=order.shipping_carrier).first()
    return None if method is None else datetime.now(UTC).date() + timedelta(days=method.max_days)


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


@dataclass(frozen=True)
class Take:
    """`quantity` shipped units taken from `allocation`, which reserved them on stock row `stock_id`."""

    allocation: Allocation
    stock_id: int
    quantity: int


async def _take_from_allocations(order: Order, wanted: dict[int | None, int]) -> list[Take]:
    """Which allocations the shipped units come from, oldest first."""
    takes: list[Take] = []
    for allocation in await Allocation.filter(order_id=order.id, quantity__gt=0).order_by("id"):
        left = wanted.get(allocation.variant_id, 0)
        if left <= 0 or allocation.stock_id is None:
            continue
        take = min(left, allocation.quantity)
        takes.append(Take(allocation, allocation.stock_id, take))
        wanted[allocation.variant_id] = left - take
    if any(left > 0 for left in wanted.values()):
        raise DomainError(
            ErrorCode.INSUFFICIENT_STOCK, "Part of this order holds no reserved stock to ship from.", ["lines"]
        )
    return takes


async def _sell(order: Order, takes: list[Take], actor: Account | None) -> None:
    """On hand and reserved both drop: one UPDATE for every stock row, then the ledger."""
    sold = stock_deltas((t.stock_id, -t.quantity, -t.quantity) for t in takes)
    locked = {s.id: s for s in await Stock.filter(id__in=sorted(sold)).order_by("id").select_for_update()}
    await shift_stock(sold)
    after = {stock_id: locked[stock_id].quantity + on_hand for stock_id, (on_hand, _) in sold.items()}
    await StockMovement.bulk_create(
        [
            StockMovement(
                stock_id=t.stock_id,
                variant_id=t.allocation.variant_id,
                kind="SALE",
                delta=-t.quantity,
                reserved_delta=-t.quantity,
                quantity_after=after[t.stock_id],
                reason=f"order #{order.number}",
                actor=actor.email if actor else "",
            )
            for t in takes
        ]
    )
    for t in takes:
        t.allocation.quantity -= t.quantity
    await Allocation.bulk_update([t.allocation for t in takes], fields=["quantity"])


async def shipments_by_tracking_number(tracking_number: str) -> list[Shipment]:
    """Every shipment with this number (two carriers may reuse one), oldest first: what a
    `shipmentUpdated` subscriber is sent first."""
    return list(await Shipment.filter(tracking_number=tracking_number.strip()).order_by("id"))
