"""Shipments of orders: which units went out, with which carrier and tracking number."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.indexes import Index
from tortoise.migrations.constraints import CheckConstraint
from tortoise.models import Model

from models.checkout import CARRIER_LENGTH
from models.orders import Order, OrderLine

# Column lengths that input is checked against before it is written (resolvers/shipments.py and
# the carrier webhook, gateway/webhooks.py).
TRACKING_NUMBER_LENGTH = 100
EVENT_DESCRIPTION_LENGTH = 500
EVENT_LOCATION_LENGTH = 200
CARRIER_EVENT_ID_LENGTH = 200


class ShipmentStatus(StrEnum):
    LABEL_CREATED = "LABEL_CREATED"
    IN_TRANSIT = "IN_TRANSIT"
    OUT_FOR_DELIVERY = "OUT_FOR_DELIVERY"
    FAILED_ATTEMPT = "FAILED_ATTEMPT"
    DELIVERED = "DELIVERED"
    EXCEPTION = "EXCEPTION"
    RETURNED = "RETURNED"


class Shipment(Model):
    id = fields.IntField(primary_key=True)
    order: fields.ForeignKeyRelation[Order] = fields.ForeignKeyField(
        "models.Order", related_name="shipments", on_delete=fields.CASCADE
    )
    order_id: int
    carrier = fields.CharField(max_length=CARRIER_LENGTH)
    tracking_number = fields.CharField(max_length=TRACKING_NUMBER_LENGTH)
    tracking_url = fields.CharField(max_length=500, default="")
    status = fields.CharEnumField(ShipmentStatus, max_length=20, default=ShipmentStatus.LABEL_CREATED)
    estimated_delivery = fields.DateField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    version = fields.IntField(default=1)  # as Order.version

    class Meta:
        table = "shipment"
        unique_together = (("carrier", "tracking_number"),)
        indexes = (Index(fields=("tracking_number",), name="shipment_tracking_number_idx"),)


class ShipmentEvent(Model):
    # What the carrier (or staff) reported, when it happened. Reports can arrive out of order:
    # the shipment's status is that of the event that happened last, not of the one that came last.
    id = fields.IntField(primary_key=True)
    shipment: fields.ForeignKeyRelation[Shipment] = fields.ForeignKeyField(
        "models.Shipment", related_name="events", on_delete=fields.CASCADE
    )
    shipment_id: int
    status = fields.CharEnumField(ShipmentStatus, max_length=20)
    description = fields.CharField(max_length=EVENT_DESCRIPTION_LENGTH, default="")
    location = fields.CharField(max_length=EVENT_LOCATION_LENGTH, default="")
    occurred_at = fields.DatetimeField()
    recorded_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "shipment_event"
        indexes = (Index(fields=("shipment_id", "occurred_at"), name="shipment_event_time_idx"),)


class CarrierDelivery(Model):
    # Every webhook event id a carrier has sent us, per parcel: a repeated delivery is recognised
    # and acknowledged without being applied twice. Inserted in the same transaction as its effect.
    # Per parcel, not per carrier: a carrier's event ids need only be unique within one parcel.
    id = fields.IntField(primary_key=True)
    shipment: fields.ForeignKeyRelation[Shipment] = fields.ForeignKeyField(
        "models.Shipment", related_name="carrier_deliveries", on_delete=fields.CASCADE
    )
    shipment_id: int
    event_id = fields.CharField(max_length=CARRIER_EVENT_ID_LENGTH)
    received_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "carrier_delivery"
        unique_together = (("shipment", "event_id"),)


class ShipmentLine(Model):
    id = fields.IntField(primary_key=True)
    shipment: fields.ForeignKeyRelation[Shipment] = fields.ForeignKeyField(
        "models.Shipment", related_name="lines", on_delete=fields.CASCADE
    )
    shipment_id: int
    order_line: fields.ForeignKeyRelation[OrderLine] = fields.ForeignKeyField(
        "models.OrderLine", related_name="shipment_lines", on_delete=fields.CASCADE
    )
    order_line_id: int
    quantity = fields.IntField()

    class Meta:
        table = "shipment_line"
        constraints = (CheckConstraint(check="quantity > 0", name="shipment_line_quantity_positive"),)
