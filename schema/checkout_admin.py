"""What staff set up for checkout: shipping methods (MANAGE_SHIPPING) and discount codes (MANAGE_DISCOUNTS)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry
from strawberry.types import Info

from models import DiscountCode as DiscountCodeModel
from models import DiscountKind, Permission
from resolvers import checkout, checkout_admin
from schema.checkout import ShippingMethod, build_shipping_method
from schema.context import Context
from schema.permissions import requires
from schema.shared import UserError, attempt

# The domain's enum, registered as GraphQL's DiscountKind as it is: strawberry.enum returns the class it was
# given, so both layers name it alike.
strawberry.enum(DiscountKind, name="DiscountKind")


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


def build_discount_code(code: DiscountCodeModel) -> DiscountCode:
    return DiscountCode(
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


@strawberry.type
class DiscountCodePayload:
    discount_code: DiscountCode | None
    user_errors: list[UserError]


@strawberry.type
class CheckoutAdminMutation:
    @strawberry.mutation(extensions=requires(Permission.MANAGE_SHIPPING))
    async def shipping_method_create(
        self, info: Info[Context, None], input: ShippingMethodCreateInput
    ) -> ShippingMethodPayload:
        method, errors = await attempt(
            checkout_admin.create_shipping_method(checkout_admin.ShippingMethodInput(**vars(input)))
        )
        quote = None if method is None else checkout.ShippingQuote(method, method.price)
        return ShippingMethodPayload(
            shipping_method=None if quote is None else build_shipping_method(info.context, quote), user_errors=errors
        )

    @strawberry.mutation(extensions=requires(Permission.MANAGE_DISCOUNTS))
    async def discount_code_create(self, input: DiscountCodeCreateInput) -> DiscountCodePayload:
        data = checkout_admin.DiscountCodeInput(**vars(input))
        code, errors = await attempt(checkout_admin.create_discount_code(data))
        return DiscountCodePayload(
            discount_code=None if code is None else build_discount_code(code), user_errors=errors
        )
