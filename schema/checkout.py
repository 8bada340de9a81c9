"""What checkout offers: shipping methods (staff create them with MANAGE_SHIPPING)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry
from strawberry.types import Info

from models import DiscountKind as DiscountKindModel
from models import Permission
from resolvers import checkout, checkout_complete
from schema.context import Context
from schema.ids import encode_id
from schema.orders import Order, order_view
from schema.permissions import requires
from schema.shared import Money, UserError, attempt, money


@strawberry.type
class ShippingMethod:
    id: strawberry.ID
    name: str
    carrier: str
    price: Money = strawberry.field(description="For this cart: zero from the method's free-shipping threshold on.")
    min_days: int
    max_days: int


def shipping_method_view(context: Context, shipping: checkout.ShippingQuote) -> ShippingMethod:
    method = shipping.method
    return ShippingMethod(
        id=encode_id("ShippingMethod", method.id),
        name=method.name,
        carrier=method.carrier,
        price=money(shipping.price, context),
        min_days=method.min_days,
        max_days=method.max_days,
    )


@strawberry.input
class ShippingMethodCreateInput:
    name: str
    carrier: str
    price: Decimal
    free_over: Decimal | None = None
    countries: list[str] | None = strawberry.field(default=None, description="ISO codes; none given: every country.")
    min_weight_grams: int = 0
    max_weight_grams: int | None = None
    min_days: int = 1
    max_days: int = 5


@strawberry.type
class ShippingMethodPayload:
    shipping_method: ShippingMethod | None
    user_errors: list[UserError]


@strawberry.type
class CheckoutAdminMutation:
    @strawberry.mutation(extensions=requires(Permission.MANAGE_SHIPPING))
    async def shipping_method_create(
        self, info: Info[Context, None], input: ShippingMethodCreateInput
    ) -> ShippingMethodPayload:
        method, errors = await attempt(checkout.create_shipping_method(checkout.ShippingMethodInput(**vars(input))))
        view = (
            None if method is None else shipping_method_view(info.context, checkout.ShippingQuote(method, method.price))
        )
        return ShippingMethodPayload(shipping_method=view, user_errors=errors)

    @strawberry.mutation(extensions=requires(Permission.MANAGE_DISCOUNTS))
    async def discount_code_create(self, input: DiscountCodeCreateInput) -> DiscountCodePayload:
        data = checkout.DiscountCodeInput(**{**vars(input), "kind": DiscountKindModel(input.kind.value)})
        code, errors = await attempt(checkout.create_discount_code(data))
        view = (
            None
            if code is None
            else DiscountCode(
                code=code.code,
                kind=code.kind,
                value=code.value,
                min_subtotal=code.min_subtotal,
                starts_at=code.starts_at,
                ends_at=code.ends_at,
                usage_limit=code.usage_limit,
                per_customer_limit=code.per_customer_limit,
                used_count=code.used_count,
            )
        )
        return DiscountCodePayload(discount_code=view, user_errors=errors)


# The model's enum, registered as GraphQL's DiscountKind (strawberry.enum returns the class itself).
DiscountKind = DiscountKindModel
strawberry.enum(DiscountKind, name="DiscountKind")


@strawberry.input
class DiscountCodeCreateInput:
    code: str
    kind: DiscountKind
    value: Decimal = strawberry.field(
        default=Decimal(0), description="Percent, or an amount off; ignored for FREE_SHIPPING."
    )
    min_subtotal: Decimal | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    usage_limit: int | None = None
    per_customer_limit: int | None = None


@strawberry.type
class DiscountCode:
    code: str
    kind: DiscountKind
    value: Decimal
    min_subtotal: Decimal | None
    starts_at: datetime | None
    ends_at: datetime | None
    usage_limit: int | None
    per_customer_limit: int | None
    used_count: int


@strawberry.type
class DiscountCodePayload:
    discount_code: DiscountCode | None
    user_errors: list[UserError]


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
        return CheckoutCompletePayload(order=None if order is None else order_view(context, order), user_errors=errors)
