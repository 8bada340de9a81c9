"""Shipments as anyone following a parcel sees them (`shipments_admin`: staff shipping orders).

A Shipment links to nothing personal (no order, name, address or email): whoever has a tracking
number may see it, through `trackShipment` or the `shipmentUpdated` subscription.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import date, datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from loaders import Loaders
from models import Shipment as ShipmentModel
from models import ShipmentEvent as EventModel
from models import ShipmentStatus
from models.changes import shipment_topic
from resolvers import shipments
from schema.context import Context
from schema.ids import encode_id
from schema.live import follow
from schema.shared import Node, described_enum

# The domain's enum, registered as GraphQL's ShipmentStatus as it is: strawberry.enum returns the class it was
# given, so both layers name it alike.
described_enum(
    ShipmentStatus,
    "Where a parcel is, as its carrier last reported.",
    {
        ShipmentStatus.LABEL_CREATED: "Packed and labelled; the carrier does not have it yet.",
        ShipmentStatus.IN_TRANSIT: "On its way with the carrier.",
        ShipmentStatus.OUT_FOR_DELIVERY: "With the courier, to be delivered today.",
        ShipmentStatus.FAILED_ATTEMPT: "A delivery was tried and failed; the carrier tries again or holds it.",
        ShipmentStatus.DELIVERED: "Delivered.",
        ShipmentStatus.EXCEPTION: "Held up by a problem (damage, customs, the address): the event's description says.",
        ShipmentStatus.RETURNED: "Sent back to the shop.",
    },
)

# The argument naming a parcel to follow.
TrackingNumber = Annotated[
    str, strawberry.argument(description="The parcel's tracking number, as the shop's email or the carrier gave it.")
]


@strawberry.type(description="One thing that happened to a parcel, as its carrier (or staff) reported it.")
class ShipmentEvent:
    status: ShipmentStatus = strawberry.field(description="Where the parcel was after it.")
    description: str | None = strawberry.field(description="What happened, in words; null when none were given.")
    location: str | None = strawberry.field(description='Where it happened, such as "Leipzig, DE"; null when unknown.')
    occurred_at: datetime = strawberry.field(description="When it happened, which may be before it was reported.")


async def _events(root: Shipment) -> list[ShipmentEvent]:
    # Read when selected, through the loaders of the context the shipment was built in.
    return [_event(e) for e in await root._loaders.shipment_events_by_shipment_id.load(root._shipment_id)]


@strawberry.type(
    description="A parcel of an order on its way. Anyone with its tracking number may follow it, so it shows nothing "
    "personal: no order, name or address."
)
class Shipment(Node):
    id: strawberry.ID = strawberry.field(description="The shipment's ID, for `shipmentAddTrackingEvent`.")
    carrier: str = strawberry.field(description="The carrier's code, lowercase, such as dhl or ups.")
    tracking_number: str = strawberry.field(description="The carrier's number for the parcel.")
    tracking_url: str | None = strawberry.field(
        description="The carrier's tracking page for the parcel; null for a carrier the gateway knows no page of."
    )
    status: ShipmentStatus = strawberry.field(description="That of the event that happened last.")
    estimated_delivery: date | None = strawberry.field(
        description="The day it should arrive: the shipping method's promise, or the carrier's latest estimate; null "
        "when unknown."
    )
    events: list[ShipmentEvent] = strawberry.field(resolver=_events, description="In the order they happened.")
    _shipment_id: strawberry.Private[int]
    _loaders: strawberry.Private[Loaders]


def _event(event: EventModel) -> ShipmentEvent:
    return ShipmentEvent(
        status=event.status,
        description=event.description or None,
        location=event.location or None,
        occurred_at=event.occurred_at,
    )


def build_shipment(context: Context, shipment: ShipmentModel) -> Shipment:
    return Shipment(
        id=encode_id("Shipment", shipment.id),
        carrier=shipment.carrier,
        tracking_number=shipment.tracking_number,
        tracking_url=shipment.tracking_url or None,
        status=shipment.status,
        estimated_delivery=shipment.estimated_delivery,
        _shipment_id=shipment.id,
        _loaders=context.loaders,
    )


@strawberry.type
class ShipmentsQuery:
    @strawberry.field(description="Public tracking: a parcel's status and events, nothing personal. Null when unknown.")
    async def track_shipment(self, info: Info[Context, None], tracking_number: TrackingNumber) -> Shipment | None:
        shipment = await shipments.shipment_by_tracking_number(tracking_number)
        return None if shipment is None else build_shipment(info.context, shipment)


@strawberry.type
class ShipmentsSubscription:
    @strawberry.subscription(description="The parcel now, then after every tracking update.")
    async def shipment_updated(
        self, info: Info[Context, None], tracking_number: TrackingNumber
    ) -> AsyncGenerator[Shipment, None]:
        number = tracking_number.strip()

        async def current() -> list[ShipmentModel]:
            return await shipments.shipments_by_tracking_number(number)

        async for shipment in follow(info.context, (shipment_topic(number),), ShipmentModel, current, build_shipment):
            yield shipment
