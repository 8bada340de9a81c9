"""What checkout offers a cart: shipping methods, and completing it into an order (`checkout_admin`: what staff set up)."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from models.orders import IDEMPOTENCY_KEY_LENGTH
from resolvers import checkout, checkout_complete
from schema.context import Context
from schema.ids import decode_id_of, encode_id
from schema.orders import Order, build_order
from schema.payments import Payment, build_payment
from schema.shared import Money, UserError, attempt, build_money, described_enum

described_enum(
    checkout.ShippingMethodStatus,
    "Whether a shipping method is offered (`shippingMethods`' filter).",
    {
        checkout.ShippingMethodStatus.ACTIVE: "Offered to every cart it serves.",
        checkout.ShippingMethodStatus.INACTIVE: "Switched off by staff (`shippingMethodUpdate`): offered to no cart.",
        checkout.ShippingMethodStatus.ARCHIVED: "Deleted while carts not checked out yet had chosen it: kept for "
        "them (checkout tells them it no longer serves them) and for history, offered to no cart.",
    },
)


@strawberry.type(description="A way to ship an order, with its price for the cart at hand.")
class ShippingMethod:
    id: strawberry.ID = strawberry.field(description="The method's ID, for `cartUpdateShippingMethod`.")
    name: str = strawberry.field(description='Its name as shoppers see it, such as "Standard".')
    carrier: str = strawberry.field(description="The carrier's code, lowercase, such as dhl or ups.")
    price: Money = strawberry.field(
        description="For this cart: zero from the method's free-shipping threshold on. Outside a cart (staff's "
        "`shippingMethods` and mutations): its own price."
    )
    min_days: int = strawberry.field(description="The fewest days delivery takes once shipped.")
    max_days: int = strawberry.field(description="The most days delivery takes once shipped.")
    free_over: Money | None = strawberry.field(
        description="Free for carts whose subtotal reaches this amount; null: never free."
    )
    countries: list[str] = strawberry.field(description="The ISO codes of the countries it serves; empty: every one.")
    min_weight_grams: int = strawberry.field(description="The lightest cart it serves, in grams.")
    max_weight_grams: int | None = strawberry.field(
        description="The heaviest cart it serves, in grams; null: no limit."
    )
    status: checkout.ShippingMethodStatus = strawberry.field(
        description="Whether it is offered; always ACTIVE in a cart's `availableShippingMethods`."
    )


def build_shipping_method(context: Context, shipping: checkout.ShippingQuote) -> ShippingMethod:
    method = shipping.method
    return ShippingMethod(
        id=encode_id("ShippingMethod", method.id),
        name=method.name,
        carrier=method.carrier,
        price=build_money(shipping.price, context),
        min_days=method.min_days,
        max_days=method.max_days,
        free_over=None if method.free_over is None else build_money(method.free_over, context),
        countries=list(method.countries),
        min_weight_grams=method.min_weight_grams,
        max_weight_grams=method.max_weight_grams,
        status=checkout.shipping_method_status(method),
    )


@strawberry.input(description="How the order is paid.")
class PaymentInput:
    provider: str = strawberry.field(description="manual (placed unpaid) or test-card.")
    token: str | None = strawberry.field(
        default=None,
        description="What the provider needs to charge, such as a card token from its payment form; test-card "
        "declines tok_decline, asks for the shopper with tok_requires_action (3-D Secure: the order is placed "
        "AWAITING_PAYMENT and paid when the processor's webhook confirms) and approves any other. manual needs none.",
    )


@strawberry.type(description="What `checkoutComplete` did.")
class CheckoutCompletePayload:
    order: Order | None = strawberry.field(
        description="The order the cart became (also when the same cart or key comes again); null when refused."
    )
    payment: Payment | None = strawberry.field(
        description="The order's payment as it stands: ACTION_REQUIRED says the shopper must finish it with its "
        "`clientSecret` or `redirectUrl` (the order is AWAITING_PAYMENT until then); null when refused."
    )
    user_errors: list[UserError] = strawberry.field(
        description="Why no order was placed; empty on success. Nothing was charged, reserved or changed."
    )


@strawberry.type
class CheckoutMutation:
    @strawberry.mutation(description="Turn the cart into an order: exactly once per cart and per idempotency key.")
    async def checkout_complete(
        self,
        info: Info[Context, None],
        cart_token: Annotated[
            strawberry.ID,
            strawberry.argument(description="The token of the cart to turn into an order (`Cart.token`)."),
        ],
        payment: Annotated[
            PaymentInput | None,
            strawberry.argument(
                description="How the order is paid, in one step (providers that never need the shopper). Give "
                "this or `paymentId`."
            ),
        ] = None,
        payment_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(
                description="The payment opened for this cart by `checkoutPaymentInitialize`, for its current total: "
                "PAYMENT_AMOUNT_MISMATCH when the cart changed since, PAYMENT_NOT_USABLE when it is another cart's, "
                "used or ended. Give this or `payment`."
            ),
        ] = None,
        idempotency_key: Annotated[
            str | None,
            strawberry.argument(
                description=f"1–{IDEMPOTENCY_KEY_LENGTH} characters the client makes up once per order attempt and sends again on a "
                "retry: a key that already placed an order answers that order."
            ),
        ] = None,
    ) -> CheckoutCompletePayload:
        context = info.context
        session = None if payment_id is None else decode_id_of(payment_id, "Payment", "paymentId")
        placed, errors = await attempt(
            checkout_complete.complete(
                cart_token,
                None if payment is None else payment.provider,
                None if payment is None else payment.token,
                idempotency_key,
                context.prices_include_tax,
                await context.viewer(),
                session,
            )
        )
        if placed is None:
            return CheckoutCompletePayload(order=None, payment=None, user_errors=errors)
        paid_with = placed.payment
        if paid_with is None:  # an order placed before: its payment as it stands, the last of its payments
            payments = await context.loaders.payments_by_order_id.load(placed.order.id)
            paid_with = payments[-1] if payments else None
        return CheckoutCompletePayload(
            order=build_order(context, placed.order),
            payment=None if paid_with is None else build_payment(context, paid_with),
            user_errors=errors,
        )
