"""Asking for a return (`returnRequest`), by whoever holds the order's token: its customer, or staff
on their behalf; and what every return mutation answers. (The Return type is in `returns`, which
the Order type reads; staff handle returns in `returns_admin`.)"""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from models import Return as ReturnModel
from models.orders import EVENT_MESSAGE_LENGTH
from resolvers import returns
from schema.context import Context
from schema.ids import decode_id_of
from schema.orders import Order, build_order
from schema.returns import Return, build_return
from schema.shared import UserError, attempt


@strawberry.input(description="Units of one order line to send back.")
class ReturnLineInput:
    order_line_id: strawberry.ID = strawberry.field(description="The line (`OrderLine.id`).")
    quantity: int = strawberry.field(description="How many units: from 1 to those shipped and not returned yet.")


@strawberry.type(description="What a return mutation did.")
class ReturnPayload:
    return_: Return | None = strawberry.field(name="return", description="The return as it now is; null when refused.")
    order: Order | None = strawberry.field(description="Its order as it now is; null when refused.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed; empty on success.")


async def return_payload(context: Context, ret: ReturnModel | None, errors: list[UserError]) -> ReturnPayload:
    # Loaded after the change (a mutation's loaders are its own).
    order = None if ret is None else await context.loaders.order_by_id.load(ret.order_id)
    return ReturnPayload(
        return_=None if ret is None else build_return(context, ret),
        order=None if order is None else build_order(context, order),
        user_errors=errors,
    )


@strawberry.type
class ReturnsRequestMutation:
    @strawberry.mutation(
        description="Ask to send back units that shipped, with the order's token (`Order.token`), as its customer or "
        "staff on their behalf. A unit can be returned once."
    )
    async def return_request(
        self,
        info: Info[Context, None],
        order_token: Annotated[strawberry.ID, strawberry.argument(description="The order's token (`Order.token`).")],
        lines: Annotated[list[ReturnLineInput], strawberry.argument(description="The units to send back.")],
        reason: Annotated[
            str | None, strawberry.argument(description=f"Why: at most {EVENT_MESSAGE_LENGTH} characters.")
        ] = None,
    ) -> ReturnPayload:
        wanted = [
            returns.LineRequest(
                line.quantity, order_line_id=decode_id_of(line.order_line_id, "OrderLine", "orderLineId")
            )
            for line in lines
        ]
        ret, errors = await attempt(returns.request(str(order_token), wanted, reason, await info.context.viewer()))
        return await return_payload(info.context, ret, errors)
