"""What staff set up for checkout: shipping methods (MANAGE_SHIPPING) and discount codes (MANAGE_DISCOUNTS)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from models import DiscountCode as DiscountCodeModel
from models import DiscountKind, Permission
from models import ShippingMethod as ShippingMethodModel
from models.checkout import CARRIER_LENGTH, DISCOUNT_CODE_LENGTH, SHIPPING_METHOD_NAME_LENGTH
from resolvers import checkout, checkout_admin
from resolvers.checkout import ShippingMethodStatus
from resolvers.checkout_admin import MAX_SEARCH_LENGTH, DiscountCodeSort, DiscountCodeStatus, ShippingMethodSort
from schema.checkout import ShippingMethod, build_shipping_method
from schema.context import Context
from schema.ids import decode_id_of, encode_id
from schema.permissions import requires
from schema.selection import selection_tree
from schema.shared import After, Before, Connection, First, Last, UserError, attempt, described_enum

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


@strawberry.type(description="What `shippingMethodCreate` or `shippingMethodUpdate` did.")
class ShippingMethodPayload:
    shipping_method: ShippingMethod | None = strawberry.field(
        description="The method as it now is, at its own price; null when nothing changed."
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


described_enum(
    DiscountCodeStatus,
    "Where a discount code stands now: exactly one of these, checked in the order DEACTIVATED, EXPIRED, "
    "SCHEDULED, ACTIVE.",
    {
        DiscountCodeStatus.ACTIVE: "It applies to carts now (those that meet its minimum subtotal, and whose "
        "customer has not used it up).",
        DiscountCodeStatus.SCHEDULED: "Its `startsAt` is still to come.",
        DiscountCodeStatus.EXPIRED: "Its `endsAt` has passed, or its `usageLimit` is reached.",
        DiscountCodeStatus.DEACTIVATED: "Switched off by staff (`discountCodeDeactivate`), whatever its dates.",
    },
)
described_enum(
    DiscountCodeSort,
    "The order of `discountCodes`; each sort breaks ties by the code's ID, in the same direction.",
    {
        DiscountCodeSort.CODE_ASC: "By code, A to Z: the default.",
        DiscountCodeSort.CODE_DESC: "By code, Z to A.",
        DiscountCodeSort.NEWEST: "The most recently created first.",
    },
)
described_enum(
    ShippingMethodSort,
    "The order of `shippingMethods`; each sort breaks ties by the method's ID, in the same direction.",
    {
        ShippingMethodSort.NAME_ASC: "By name, A to Z: the default.",
        ShippingMethodSort.NAME_DESC: "By name, Z to A.",
        ShippingMethodSort.NEWEST: "The most recently created first.",
    },
)


@strawberry.type(description="A code shoppers type in to get a discount (`cartApplyDiscountCode`).")
class DiscountCode:
    id: strawberry.ID = strawberry.field(description="For `discountCodeUpdate` and `discountCodeDeactivate`.")
    status: DiscountCodeStatus = strawberry.field(description="Whether it applies now, and if not, why.")
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


def build_discount_code(code: DiscountCodeModel, now: datetime) -> DiscountCode:
    return DiscountCode(
        id=encode_id("DiscountCode", code.id),
        status=checkout_admin.discount_code_status(code, now),
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


@strawberry.type(description="What a discount code mutation did.")
class DiscountCodePayload:
    discount_code: DiscountCode | None = strawberry.field(
        description="The code as it now is; null when nothing changed."
    )
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed; empty on success.")


@strawberry.input(description="Which discount codes: every condition given must hold.")
class DiscountCodeFilter:
    status: list[DiscountCodeStatus] | None = strawberry.field(
        default=None, description="Codes in any of these statuses (as they stand now)."
    )
    kind: list[DiscountKind] | None = strawberry.field(default=None, description="Codes of any of these kinds.")


@strawberry.type(description="A page of discount codes, with the number of all that match.")
class DiscountCodeConnection(Connection[DiscountCode]):
    nodes: list[DiscountCode] = strawberry.field(description="The page's codes: `edges` without their cursors.")
    total_count: int = strawberry.field(description="How many codes match the filter and search, on every page.")


@strawberry.input(description="Which shipping methods: every condition given must hold.")
class ShippingMethodFilter:
    status: list[ShippingMethodStatus] | None = strawberry.field(
        default=None, description="Methods in any of these statuses; left out: every status, ARCHIVED included."
    )


@strawberry.type(description="A page of shipping methods, with the number of all that match.")
class ShippingMethodConnection(Connection[ShippingMethod]):
    nodes: list[ShippingMethod] = strawberry.field(description="The page's methods: `edges` without their cursors.")
    total_count: int = strawberry.field(description="How many methods match the filter and search, on every page.")


@strawberry.input(
    description="What to change in a discount code: fields left out stay as they are; `null` clears a minimum "
    "subtotal, a start, an end or a limit (and is REQUIRED for `kind` and `value`). The code itself never changes "
    "(orders name it). Checked as `discountCodeCreate` checks it, on the code as it would be."
)
class DiscountCodeUpdateInput:
    kind: DiscountKind | None = strawberry.field(default=strawberry.UNSET, description="What the code takes off.")
    value: Decimal | None = strawberry.field(
        default=strawberry.UNSET, description="Percent, or an amount off; not used for FREE_SHIPPING."
    )
    min_subtotal: Decimal | None = strawberry.field(
        default=strawberry.UNSET, description="The subtotal a cart needs; null: any."
    )
    starts_at: datetime | None = strawberry.field(
        default=strawberry.UNSET, description="From when it applies; null: at once."
    )
    ends_at: datetime | None = strawberry.field(
        default=strawberry.UNSET, description="When it stops applying, after `startsAt`; null: never."
    )
    usage_limit: int | None = strawberry.field(
        default=strawberry.UNSET,
        description="How many orders may use it in all, 1 or more; null: no limit. At or below `usedCount`: the "
        "code is EXPIRED.",
    )
    per_customer_limit: int | None = strawberry.field(
        default=strawberry.UNSET,
        description="How many orders one signed-in customer may place with it; null: no limit.",
    )


@strawberry.input(
    description="What to change in a shipping method: fields left out stay as they are; `null` clears what a "
    "field says it clears (elsewhere it is REQUIRED). Checked as `shippingMethodCreate` checks it, on the method as "
    "it would be. Carts that chose it see the change at once; "
    "one it no longer serves is told so at checkout (SHIPPING_METHOD_UNAVAILABLE)."
)
class ShippingMethodUpdateInput:
    name: str | None = strawberry.field(
        default=strawberry.UNSET, description=f"A new name: 1–{SHIPPING_METHOD_NAME_LENGTH} characters."
    )
    carrier: str | None = strawberry.field(default=strawberry.UNSET, description="A new carrier code.")
    price: Decimal | None = strawberry.field(
        default=strawberry.UNSET, description="A new price: 0 or more, at most two decimal places."
    )
    free_over: Decimal | None = strawberry.field(
        default=strawberry.UNSET, description="A new free-shipping threshold; null: never free."
    )
    countries: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description="The ISO codes it serves from now on; null or empty: every country."
    )
    min_weight_grams: int | None = strawberry.field(default=strawberry.UNSET, description="A new lightest cart.")
    max_weight_grams: int | None = strawberry.field(
        default=strawberry.UNSET, description="A new heaviest cart, in grams; null: no limit."
    )
    min_days: int | None = strawberry.field(default=strawberry.UNSET, description="A new fewest days.")
    max_days: int | None = strawberry.field(default=strawberry.UNSET, description="A new most days, up to 365.")
    active: bool | None = strawberry.field(
        default=strawberry.UNSET,
        description="false: offered to no cart from now on (INACTIVE), until switched on again with true.",
    )


@strawberry.type(
    description="What `shippingMethodDelete` did: the method deleted, or archived because open carts had chosen it."
)
class ShippingMethodDeletePayload:
    deleted_id: strawberry.ID | None = strawberry.field(description="Set when the method was deleted.")
    shipping_method: ShippingMethod | None = strawberry.field(
        description="Set when carts not checked out yet had chosen it and it was archived instead (ARCHIVED)."
    )
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed; empty on success.")


def _given(input: object) -> dict[str, Any]:
    """The fields an update input gives (null included), by their Python names."""
    return {name: value for name, value in vars(input).items() if value is not strawberry.UNSET}


def _own_price(context: Context, method: ShippingMethodModel) -> ShippingMethod:
    """The method outside any cart: at its own price."""
    return build_shipping_method(context, checkout.ShippingQuote(method, method.price))


DiscountCodeId = Annotated[strawberry.ID, strawberry.argument(description="The code (`DiscountCode.id`).")]
ShippingMethodId = Annotated[strawberry.ID, strawberry.argument(description="The method (`ShippingMethod.id`).")]
SEARCH_DESCRIPTION = f"at most {MAX_SEARCH_LENGTH} characters"


@strawberry.type
class CheckoutAdminQuery:
    @strawberry.field(
        extensions=requires(Permission.MANAGE_DISCOUNTS),
        description="Every discount code, with where each stands; searched, filtered and sorted like `products`.",
    )
    async def discount_codes(
        self,
        info: Info[Context, None],
        search: Annotated[
            str | None,
            strawberry.argument(description=f"Text found anywhere in the code, in any case; {SEARCH_DESCRIPTION}."),
        ] = None,
        filter: Annotated[
            DiscountCodeFilter | None, strawberry.argument(description="Which codes; left out: all.")
        ] = None,
        sort: Annotated[
            DiscountCodeSort | None, strawberry.argument(description="The order; left out: CODE_ASC.")
        ] = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> DiscountCodeConnection | None:
        filter = filter or DiscountCodeFilter()
        listing = await checkout_admin.list_discount_codes(
            search,
            filter.status or (),
            filter.kind or (),
            sort,
            first,
            after,
            last,
            before,
            with_total="totalCount" in selection_tree(info),
        )
        now = datetime.now(UTC)
        codes = [build_discount_code(code, now) for code in listing.page.rows]
        return DiscountCodeConnection.of(listing.page, codes, nodes=codes, total_count=listing.total_count or 0)

    @strawberry.field(
        extensions=requires(Permission.MANAGE_SHIPPING),
        description="Every shipping method, each at its own price (a cart's `availableShippingMethods` has the "
        "ones that serve it, at its price); searched, filtered and sorted like `products`.",
    )
    async def shipping_methods(
        self,
        info: Info[Context, None],
        search: Annotated[
            str | None,
            strawberry.argument(
                description=f"Text found anywhere in the name, in any case, or the carrier's code; {SEARCH_DESCRIPTION}."
            ),
        ] = None,
        filter: Annotated[
            ShippingMethodFilter | None, strawberry.argument(description="Which methods; left out: all.")
        ] = None,
        sort: Annotated[
            ShippingMethodSort | None, strawberry.argument(description="The order; left out: NAME_ASC.")
        ] = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> ShippingMethodConnection | None:
        filter = filter or ShippingMethodFilter()
        listing = await checkout_admin.list_shipping_methods(
            search,
            filter.status or (),
            sort,
            first,
            after,
            last,
            before,
            with_total="totalCount" in selection_tree(info),
        )
        context = info.context
        methods = [_own_price(context, m) for m in listing.page.rows]
        return ShippingMethodConnection.of(listing.page, methods, nodes=methods, total_count=listing.total_count or 0)


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
        return ShippingMethodPayload(
            shipping_method=None if method is None else _own_price(info.context, method), user_errors=errors
        )

    @strawberry.mutation(extensions=requires(Permission.MANAGE_DISCOUNTS), description="Create a discount code.")
    async def discount_code_create(
        self, input: Annotated[DiscountCodeCreateInput, strawberry.argument(description="The code to create.")]
    ) -> DiscountCodePayload:
        data = checkout_admin.DiscountCodeInput(**vars(input))
        code, errors = await attempt(checkout_admin.create_discount_code(data))
        return DiscountCodePayload(
            discount_code=None if code is None else build_discount_code(code, datetime.now(UTC)), user_errors=errors
        )

    @strawberry.mutation(
        extensions=requires(Permission.MANAGE_SHIPPING),
        description="Change a shipping method's name, carrier, price, reach or delivery days, or switch it off or on.",
    )
    async def shipping_method_update(
        self,
        info: Info[Context, None],
        id: ShippingMethodId,
        input: Annotated[ShippingMethodUpdateInput, strawberry.argument(description="What to change.")],
    ) -> ShippingMethodPayload:
        changes = _given(input)
        active = changes.pop("active", None)
        method, errors = await attempt(
            checkout_admin.update_shipping_method(decode_id_of(id, "ShippingMethod"), changes, active)
        )
        return ShippingMethodPayload(
            shipping_method=None if method is None else _own_price(info.context, method), user_errors=errors
        )

    @strawberry.mutation(
        extensions=requires(Permission.MANAGE_SHIPPING),
        description="Delete a shipping method; one that carts not checked out yet have chosen is archived instead "
        "(offered to no cart, kept for them), and deleted by a later call once none has. Orders keep the name "
        "and carrier they were placed with.",
    )
    async def shipping_method_delete(
        self, info: Info[Context, None], id: ShippingMethodId
    ) -> ShippingMethodDeletePayload:
        outcome, errors = await attempt(checkout_admin.delete_shipping_method(decode_id_of(id, "ShippingMethod")))
        method, archived = outcome if outcome is not None else (None, False)
        return ShippingMethodDeletePayload(
            deleted_id=id if method is not None and not archived else None,
            shipping_method=_own_price(info.context, method) if method is not None and archived else None,
            user_errors=errors,
        )

    @strawberry.mutation(
        extensions=requires(Permission.MANAGE_DISCOUNTS),
        description="Change a discount code's terms: what it takes off, its dates, its minimum and its limits.",
    )
    async def discount_code_update(
        self,
        id: DiscountCodeId,
        input: Annotated[DiscountCodeUpdateInput, strawberry.argument(description="What to change.")],
    ) -> DiscountCodePayload:
        code, errors = await attempt(
            checkout_admin.update_discount_code(decode_id_of(id, "DiscountCode"), _given(input))
        )
        return DiscountCodePayload(
            discount_code=None if code is None else build_discount_code(code, datetime.now(UTC)), user_errors=errors
        )

    @strawberry.mutation(
        extensions=requires(Permission.MANAGE_DISCOUNTS),
        description="Switch a discount code off for good (DEACTIVATED): no cart can apply it, and carts holding "
        "it stop getting the discount at once (`Cart.discountCodes` says why; checkout refuses them with "
        "DISCOUNT_CODE_INVALID until it is removed). Orders placed with it keep theirs.",
    )
    async def discount_code_deactivate(self, id: DiscountCodeId) -> DiscountCodePayload:
        code, errors = await attempt(checkout_admin.deactivate_discount_code(decode_id_of(id, "DiscountCode")))
        return DiscountCodePayload(
            discount_code=None if code is None else build_discount_code(code, datetime.now(UTC)), user_errors=errors
        )
