"""Payments as clients see them: the Payment type (`Order.payments`, `checkoutComplete`'s answer)
and `checkoutPaymentInitialize`, which opens a payment session for a cart."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

import strawberry
from strawberry.types import Info

from loaders import Loaders
from models import Payment as PaymentModel
from models import PaymentEvent as EventModel
from models import PaymentStatus
from models.payments import METHOD_LENGTH
from resolvers import payments_sessions
from schema.context import Context
from schema.ids import encode_id
from schema.shared import CurrencyCode, Node, UserError, attempt, described_enum

described_enum(
    PaymentStatus,
    "Where a payment is with its provider. CAPTURED is final (what was refunded since is `refunded`); DECLINED "
    "and CANCELLED hold nothing.",
    {
        PaymentStatus.PENDING: "Opened with the provider; nothing is held yet. `checkoutComplete` confirms it.",
        PaymentStatus.ACTION_REQUIRED: "The provider waits for the shopper: finish it with `clientSecret` in the "
        "provider's form (3-D Secure) or send the shopper to `redirectUrl`. The order is AWAITING_PAYMENT meanwhile.",
        PaymentStatus.AUTHORIZED: "Held by the provider, not taken yet: the order is PLACED.",
        PaymentStatus.CAPTURED: "Taken: the order is PAID.",
        PaymentStatus.DECLINED: "Refused, or the shopper failed the provider's check: nothing is held.",
        PaymentStatus.CANCELLED: "Ended holding nothing: never used, timed out (PAYMENT_TIMEOUT) or given back.",
        PaymentStatus.RETURNING: "Never shown: the gateway is giving the money back, and it ends CANCELLED, which is "
        "how such a payment is shown.",
    },
)


@strawberry.type(description="One thing that happened to a payment, as the gateway did it or the provider reported it.")
class PaymentEvent:
    type: str = strawberry.field(
        description="What happened: INITIALIZED, ACTION_REQUIRED, AUTHORIZED, CAPTURED, DECLINED, CANCELLED, "
        "REFUNDED, EXPIRED (not confirmed within PAYMENT_TIMEOUT), or a provider's own event name."
    )
    amount: Decimal = strawberry.field(description="The amount it was about, in the payment's currency (0: none).")
    at: datetime = strawberry.field(description="When the gateway recorded it.")


async def _events(root: Payment) -> list[PaymentEvent]:
    rows = await root._loaders.events_by_payment_id.load(root._payment_id)
    return [build_payment_event(e) for e in rows]


@strawberry.type(
    description="A payment of a cart or an order with a provider: opened by `checkoutPaymentInitialize` (or by the "
    "one-step `checkoutComplete`), confirmed by `checkoutComplete`, settled by the provider."
)
class Payment(Node):
    provider: str = strawberry.field(description="The provider's name: manual, test-card, ...")
    status: PaymentStatus = strawberry.field(description="Where the payment is now.")
    amount: Decimal = strawberry.field(
        description="What the provider is asked for: the cart's total when the payment was opened."
    )
    currency: str = strawberry.field(graphql_type=CurrencyCode, description="The currency of every amount here.")
    client_secret: str | None = strawberry.field(
        description="What the provider's payment form in the shopper's browser needs to finish the payment "
        "(3-D Secure); null when the provider has none."
    )
    redirect_url: str | None = strawberry.field(
        description="Where to send the shopper to finish the payment with the provider; null when nowhere."
    )
    captured: Decimal = strawberry.field(description="What was taken (0 until CAPTURED).")
    refunded: Decimal = strawberry.field(description="What was given back of `captured`.")
    events: list[PaymentEvent] = strawberry.field(
        resolver=_events, description="Its history, oldest first, every event the provider sent included."
    )
    _payment_id: strawberry.Private[int]
    _loaders: strawberry.Private[Loaders]


def build_payment_event(event: EventModel) -> PaymentEvent:
    return PaymentEvent(type=event.type, amount=event.amount, at=event.created_at)


def build_payment(context: Context, payment: PaymentModel) -> Payment:
    return Payment(
        id=encode_id("Payment", payment.id),
        provider=payment.provider,
        status=payments_sessions.shown_status(payment.status),
        amount=payment.amount or Decimal(0),
        currency=payment.currency or context.currency,
        client_secret=payment.client_secret or None,
        redirect_url=payment.redirect_url or None,
        captured=payment.captured,
        refunded=payment.refunded,
        _payment_id=payment.id,
        _loaders=context.loaders,
    )


@strawberry.type(description="What `checkoutPaymentInitialize` did.")
class PaymentInitializePayload:
    payment: Payment | None = strawberry.field(
        description="The payment opened for the cart's total; pass its `id` to `checkoutComplete(paymentId:)`. "
        "Null when refused."
    )
    user_errors: list[UserError] = strawberry.field(description="Why no payment was opened; empty on success.")


@strawberry.type
class PaymentsMutation:
    @strawberry.mutation(
        description="Open a payment with a provider for the cart's total as it is now, before checkout: the "
        "storefront shows the provider's form with `clientSecret` (or sends the shopper to `redirectUrl`), then "
        "places the order with `checkoutComplete(paymentId:)`. A cart changed since cannot complete with it."
    )
    async def checkout_payment_initialize(
        self,
        info: Info[Context, None],
        cart_token: Annotated[
            strawberry.ID, strawberry.argument(description="The token of the cart to pay for (`Cart.token`).")
        ],
        provider: Annotated[str, strawberry.argument(description="manual or test-card.")],
        return_url: Annotated[
            str | None,
            strawberry.argument(
                description="Where the provider sends the shopper back after its own pages: a page of one of the "
                "shop's storefronts (STOREFRONT_URLS), else REDIRECT_URL_NOT_ALLOWED."
            ),
        ] = None,
        token: Annotated[
            str | None,
            strawberry.argument(
                description=f"The payment method chosen in the provider's form (a card token), 1–{METHOD_LENGTH} "
                "characters, charged when `checkoutComplete` confirms the payment. test-card declines tok_decline, "
                "asks for the shopper with tok_requires_action (3-D Secure: the order waits AWAITING_PAYMENT for "
                "the processor's webhook) and approves any other."
            ),
        ] = None,
    ) -> PaymentInitializePayload:
        context = info.context
        payment, errors = await attempt(
            payments_sessions.initialize(
                context.loaders,
                cart_token,
                provider,
                return_url,
                token,
                context.prices_include_tax,
                context.link_rules,
            )
        )
        return PaymentInitializePayload(
            payment=None if payment is None else build_payment(context, payment), user_errors=errors
        )
