"""What staff set up for checkout: shipping methods (MANAGE_SHIPPING) and discount codes (MANAGE_DISCOUNTS)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

import strawberry
from strawberry.types import Info

from models import DiscountCode as DiscountCodeModel
from models import DiscountKind, Permission
from models.checkout import CARRIER_LENGTH, DISCOUNT_CODE_LENGTH, SHIPPING_METHOD_NAME_LENGTH
from resolvers import checkout, checkout_admin
from schema.checkout import ShippingMethod, build_shipping_method
from schema.context import Context
from schema.permissions import requires
from schema.shared import UserError, attempt, described_enum

# The domain's enum, registered as GraphQL's DiscountKind as it is: strawberry.enum returns the class it was
# given, so both layers name it alike.
described_enum(
    DiscountKind,
    "What a discount code takes off.",
    {
        DiscountKind.PERCENTAGE: "`value` percent off the subtotal (more than 0, at most 100).",
        DiscountKind.FIXED_AMOUNT: "`value` off the subtotal, in the store's currency; never below zero.",
        DiscountKind.FREE_SHIPPING: "The shipping costs nothing; `value` is not used.",
    },
)


@strawberry.input(description="A new shipping method, offered to every cart it serves.")
class ShippingMethodCreateInput:
    name: str = strawberry.field(
        description=f"Its name as shoppers see it: 1–{SHIPPING_METHOD_NAME_LENGTH} characters."
    )
    carrier: str = strawberry.field(
        description=f"The carrier's code, such as dhl or ups: letters, digits and dashes, at most {CARRIER_LENGTH}; "
        "stored lowercase."
    )
    price: Decimal = strawberry.field(description="What it costs a cart: 0 or more, at most two decimal places.")
    free_over: Decimal | None = strawberry.field(
        default=None, description="Free for carts whose subtotal reaches this amount; left out: never free."
    )
    countries: list[str] | None = strawberry.field(default=None, description="ISO codes; none given: every country.")
    min_weight_grams: int = strawberry.field(
        default=0, description="The lightest cart it serves, in grams (the weight of all its units)."
    )
    max_weight_grams: int | None = strawberry.field(
        default=None, description="The heaviest cart it serves, in grams; left out: no limit."
    )
    min_days: int = strawberry.field(default=1, description="The fewest days delivery takes, 0 or more.")
    max_days: int = strawberry.field(default=5, description="The most days delivery takes: from `minDays` to 365.")


@strawberry.type(description="What `shippingMethodCreate` did.")
class ShippingMethodPayload:
    shipping_method: ShippingMethod | None = strawberry.field(
        description="The new method, at its own price; null when nothing changed."
    )
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed; empty on success.")


@strawberry.input(description="A new discount code.")
class DiscountCodeCreateInput:
    code: str = strawberry.field(
        description=f"What shoppers type: 2–{DISCOUNT_CODE_LENGTH} letters, digits, dashes or underscores, unique. "
        "Stored in capitals; matched whatever the case."
    )
    kind: DiscountKind = strawberry.field(description="What the code takes off.")
    value: Decimal = strawberry.field(
        default=Decimal(0), description="Percent, or an amount off; ignored for FREE_SHIPPING."
    )
    min_subtotal: Decimal | None = strawberry.field(
        default=None, description="The subtotal a cart needs for the code to apply; left out: any."
    )
    starts_at: datetime | None = strawberry.field(default=None, description="From when it applies; left out: at once.")
    ends_at: datetime | None = strawberry.field(
        default=None, description="When it stops applying, after `startsAt`; left out: never."
    )
    usage_limit: int | None = strawberry.field(
        default=None, description="How many orders may use it in all, 1 or more; left out: no limit."
    )
    per_customer_limit: int | None = strawberry.field(
        default=None,
        description="How many orders one signed-in customer may place with it, 1 or more; left out: no limit. "
        "Guests' orders are not counted.",
    )


@strawberry.type(description="A code shoppers type in to get a discount (`cartApplyDiscountCode`).")
class DiscountCode:
    code: str = strawberry.field(description="The code, in capitals; matched whatever the case.")
    kind: DiscountKind = strawberry.field(description="What it takes off.")
    value: Decimal = strawberry.field(description="Percent or amount off, as `kind` says; not used for FREE_SHIPPING.")
    min_subtotal: Decimal | None = strawberry.field(
        description="The subtotal a cart needs for the code to apply; null: any."
    )
    starts_at: datetime | None = strawberry.field(description="From when it applies; null: since it was created.")
    ends_at: datetime | None = strawberry.field(description="When it stops applying; null: never.")
    usage_limit: int | None = strawberry.field(description="How many orders may use it in all; null: no limit.")
    per_customer_limit: int | None = strawberry.field(
        description="How many orders one signed-in customer may place with it; null: no limit."
    )
    used_count: int = strawberry.field(description="Orders placed with it so far.")


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


@strawberry.type(description="What `discountCodeCreate` did.")
class DiscountCodePayload:
    discount_code: DiscountCode | None = strawberry.field(description="The new code; null when nothing changed.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed; empty on success.")


@strawberry.type
class CheckoutAdminMutation:
    @strawberry.mutation(
        extensions=requires(Permission.MANAGE_SHIPPING), description="Offer a new way to ship to carts it serves."
    )
    async def shipping_method_create(
        self,
        info: Info[Context, None],
        input: Annotated[ShippingMethodCreateInput, strawberry.argument(description="The method to offer.")],
    ) -> ShippingMethodPayload:
        method, errors = await attempt(
            checkout_admin.create_shipping_method(checkout_admin.ShippingMethodInput(**vars(input)))
        )
        quote = None if method is None else checkout.ShippingQuote(method, method.price)
        return ShippingMethodPayload(
            shipping_method=None if quote is None else build_shipping_method(info.context, quote), user_errors=errors
        )

    @strawberry.mutation(extensions=requires(Permission.MANAGE_DISCOUNTS), description="Create a discount code.")
    async def discount_code_create(
        self, input: Annotated[DiscountCodeCreateInput, strawberry.argument(description="The code to create.")]
    ) -> DiscountCodePayload:
        data = checkout_admin.DiscountCodeInput(**vars(input))
        code, errors = await attempt(checkout_admin.create_discount_code(data))
        return DiscountCodePayload(
            discount_code=None if code is None else build_discount_code(code), user_errors=errors
        )
