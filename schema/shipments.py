"""Shipments: staff ship orders (MANAGE_SHIPMENTS), customers follow them."""

from __future__ import annotations

from datetime import date

import strawberry
from strawberry.types import Info

from models import Permission
from models import Shipment as ShipmentModel
from models import ShipmentStatus as ShipmentStatusModel
from resolvers import shipments
from schema.context import Context
from schema.errors import UserError, attempt
from schema.ids import decode_id_of, encode_id
from schema.permissions import requires

ShipmentStatus = strawberry.enum(ShipmentStatusModel, name="ShipmentStatus")


@strawberry.type
class Shipment:
    id: strawberry.ID
    carrier: str
    tracking_number: str
    tracking_url: str | None
    status: ShipmentStatus
    estimated_delivery: date | None


def shipment_view(shipment: ShipmentModel) -> Shipment:
    return Shipment(
        id=encode_id("Shipment", shipment.id), carrier=shipment.carrier, tracking_number=shipment.tracking_number,
        tracking_url=shipment.tracking_url or None, status=shipment.status, estimated_delivery=shipment.estimated_delivery,
    )


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
    @strawberry.mutation(extensions=requires(Permission.MANAGE_SHIPMENTS), description="Ship some or all of what is left to ship.")
    async def shipment_create(
        self, info: Info[Context, None], order_id: strawberry.ID, lines: list[ShipmentLineInput], carrier: str, tracking_number: str
    ) -> ShipmentPayload:
        pairs = [(decode_id_of(line.order_line_id, "OrderLine", "orderLineId"), line.quantity) for line in lines]
        shipment, errors = await attempt(shipments.create_shipment(
            decode_id_of(order_id, "Order", "orderId"), pairs, carrier, tracking_number, await info.context.viewer()
        ))
        return ShipmentPayload(shipment=shipment and shipment_view(shipment), user_errors=errors)
