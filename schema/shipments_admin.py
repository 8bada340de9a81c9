"""Staff shipping orders and reporting parcels' progress (MANAGE_SHIPMENTS)."""

from __future__ import annotations

from datetime import date, datetime

import strawberry
from strawberry.types import Info

from models import Permission, ShipmentStatus
from resolvers import shipments, shipments_admin
from schema.context import Context
from schema.ids import decode_id_of
from schema.permissions import requires
from schema.shared import UserError, attempt
from schema.shipments import Shipment, build_shipment


@strawberry.input
class ShipmentLineInput:
    order_line_id: strawberry.ID
    quantity: int


@strawberry.type
class ShipmentPayload:
    shipment: Shipment | None
    user_errors: list[UserError]


@strawberry.type
class ShipmentsAdminMutation:
    @strawberry.mutation(
        extensions=requires(Permission.MANAGE_SHIPMENTS), description="Ship some or all of what is left to ship."
    )
    async def shipment_create(
        self,
        info: Info[Context, None],
        order_id: strawberry.ID,
        lines: list[ShipmentLineInput],
        carrier: str,
        tracking_number: str,
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
        shipment_id: strawberry.ID,
        status: ShipmentStatus,
        description: str | None = None,
        location: str | None = None,
        occurred_at: datetime | None = None,
        estimated_delivery: date | None = None,
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
