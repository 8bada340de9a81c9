"""Returns handled by staff with MANAGE_ORDERS: `returnApprove`, `returnReject` and `returnReceive`
(a return is asked for in `returns_request`)."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from models import Permission
from models.orders import EVENT_MESSAGE_LENGTH
from resolvers import returns, returns_admin
from schema.context import Context
from schema.ids import decode_id_of
from schema.permissions import requires
from schema.returns_request import ReturnPayload, return_payload
from schema.shared import attempt


@strawberry.input(description="Units of one line of the return that arrived: name the return line or the order line.")
class ReturnReceiveLineInput:
    return_line_id: strawberry.ID | None = strawberry.field(
        default=None, description="The return's line (`ReturnLine.id`)."
    )
    order_line_id: strawberry.ID | None = strawberry.field(
        default=None, description="Or the order line it is for (`OrderLine.id`)."
    )
    quantity: int = strawberry.field(description="Units that arrived: from 0 to those asked back.")


ReturnId = Annotated[strawberry.ID, strawberry.argument(description="The return (`Return.id`).")]


def _return_id(return_id: strawberry.ID) -> int:
    return decode_id_of(return_id, "Return", "returnId")


def _receive_line(line: ReturnReceiveLineInput) -> returns.LineRequest:
    if line.return_line_id is not None:
        return returns.LineRequest(
            line.quantity, return_line_id=decode_id_of(line.return_line_id, "ReturnLine", "returnLineId")
        )
    order_line = decode_id_of(line.order_line_id or "", "OrderLine", "orderLineId")
    return returns.LineRequest(line.quantity, order_line_id=order_line)


@strawberry.type
class ReturnsMutation:
    @strawberry.mutation(
        extensions=requires(Permission.MANAGE_ORDERS),
        description="Agree to a REQUESTED return: the goods may come back.",
    )
    async def return_approve(self, info: Info[Context, None], return_id: ReturnId) -> ReturnPayload:
        ret, errors = await attempt(returns_admin.approve(_return_id(return_id), await info.context.viewer()))
        return await return_payload(info.context, ret, errors)

    @strawberry.mutation(
        extensions=requires(Permission.MANAGE_ORDERS),
        description="Refuse a REQUESTED or APPROVED return: its units may be asked back again.",
    )
    async def return_reject(
        self,
        info: Info[Context, None],
        return_id: ReturnId,
        reason: Annotated[
            str | None,
            strawberry.argument(description=f"Why, told to the customer: at most {EVENT_MESSAGE_LENGTH} characters."),
        ] = None,
    ) -> ReturnPayload:
        ret, errors = await attempt(returns_admin.reject(_return_id(return_id), reason, await info.context.viewer()))
        return await return_payload(info.context, ret, errors)

    @strawberry.mutation(
        extensions=requires(Permission.MANAGE_ORDERS),
        description="Record what of an APPROVED return arrived, and refund it (as `orderRefundCreate` does): the "
        "return is REFUNDED once the refund succeeds. Units that did not arrive may be asked back again. Receiving "
        "a RECEIVED return whose refund failed tries the refund again.",
    )
    async def return_receive(
        self,
        info: Info[Context, None],
        return_id: ReturnId,
        lines: Annotated[
            list[ReturnReceiveLineInput] | None,
            strawberry.argument(description="What arrived, per line; left out: every unit asked back."),
        ] = None,
        restock: Annotated[
            bool, strawberry.argument(description="Put the units that arrived back on hand (they are sellable).")
        ] = True,
    ) -> ReturnPayload:
        received = None if lines is None else [_receive_line(line) for line in lines]
        ret, errors = await attempt(
            returns_admin.receive(_return_id(return_id), received, restock, await info.context.viewer())
        )
        return await return_payload(info.context, ret, errors)
