"""Staff shipping an order, in parts if need be (MANAGE_SHIPMENTS).

Units ship from the warehouses that reserved them (the order's allocations, oldest first): on
those stock rows both on hand and reserved drop by the shipped quantity, with a SALE ledger row,
in the same transaction as the shipment, the lines' shipped counts and the order's new status.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from tortoise.exceptions import IntegrityError

from models import (
    Account,
    Allocation,
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
from models.shipments import TRACKING_NUMBER_LENGTH
from resolvers import outbox
from resolvers.checkout import carrier_code
from resolvers.errors import DomainError, ErrorCode, text_code
from resolvers.inventory import shift_stock, stock_deltas
from resolvers.orders import check_transition, locked_order, record_change
from resolvers.shipments import announce_shipment, tracking_url


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
        if order.status not in (OrderStatus.PAID, OrderStatus.PARTIALLY_SHIPPED, OrderStatus.PARTIALLY_REFUNDED):
            raise DomainError(
                ErrorCode.INVALID_TRANSITION, f"An order that is {order.status} cannot ship.", ["orderId"]
            )
        order_lines = {line.id: line for line in await OrderLine.filter(order_id=order.id)}
        # What is left of a partly refunded order ships: its units still reserved (a refunded unit
        # that had not shipped gave its reservation back, resolvers/refunds.py).
        held = await _held(order) if order.status == OrderStatus.PARTIALLY_REFUNDED else None
        shipping: dict[int, int] = {}
        for index, (line_id, quantity) in enumerate(lines):
            line = order_lines.get(line_id)
            if line is None:
                raise DomainError(
                    ErrorCode.NOT_FOUND, "This order has no such line.", ["lines", str(index), "orderLineId"]
                )
            left = line.quantity - line.quantity_shipped - shipping.get(line_id, 0)
            if held is not None:
                left = min(left, held.get(line.variant_id, 0) - shipping.get(line_id, 0))
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
        if held is not None:
            # A partly refunded order stays so: its status says where its money is, and the
            # parcels say where its goods are.
            sent: dict[int | None, int] = {}
            for line_id, quantity in shipping.items():
                sent[order_lines[line_id].variant_id] = sent.get(order_lines[line_id].variant_id, 0) + quantity
            complete = all(units <= sent.get(variant_id, 0) for variant_id, units in held.items())
            status = OrderStatus.SHIPPED if complete else OrderStatus.PARTIALLY_SHIPPED
        changed = status != order.status and held is None
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


async def _held(order: Order) -> dict[int | None, int]:
    """The units still reserved for the order, per variant: what can still ship."""
    held: dict[int | None, int] = {}
    for allocation in await Allocation.filter(order_id=order.id, quantity__gt=0, stock_id__isnull=False):
        held[allocation.variant_id] = held.get(allocation.variant_id, 0) + allocation.quantity
    return held


async def _estimate(order: Order) -> date | None:
    """The latest day the order's shipping method promises, counted from today."""
    method = await ShippingMethod.filter(name=order.shipping_method_name, carrier=order.shipping_carrier).first()
    return None if method is None else datetime.now(UTC).date() + timedelta(days=method.max_days)


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
