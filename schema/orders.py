"""Orders as a customer sees them: the Order type, an order by its token, and orders followed live.

A customer's own orders are a field of `Customer` (schema/accounts.py); what staff see and do is in
`orders_admin`.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from loaders import Loaders
from models import Order as OrderModel
from models import OrderEvent as EventModel
from models import OrderStatus, Permission
from models.changes import customer_topic, order_topic
from resolvers import orders
from resolvers.errors import GraphQLErrorCode
from schema.addresses import MailingAddress, build_mailing_address
from schema.context import Context
from schema.errors import GatewayError, Unauthenticated
from schema.ids import encode_id
from schema.live import follow
from schema.order_lines import OrderLine, build_order_line
from schema.payments import Payment, build_payment
from schema.permissions import require_signed_in
from schema.refunds import Refund, build_refund
from schema.returns import Return, build_return
from schema.shared import Money, Node, build_money, described_enum
from schema.shipments import Shipment, build_shipment

# The domain's enum, registered as GraphQL's OrderStatus as it is: strawberry.enum returns the class it was
# given, so both layers name it alike.
described_enum(
    OrderStatus,
    "Where an order is in its life. Staff move it on (paid, cancelled, refunded) and its parcels do (shipped, "
    "delivered); CANCELLED and REFUNDED are final.",
    {
        OrderStatus.AWAITING_PAYMENT: "Placed with its stock reserved, its payment waiting for the shopper (3-D "
        "Secure, a redirect) or the provider: PAID once the provider confirms, CANCELLED when it fails or is not "
        "confirmed within PAYMENT_TIMEOUT.",
        OrderStatus.PLACED: "Placed and not paid yet (manual payment): staff mark it PAID when the money arrives. "
        "Its stock is reserved until it ships or is cancelled.",
        OrderStatus.PAID: "Paid, waiting to be shipped.",
        OrderStatus.PARTIALLY_SHIPPED: "Part of it has shipped; the rest is still to ship.",
        OrderStatus.SHIPPED: "Everything has shipped, and not every parcel has been delivered yet.",
        OrderStatus.DELIVERED: "Every parcel has been delivered (SHIPPED again if one moves after that).",
        OrderStatus.CANCELLED: "Cancelled before anything shipped: its stock released, a payment refunded.",
        OrderStatus.PARTIALLY_REFUNDED: "Part of the money taken was given back (some lines, the shipping or an "
        "amount); the rest may still ship.",
        OrderStatus.REFUNDED: "The payment was given back, in full.",
    },
)


@strawberry.type(description="One thing that happened to an order, for its history.")
class OrderEvent:
    kind: str = strawberry.field(
        description="What happened: the status the order reached, as an OrderStatus name (PLACED, PAID, SHIPPED, "
        "CANCELLED, ...), a refund (REFUNDED, REFUND_FAILED) or a return's step (RETURN_REQUESTED, RETURN_APPROVED, "
        "RETURN_REJECTED, RETURN_RECEIVED)."
    )
    message: str = strawberry.field(
        description="What happened, in English, for people: a cancellation's reason, what was shipped."
    )
    created_at: datetime = strawberry.field(description="When it happened.")
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
    return [build_order_line(root._context, r) for r in rows]


async def _events(root: Order) -> list[OrderEvent]:
    return [_event(e) for e in await root._loaders.order_events_by_order_id.load(root._order_id)]


async def _payments(root: Order) -> list[Payment]:
    rows = await root._loaders.payments_by_order_id.load(root._order_id)
    return [build_payment(root._context, p) for p in rows]


async def _shipments(root: Order) -> list[Shipment]:
    rows = await root._loaders.shipments_by_order_id.load(root._order_id)
    return [build_shipment(root._context, s) for s in rows]


async def _refunds(root: Order) -> list[Refund]:
    return [build_refund(root._context, r) for r in await root._loaders.refunds_by_order_id.load(root._order_id)]


async def _returns(root: Order) -> list[Return]:
    return [build_return(root._context, r) for r in await root._loaders.returns_by_order_id.load(root._order_id)]


@strawberry.type(
    description="An order, as its customer, whoever holds its token and staff with MANAGE_ORDERS see it. Its "
    "prices, address and shipping method are those of checkout: later catalogue changes leave it as it is."
)
class Order(Node):
    number: int = strawberry.field(description="The order's number for people (emails, support): sequential.")
    token: strawberry.ID = strawberry.field(description="Unguessable: whoever holds it can follow the order.")
    status: OrderStatus = strawberry.field(description="Where the order is now.")
    email: str = strawberry.field(description="Where the order's messages go: the cart's email at checkout.")
    lines: list[OrderLine] = strawberry.field(resolver=_lines, description="What was bought.")
    subtotal: Money = strawberry.field(description="The lines' totals added up, before discount, shipping and tax.")
    discount_total: Money = strawberry.field(description="What the discount code took off; zero without one.")
    shipping_total: Money = strawberry.field(description="What shipping cost.")
    tax_total: Money = strawberry.field(description="The tax in `total`, included in the prices or added on top.")
    total: Money = strawberry.field(description="What the order costs, all in: what was charged or is to be paid.")
    shipping_address: MailingAddress = strawberry.field(description="Where the order ships.")
    billing_address: MailingAddress = strawberry.field(
        description="Where the order is billed: the cart's billing address at checkout, or its shipping address "
        "when none was given."
    )
    shipping_method_name: str = strawberry.field(description="The name of the shipping method chosen at checkout.")
    discount_code: str | None = strawberry.field(description="The discount code used, in capitals; null when none.")
    created_at: datetime = strawberry.field(description="When the order was placed.")
    events: list[OrderEvent] = strawberry.field(
        resolver=_events, description="Its history, oldest first: placed, paid, shipped, cancelled, ..."
    )
    shipments: list[Shipment] = strawberry.field(
        resolver=_shipments, description="The parcels sent so far, in the order they were created."
    )
    payments: list[Payment] = strawberry.field(
        resolver=_payments,
        description="Its payments, oldest first, each with every event it had: the last is the one the order "
        "stands on.",
    )
    refunds: list[Refund] = strawberry.field(
        resolver=_refunds, description="Money given back, oldest first: each refund with its status and lines."
    )
    returns: list[Return] = strawberry.field(
        resolver=_returns, description="Goods asked back, oldest first, each with its status."
    )
    _order_id: strawberry.Private[int]
    _context: strawberry.Private[Context]
    _loaders: strawberry.Private[Loaders]


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
        billing_address=build_mailing_address(order.billing_address or order.shipping_address),
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
    async def order(
        self,
        info: Info[Context, None],
        token: Annotated[
            strawberry.ID, strawberry.argument(description="The order's token (`Order.token`), from checkout.")
        ],
    ) -> Order | None:
        order = await orders.order_by_token(token)
        return None if order is None else build_order(info.context, order)


@strawberry.type
class OrdersSubscription:
    @strawberry.subscription(
        description="The order now, then at every change of its status. Anyone with its token may follow it."
    )
    async def order_status_changed(
        self,
        info: Info[Context, None],
        order_token: Annotated[strawberry.ID, strawberry.argument(description="The order's token (`Order.token`).")],
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
