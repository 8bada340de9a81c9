"""Orders for staff (MANAGE_ORDERS): every order, its changes as they happen, and moving it through its states."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from decimal import Decimal
from typing import Annotated

import strawberry
from strawberry.types import Info

from models import Order as OrderModel
from models import OrderStatus, Permission
from models import Refund as RefundModel
from models.changes import ORDERS
from models.orders import EVENT_MESSAGE_LENGTH
from resolvers import orders, orders_admin, refunds
from schema.context import Context
from schema.errors import Forbidden, Unauthenticated
from schema.ids import decode_id_of
from schema.live import follow
from schema.orders import Order, build_order
from schema.permissions import require_permission, requires
from schema.refunds import Refund, build_refund
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


@strawberry.input(description="Units of one order line to give the money back for.")
class OrderRefundLineInput:
    order_line_id: strawberry.ID = strawberry.field(description="The line (`OrderLine.id`).")
    quantity: int = strawberry.field(description="How many units: from 1 to those of the line not refunded yet.")
    restock: bool = strawberry.field(
        default=False,
        description="Put units that had shipped back on hand (they came back sellable). Units not shipped yet "
        "always give their reservation back.",
    )


@strawberry.type(description="What a refund mutation did.")
class RefundPayload:
    refund: Refund | None = strawberry.field(
        description="The refund: SUCCEEDED, or PENDING when the provider did not answer (it is asked again); null "
        "when refused."
    )
    order: Order | None = strawberry.field(description="The order as it now is; null when refused.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed; empty on success.")


async def _refund_payload(context: Context, refund: RefundModel | None, errors: list[UserError]) -> RefundPayload:
    # Loaded after the change (a mutation's loaders are its own): the order as the refund left it.
    order = None if refund is None else await context.loaders.order_by_id.load(refund.order_id)
    return RefundPayload(
        refund=None if refund is None else build_refund(context, refund),
        order=None if order is None else build_order(context, order),
        user_errors=errors,
    )


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

    @strawberry.mutation(
        extensions=requires(Permission.MANAGE_ORDERS),
        description="Give back part of what an order's payment took: units of lines, the shipping, or an amount. "
        "Never more than the payment captured and has not given back; the order becomes PARTIALLY_REFUNDED, or "
        "REFUNDED once everything is given back.",
    )
    async def order_refund_create(
        self,
        info: Info[Context, None],
        order_id: OrderId,
        lines: Annotated[
            list[OrderRefundLineInput] | None,
            strawberry.argument(description="The units to refund, each line once; left out: none."),
        ] = None,
        include_shipping: Annotated[
            bool, strawberry.argument(description="Also give back the shipping not refunded yet.")
        ] = False,
        amount: Annotated[
            Decimal | None,
            strawberry.argument(
                description="The amount to give back, above 0 with at most the currency's decimals; left out: what "
                "the lines (and the shipping) cost."
            ),
        ] = None,
        reason: Annotated[
            str | None,
            strawberry.argument(
                description=f"Why, for the order's history: at most {EVENT_MESSAGE_LENGTH} characters."
            ),
        ] = None,
    ) -> RefundPayload:
        request = refunds.RefundRequest(
            [
                refunds.LineRequest(
                    decode_id_of(line.order_line_id, "OrderLine", "orderLineId"), line.quantity, line.restock
                )
                for line in lines or []
            ],
            include_shipping,
            amount,
            reason or "",
        )
        refund, errors = await attempt(
            orders_admin.refund_create(decode_id_of(order_id, "Order", "orderId"), request, await info.context.viewer())
        )
        return await _refund_payload(info.context, refund, errors)


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
