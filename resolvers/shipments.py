"""Shipping an order, in parts if need be: a shipment turns reserved stock into sold stock.

Units ship from the warehouses that reserved them (the order's allocations, oldest first): on
those stock rows both on hand and reserved drop by the shipped quantity, with a SALE ledger row,
in the same transaction as the shipment, the lines' shipped counts and the order's new status.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from tortoise.exceptions import IntegrityError

from models import Account, Allocation, Order, OrderEvent, OrderLine, OrderStatus, Shipment, ShipmentLine, Stock, StockMovement
from resolvers import outbox
from resolvers.errors import DomainError
from resolvers.inventory import shift_stock
from resolvers.orders import check_transition

# Where a customer follows a parcel, per carrier code.
TRACKING_URLS = {
    "dhl": "https://www.dhl.com/global-en/home/tracking.html?tracking-id={number}",
    "ups": "https://www.ups.com/track?tracknum={number}",
    "fedex": "https://www.fedex.com/fedextrack/?trknbr={number}",
    "usps": "https://tools.usps.com/go/TrackConfirmAction?tLabels={number}",
    "dpd": "https://tracking.dpd.de/status/en_US/parcel/{number}",
    "posten": "https://tracking.postnord.com/se/?id={number}",
}


def tracking_url(carrier: str, number: str) -> str:
    template = TRACKING_URLS.get(carrier)
    return template.format(number=quote(number, safe="")) if template else ""


async def create_shipment(
    order_id: int, lines: list[tuple[int, int]], carrier: str, tracking_number: str, actor: Account | None
) -> Shipment:
    carrier, tracking_number = carrier.strip().lower(), tracking_number.strip()
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,49}", carrier):
        raise DomainError("INVALID", "The carrier is a code such as dhl or ups.", ["carrier"])
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9 -]{0,99}", tracking_number):
        raise DomainError("INVALID", "A tracking number is 1–100 letters, digits, spaces or dashes.", ["trackingNumber"])
    if not lines:
        raise DomainError("INVALID", "Ship at least one line.", ["lines"])
    async with outbox.transaction():
        order = await Order.filter(id=order_id).select_for_update().first()
        if order is None:
            raise DomainError("NOT_FOUND", "No order has this ID.", ["orderId"])
        if order.status not in (OrderStatus.PAID, OrderStatus.PARTIALLY_SHIPPED):
            raise DomainError("INVALID_TRANSITION", f"An order that is {order.status} cannot ship.", ["orderId"])
        order_lines = {line.id: line for line in await OrderLine.filter(order_id=order.id)}
        shipping: dict[int, int] = {}
        for index, (line_id, quantity) in enumerate(lines):
            line = order_lines.get(line_id)
            if line is None:
                raise DomainError("NOT_FOUND", "This order has no such line.", ["lines", str(index), "orderLineId"])
            left = line.quantity - line.quantity_shipped - shipping.get(line_id, 0)
            if quantity < 1 or quantity > left:
                raise DomainError("INVALID", f"Between 1 and {left} of {line.sku} can still ship.", ["lines", str(index), "quantity"])
            shipping[line_id] = shipping.get(line_id, 0) + quantity
        if await Shipment.filter(carrier=carrier, tracking_number=tracking_number).exists():
            raise DomainError("DUPLICATE", "This carrier already has a shipment with this tracking number.", ["trackingNumber"])

        takes = await _take_from_allocations(order, {order_lines[i].variant_id: q for i, q in shipping.items()})
        await _sell(order, takes, actor)
        for line_id, quantity in shipping.items():
            order_lines[line_id].quantity_shipped += quantity
            await OrderLine.filter(id=line_id).update(quantity_shipped=order_lines[line_id].quantity_shipped)
        complete = all(line.quantity_shipped == line.quantity for line in order_lines.values())
        status = OrderStatus.SHIPPED if complete else OrderStatus.PARTIALLY_SHIPPED
        if status != order.status:
            check_transition(order.status, status)
            order.status = status
            await order.save(update_fields=["status"])
        try:
            shipment = await Shipment.create(
                order_id=order.id, carrier=carrier, tracking_number=tracking_number,
                tracking_url=tracking_url(carrier, tracking_number),
            )
        except IntegrityError:
            raise DomainError("DUPLICATE", "This carrier already has a shipment with this tracking number.", ["trackingNumber"]) from None
        await ShipmentLine.bulk_create([ShipmentLine(shipment_id=shipment.id, order_line_id=i, quantity=q) for i, q in shipping.items()])
        await OrderEvent.create(order_id=order.id, kind=status.value, actor=actor.email if actor else "",
                                message=f"{sum(shipping.values())} unit(s) shipped with {carrier} ({tracking_number}).")
    return shipment


async def _take_from_allocations(order: Order, wanted: dict[int | None, int]) -> list[tuple[Allocation, int]]:
    """Which allocations the shipped units come from, oldest first."""
    takes: list[tuple[Allocation, int]] = []
    for allocation in await Allocation.filter(order_id=order.id, quantity__gt=0).order_by("id"):
        left = wanted.get(allocation.variant_id, 0)
        if left <= 0 or allocation.stock_id is None:
            continue
        take = min(left, allocation.quantity)
        takes.append((allocation, take))
        wanted[allocation.variant_id] = left - take
    if any(left > 0 for left in wanted.values()):
        raise DomainError("INVALID", "Part of this order holds no reserved stock to ship from.", ["lines"])
    return takes


async def _sell(order: Order, takes: list[tuple[Allocation, int]], actor: Account | None) -> None:
    """On hand and reserved both drop: one UPDATE for every stock row, then the ledger."""
    sold: dict[int, int] = {}
    for allocation, take in takes:
        sold[allocation.stock_id] = sold.get(allocation.stock_id, 0) + take
    locked = {s.id: s for s in await Stock.filter(id__in=sorted(sold)).order_by("id").select_for_update()}
    await shift_stock({stock_id: (-units, -units) for stock_id, units in sold.items()})
    after = {stock_id: locked[stock_id].quantity - units for stock_id, units in sold.items()}
    await StockMovement.bulk_create([
        StockMovement(stock_id=a.stock_id, variant_id=a.variant_id, kind="SALE", delta=-take, reserved_delta=-take,
                      quantity_after=after[a.stock_id], reason=f"order #{order.number}", actor=actor.email if actor else "")
        for a, take in takes
    ])
    for allocation, take in takes:
        await Allocation.filter(id=allocation.id).update(quantity=allocation.quantity - take)
