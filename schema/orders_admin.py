"""Orders for staff (MANAGE_ORDERS): every order, its changes as they happen, and moving it through its states."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime

import strawberry
from strawberry.types import Info

from models import Order as OrderModel
from models import OrderStatus, Permission
from models.changes import ORDERS
from resolvers import orders, orders_admin
from schema.context import Context
from schema.errors import Forbidden, Unauthenticated
from schema.ids import decode_id_of
from schema.live import follow
from schema.orders import Order, build_order
from schema.permissions import require_permission, requires
from schema.shared import Connection, UserError, attempt


@strawberry.input
class OrderFilter:
    status: list[OrderStatus] | None = None
    email: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


@strawberry.type
class OrderPayload:
    order: Order | None
    user_errors: list[UserError]


def _order_id(order_id: strawberry.ID) -> int:
    return decode_id_of(order_id, "Order", "orderId")


@strawberry.type
class OrdersAdminQuery:
    @strawberry.field(extensions=requires(Permission.MANAGE_ORDERS), description="Every order, newest first.")
    async def orders(
        self,
        info: Info[Context, None],
        filter: OrderFilter | None = None,
        first: int | None = None,
        after: str | None = None,
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
    @strawberry.mutation(extensions=requires(Permission.MANAGE_ORDERS))
    async def order_mark_paid(self, info: Info[Context, None], order_id: strawberry.ID) -> OrderPayload:
        order, errors = await attempt(orders_admin.mark_paid(_order_id(order_id), await info.context.viewer()))
        return OrderPayload(order=None if order is None else build_order(info.context, order), user_errors=errors)

    @strawberry.mutation(
        extensions=requires(Permission.MANAGE_ORDERS), description="Releases the reserved stock; refunds a paid order."
    )
    async def order_cancel(
        self, info: Info[Context, None], order_id: strawberry.ID, reason: str | None = None
    ) -> OrderPayload:
        order, errors = await attempt(orders_admin.cancel(_order_id(order_id), reason, await info.context.viewer()))
        return OrderPayload(order=None if order is None else build_order(info.context, order), user_errors=errors)

    @strawberry.mutation(extensions=requires(Permission.MANAGE_ORDERS))
    async def order_refund(self, info: Info[Context, None], order_id: strawberry.ID) -> OrderPayload:
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
