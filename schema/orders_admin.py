"""Orders for staff (MANAGE_ORDERS): every order, its changes as they happen, and moving it through its states."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from models import Order as OrderModel
from models import OrderStatus, Permission
from models.changes import ORDERS
from models.orders import EVENT_MESSAGE_LENGTH
from resolvers import orders, orders_admin
from schema.context import Context
from schema.errors import Forbidden, Unauthenticated
from schema.ids import decode_id_of
from schema.live import follow
from schema.orders import Order, build_order
from schema.permissions import require_permission, requires
from schema.shared import After, Connection, First, UserError, attempt


@strawberry.input(description="Which orders: every condition given must hold.")
class OrderFilter:
    status: list[OrderStatus] | None = strawberry.field(default=None, description="Orders in any of these statuses.")
    email: str | None = strawberry.field(
        default=None, description="Orders placed with this email address, in any case."
    )
    created_after: datetime | None = strawberry.field(default=None, description="Placed at this moment or later.")
    created_before: datetime | None = strawberry.field(default=None, description="Placed before this moment.")


@strawberry.type(description="What an order mutation did.")
class OrderPayload:
    order: Order | None = strawberry.field(description="The order as it now is; null when refused.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed; empty on success.")


# The argument naming the order in every staff mutation on one.
OrderId = Annotated[strawberry.ID, strawberry.argument(description="The order (`Order.id`).")]


def _order_id(order_id: strawberry.ID) -> int:
    return decode_id_of(order_id, "Order", "orderId")


@strawberry.type
class OrdersAdminQuery:
    @strawberry.field(extensions=requires(Permission.MANAGE_ORDERS), description="Every order, newest first.")
    async def orders(
        self,
        info: Info[Context, None],
        filter: Annotated[OrderFilter | None, strawberry.argument(description="Which orders; left out: all.")] = None,
        first: First = None,
        after: After = None,
    ) -> Connection[Order] | None:
        filter = filter or OrderFilter()
        page = await orders.list_orders(
            statuses=tuple(filter.status or ()),
            email=filter.email,
            created_after=filter.created_after,
            created_before=filter.created_before,
            first=first,
            after=after,
        )
        return Connection.of(page, [build_order(info.context, o) for o in page.rows])


@strawberry.type
class OrdersAdminMutation:
    @strawberry.mutation(
        extensions=requires(Permission.MANAGE_ORDERS),
        description="Record that a PLACED order's money has arrived (manual payment): the order becomes PAID.",
    )
    async def order_mark_paid(self, info: Info[Context, None], order_id: OrderId) -> OrderPayload:
        order, errors = await attempt(orders_admin.mark_paid(_order_id(order_id), await info.context.viewer()))
        return OrderPayload(order=None if order is None else build_order(info.context, order), user_errors=errors)

    @strawberry.mutation(
        extensions=requires(Permission.MANAGE_ORDERS), description="Releases the reserved stock; refunds a paid order."
    )
    async def order_cancel(
        self,
        info: Info[Context, None],
        order_id: OrderId,
        reason: Annotated[
            str | None,
            strawberry.argument(
                description=f"Why, for the order's history: at most {EVENT_MESSAGE_LENGTH} characters."
            ),
        ] = None,
    ) -> OrderPayload:
        order, errors = await attempt(orders_admin.cancel(_order_id(order_id), reason, await info.context.viewer()))
        return OrderPayload(order=None if order is None else build_order(info.context, order), user_errors=errors)

    @strawberry.mutation(
        extensions=requires(Permission.MANAGE_ORDERS),
        description="Give a paid order's money back in full; stock still reserved for it is released.",
    )
    async def order_refund(self, info: Info[Context, None], order_id: OrderId) -> OrderPayload:
        order, errors = await attempt(orders_admin.refund(_order_id(order_id), await info.context.viewer()))
        return OrderPayload(order=None if order is None else build_order(info.context, order), user_errors=errors)


@strawberry.type
class OrdersAdminSubscription:
    @strawberry.subscription(
        description="Every change to every order, as it happens (staff with MANAGE_ORDERS). "
        "Nothing is sent first: load `orders` for the current state."
    )
    async def order_events(self, info: Info[Context, None]) -> AsyncGenerator[Order, None]:
        account = await info.context.viewer()
        if account is None:
            raise Unauthenticated("Sign in first: send the access token in connection_init's `authorization`.")
        if not account.has_permission(Permission.MANAGE_ORDERS):
            raise Forbidden("This needs the MANAGE_ORDERS permission.")
        async for update in follow(
            info.context,
            (ORDERS,),
            OrderModel,
            None,
            build_order,
            requirement=lambda account: require_permission(account, Permission.MANAGE_ORDERS),
        ):
            yield update
