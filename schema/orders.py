"""Orders as a customer sees them: the Order type, an order by its token, and orders followed live.

A customer's own orders are a field of `Customer` (schema/accounts.py); what staff see and do is in
`orders_admin`.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime

import strawberry
from strawberry.types import Info

from loaders import Loaders
from models import Order as OrderModel
from models import OrderEvent as EventModel
from models import OrderLine as LineModel
from models import OrderStatus, Permission
from models.changes import customer_topic, order_topic
from resolvers import orders
from resolvers.errors import GraphQLErrorCode
from schema.addresses import MailingAddress, build_mailing_address
from schema.context import Context
from schema.errors import GatewayError, Unauthenticated
from schema.ids import encode_id
from schema.live import follow
from schema.permissions import require_signed_in
from schema.shared import Money, Node, build_money
from schema.shipments import Shipment, build_shipment

# The domain's enum, registered as GraphQL's OrderStatus as it is: strawberry.enum returns the class it was
# given, so both layers name it alike.
strawberry.enum(OrderStatus, name="OrderStatus")


@strawberry.type
class OrderLine:
    id: strawberry.ID
    sku: str
    product_name: str
    variant_name: str
    quantity: int
    quantity_shipped: int
    unit_price: Money
    total: Money


@strawberry.type
class OrderEvent:
    kind: str
    message: str
    created_at: datetime
    _actor: strawberry.Private[str]

    @strawberry.field(description="Who did it (an email); shown only to staff with MANAGE_ORDERS.")
    async def actor(self, info: Info[Context, None]) -> str | None:
        account = await info.context.viewer()
        if account is None or not account.has_permission(Permission.MANAGE_ORDERS):
            return None
        return self._actor or None


# An order's relations are read when a query selects them, through the loaders of the context
# the order was built in (an order built once for a subscription event brings its own).


async def _lines(root: Order) -> list[OrderLine]:
    rows = await root._loaders.order_lines_by_order_id.load(root._order_id)
    return [_line(root._context, r) for r in rows]


async def _events(root: Order) -> list[OrderEvent]:
    return [_event(e) for e in await root._loaders.order_events_by_order_id.load(root._order_id)]


async def _shipments(root: Order) -> list[Shipment]:
    rows = await root._loaders.shipments_by_order_id.load(root._order_id)
    return [build_shipment(root._context, s) for s in rows]


@strawberry.type
class Order(Node):
    id: strawberry.ID
    number: int
    token: strawberry.ID = strawberry.field(description="Unguessable: whoever holds it can follow the order.")
    status: OrderStatus
    email: str
    lines: list[OrderLine] = strawberry.field(resolver=_lines)
    subtotal: Money
    discount_total: Money
    shipping_total: Money
    tax_total: Money
    total: Money
    shipping_address: MailingAddress
    shipping_method_name: str
    discount_code: str | None
    created_at: datetime
    events: list[OrderEvent] = strawberry.field(resolver=_events)
    shipments: list[Shipment] = strawberry.field(resolver=_shipments)
    _order_id: strawberry.Private[int]
    _context: strawberry.Private[Context]
    _loaders: strawberry.Private[Loaders]


def _line(context: Context, line: LineModel) -> OrderLine:
    return OrderLine(
        id=encode_id("OrderLine", line.id),
        sku=line.sku,
        product_name=line.product_name,
        variant_name=line.variant_name,
        quantity=line.quantity,
        quantity_shipped=line.quantity_shipped,
        unit_price=build_money(line.unit_price, context),
        total=build_money(line.total, context),
    )


def _event(event: EventModel) -> OrderEvent:
    return OrderEvent(kind=event.kind, message=event.message, created_at=event.created_at, _actor=event.actor)


def build_order(context: Context, order: OrderModel) -> Order:
    return Order(
        id=encode_id("Order", order.id),
        number=order.number,
        token=strawberry.ID(order.token),
        status=order.status,
        email=order.email,
        subtotal=build_money(order.subtotal, context),
        discount_total=build_money(order.discount_total, context),
        shipping_total=build_money(order.shipping_total, context),
        tax_total=build_money(order.tax_total, context),
        total=build_money(order.total, context),
        shipping_address=build_mailing_address(order.shipping_address),
        shipping_method_name=order.shipping_method_name,
        discount_code=order.discount_code or None,
        created_at=order.created_at,
        _order_id=order.id,
        _context=context,
        _loaders=context.loaders,
    )


@strawberry.type
class OrdersQuery:
    @strawberry.field(description="An order by its token; null when no order has it.")
    async def order(self, info: Info[Context, None], token: strawberry.ID) -> Order | None:
        order = await orders.order_by_token(token)
        return None if order is None else build_order(info.context, order)


@strawberry.type
class OrdersSubscription:
    @strawberry.subscription(
        description="The order now, then at every change of its status. Anyone with its token may follow it."
    )
    async def order_status_changed(
        self, info: Info[Context, None], order_token: strawberry.ID
    ) -> AsyncGenerator[Order, None]:
        order = await orders.order_by_token(order_token)
        if order is None:
            raise GatewayError("No order has this token.", GraphQLErrorCode.NOT_FOUND)
        order_id = order.id

        async def current() -> list[OrderModel]:
            return await orders.orders_by_id(order_id)

        async for update in follow(
            info.context, (order_topic(order_id),), OrderModel, current, build_order, distinct=lambda o: o.status
        ):
            yield update

    @strawberry.subscription(
        description="The signed-in customer's open orders now, then every change to any of their orders."
    )
    async def my_order_updates(self, info: Info[Context, None]) -> AsyncGenerator[Order, None]:
        account = await info.context.viewer()
        if account is None:
            raise Unauthenticated("Sign in first: send the access token in connection_init's `authorization`.")

        account_id = account.id

        async def current() -> list[OrderModel]:
            return await orders.open_orders(account_id)

        async for update in follow(
            info.context, (customer_topic(account_id),), OrderModel, current, build_order, requirement=require_signed_in
        ):
            yield update
