"""What checkout offers a cart: shipping methods, and completing it into an order (`checkout_admin`: what staff set up)."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from resolvers import checkout, checkout_complete
from schema.context import Context
from schema.ids import encode_id
from schema.orders import Order, build_order
from schema.shared import Money, UserError, attempt, build_money


@strawberry.type
class ShippingMethod:
    id: strawberry.ID
    name: str
    carrier: str
    price: Money = strawberry.field(description="For this cart: zero from the method's free-shipping threshold on.")
    min_days: int
    max_days: int


def build_shipping_method(context: Context, shipping: checkout.ShippingQuote) -> ShippingMethod:
    method = shipping.method
    return ShippingMethod(
        id=encode_id("ShippingMethod", method.id),
        name=method.name,
        carrier=method.carrier,
        price=build_money(shipping.price, context),
        min_days=method.min_days,
        max_days=method.max_days,
    )


@strawberry.input
class PaymentInput:
    provider: str = strawberry.field(description="manual (placed unpaid) or test-card.")
    token: str | None = None


@strawberry.type
class CheckoutCompletePayload:
    order: Order | None
    user_errors: list[UserError]


@strawberry.type
class CheckoutMutation:
    @strawberry.mutation(description="Turn the cart into an order: exactly once per cart and per idempotency key.")
    async def checkout_complete(
        self,
        info: Info[Context, None],
        cart_token: strawberry.ID,
        payment: PaymentInput,
        idempotency_key: str | None = None,
    ) -> CheckoutCompletePayload:
        context = info.context
        order, errors = await attempt(
            checkout_complete.complete(
                cart_token,
                payment.provider,
                payment.token,
                idempotency_key,
                context.prices_include_tax,
                await context.viewer(),
            )
        )
        return CheckoutCompletePayload(order=None if order is None else build_order(context, order), user_errors=errors)
