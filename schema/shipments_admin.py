"""Staff shipping orders and reporting parcels' progress (MANAGE_SHIPMENTS)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from models import Permission, ShipmentStatus
from models.shipments import EVENT_DESCRIPTION_LENGTH, EVENT_LOCATION_LENGTH, TRACKING_NUMBER_LENGTH
from resolvers import shipments, shipments_admin
from schema.context import Context
from schema.ids import decode_id_of
from schema.permissions import requires
from schema.shared import UserError, attempt
from schema.shipments import Shipment, build_shipment


@strawberry.input(description="Units of one order line that go in the parcel.")
class ShipmentLineInput:
    order_line_id: strawberry.ID = strawberry.field(description="The line (`OrderLine.id`).")
    quantity: int = strawberry.field(description="How many units: from 1 to what is left to ship of the line.")


@strawberry.type(description="What a shipment mutation did.")
class ShipmentPayload:
    shipment: Shipment | None = strawberry.field(description="The shipment as it now is; null when refused.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed; empty on success.")


@strawberry.type
class ShipmentsAdminMutation:
    @strawberry.mutation(
        extensions=requires(Permission.MANAGE_SHIPMENTS), description="Ship some or all of what is left to ship."
    )
    async def shipment_create(
        self,
        info: Info[Context, None],
        order_id: Annotated[
            strawberry.ID,
            strawberry.argument(
                description="The order (`Order.id`): PAID, PARTIALLY_SHIPPED, or PARTIALLY_REFUNDED (what was not "
                "refunded ships; the order stays PARTIALLY_REFUNDED)."
            ),
        ],
        lines: Annotated[list[ShipmentLineInput], strawberry.argument(description="What goes in the parcel.")],
        carrier: Annotated[
            str, strawberry.argument(description="The carrier's code, such as dhl or ups; stored lowercase.")
        ],
        tracking_number: Annotated[
            str,
            strawberry.argument(
                description=f"The carrier's number for the parcel: 1–{TRACKING_NUMBER_LENGTH} letters, digits, "
                "spaces or dashes, not used by another of the carrier's parcels."
            ),
        ],
    ) -> ShipmentPayload:
        pairs = [(decode_id_of(line.order_line_id, "OrderLine", "orderLineId"), line.quantity) for line in lines]
        shipment, errors = await attempt(
            shipments_admin.create_shipment(
                decode_id_of(order_id, "Order", "orderId"), pairs, carrier, tracking_number, await info.context.viewer()
            )
        )
        return ShipmentPayload(
            shipment=None if shipment is None else build_shipment(info.context, shipment), user_errors=errors
        )

    @strawberry.mutation(
        extensions=requires(Permission.MANAGE_SHIPMENTS),
        description="Record what happened to a parcel; events may be reported out of order.",
    )
    async def shipment_add_tracking_event(
        self,
        info: Info[Context, None],
        shipment_id: Annotated[strawberry.ID, strawberry.argument(description="The shipment (`Shipment.id`).")],
        status: Annotated[ShipmentStatus, strawberry.argument(description="Where the parcel is after it.")],
        description: Annotated[
            str | None,
            strawberry.argument(description=f"What happened, in words: at most {EVENT_DESCRIPTION_LENGTH} characters."),
        ] = None,
        location: Annotated[
            str | None,
            strawberry.argument(description=f"Where it happened: at most {EVENT_LOCATION_LENGTH} characters."),
        ] = None,
        occurred_at: Annotated[
            datetime | None,
            strawberry.argument(
                description="When it happened, with its offset from UTC and not in the future; left out: now."
            ),
        ] = None,
        estimated_delivery: Annotated[
            date | None, strawberry.argument(description="A new expected delivery day; left out: as it was.")
        ] = None,
    ) -> ShipmentPayload:
        report = shipments.TrackingReport(
            status=status,
            description=description or "",
            location=location or "",
            occurred_at=occurred_at,
            estimated_delivery=estimated_delivery,
        )
        result, errors = await attempt(
            shipments.add_tracking_event(decode_id_of(shipment_id, "Shipment", "shipmentId"), report)
        )
        return ShipmentPayload(
            shipment=None if result is None else build_shipment(info.context, result.shipment), user_errors=errors
        )
