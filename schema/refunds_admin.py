"""Staff giving an order's money back, in part or in whole (`orderRefundCreate`, MANAGE_ORDERS)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

import strawberry
from strawberry.types import Info

from models import Permission
from models import Refund as RefundModel
from models.orders import EVENT_MESSAGE_LENGTH
from resolvers import refunds
from schema.context import Context
from schema.ids import decode_id_of
from schema.orders import Order, build_order
from schema.orders_admin import OrderId
from schema.permissions import requires
from schema.refunds import Refund, build_refund
from schema.shared import UserError, attempt


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


async def _payload(context: Context, refund: RefundModel | None, errors: list[UserError]) -> RefundPayload:
    # Loaded after the change (a mutation's loaders are its own): the order as the refund left it.
    order = None if refund is None else await context.loaders.order_by_id.load(refund.order_id)
    return RefundPayload(
        refund=None if refund is None else build_refund(context, refund),
        order=None if order is None else build_order(context, order),
        user_errors=errors,
    )


@strawberry.type
class RefundsMutation:
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
            refunds.create(decode_id_of(order_id, "Order", "orderId"), request, await info.context.viewer())
        )
        return await _payload(info.context, refund, errors)
