"""An order's lines as GraphQL shows them: what the order, its refunds and its returns list."""

from __future__ import annotations

import strawberry

from loaders import Loaders
from models import OrderLine as LineModel
from schema.context import Context
from schema.ids import encode_id
from schema.shared import Money, build_money


@strawberry.type(description="One item of an order, as it was at checkout.")
class OrderLine:
    id: strawberry.ID = strawberry.field(description="The line's ID, for `ShipmentLineInput.orderLineId`.")
    sku: str = strawberry.field(description="The variant's SKU at checkout.")
    product_name: str = strawberry.field(description="The product's name at checkout.")
    variant_name: str = strawberry.field(description="The variant's name at checkout.")
    quantity: int = strawberry.field(description="Units ordered.")
    quantity_shipped: int = strawberry.field(description="Units sent so far, over all shipments.")
    quantity_refunded: int = strawberry.field(description="Units whose money was given back (or is being given back).")
    quantity_returned: int = strawberry.field(
        description="Units in returns not rejected: they cannot be asked back again."
    )
    unit_price: Money = strawberry.field(description="The price of one unit at checkout.")
    total: Money = strawberry.field(description="`unitPrice` times `quantity`, rounded to the currency's minor unit.")


async def order_line_of(loaders: Loaders, context: Context, order_id: int, line_id: int) -> OrderLine:
    """One line of an order, read with all of the order's lines (a refund's or a return's lines
    name theirs: one read of the order's lines serves them all)."""
    lines = await loaders.order_lines_by_order_id.load(order_id)
    return build_order_line(context, next(line for line in lines if line.id == line_id))


def build_order_line(context: Context, line: LineModel) -> OrderLine:
    return OrderLine(
        id=encode_id("OrderLine", line.id),
        sku=line.sku,
        product_name=line.product_name,
        variant_name=line.variant_name,
        quantity=line.quantity,
        quantity_shipped=line.quantity_shipped,
        quantity_refunded=line.quantity_refunded,
        quantity_returned=line.quantity_returned,
        unit_price=build_money(line.unit_price, context),
        total=build_money(line.total, context),
    )
