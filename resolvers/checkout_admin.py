"""What staff set up for checkout: shipping methods and discount codes, each checked before it is written."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeVar

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q

from models import Cart, DiscountCode, DiscountKind, ShippingMethod
from models.checkout import DISCOUNT_CODE_LENGTH, SHIPPING_METHOD_NAME_LENGTH
from resolvers import outbox
from resolvers.catalogue_fields import MAX_PRICE
from resolvers.checkout import ShippingMethodStatus, carrier_code, in_force, started
from resolvers.countries import COUNTRIES
from resolvers.errors import BadInput, DomainError, ErrorCode, text_code
from resolvers.pagination import Page, PageRequest, page_request, queryset_page


@dataclass
class ShippingMethodInput:
    name: str
    carrier: str
    price: Decimal
    free_over: Decimal | None = None
    countries: list[str] | None = None
    min_weight_grams: int = 0
    max_weight_grams: int | None = None
    min_days: int = 1
    max_days: int = 5


def _check_amount(field: str, amount: Decimal | None) -> None:
    # The upper bound is the money columns' (12 digits, 2 decimals), checked first: past it the
    # column overflows, and far past it (1e308) `quantize` itself raises.
    if amount is not None and (
        not amount.is_finite() or not 0 <= amount <= MAX_PRICE or amount != amount.quantize(Decimal("0.01"))
    ):
        raise DomainError(
            ErrorCode.INVALID_AMOUNT,
            f"`{field}` must be an amount from 0 to {MAX_PRICE} with at most two decimals.",
            [field],
        )


def _checked_shipping_method(data: ShippingMethodInput) -> dict[str, Any]:
    """The method's columns from `data`, each checked; DomainError on the first that is not valid."""
    name = data.name.strip()
    if not name or len(name) > SHIPPING_METHOD_NAME_LENGTH:
        raise DomainError(
            text_code(name, SHIPPING_METHOD_NAME_LENGTH),
            f"A shipping method needs a name of at most {SHIPPING_METHOD_NAME_LENGTH} characters.",
            ["name"],
        )
    carrier = carrier_code(data.carrier)
    _check_amount("price", data.price)
    _check_amount("freeOver", data.free_over)
    countries = sorted({c.strip().upper() for c in data.countries or ()})
    bad = [c for c in countries if c not in COUNTRIES]
    if bad:
        raise DomainError(
            ErrorCode.UNKNOWN_COUNTRY, f"Not ISO 3166-1 alpha-2 country codes: {', '.join(bad)}.", ["countries"]
        )
    if data.min_weight_grams < 0 or (
        data.max_weight_grams is not None and data.max_weight_grams < data.min_weight_grams
    ):
        raise DomainError(
            ErrorCode.INVALID,
            "The weight range must run from 0 or more up to at least its minimum.",
            ["maxWeightGrams"],
        )
    if not 0 <= data.min_days <= data.max_days <= 365:
        raise DomainError(ErrorCode.INVALID, "Delivery days must satisfy 0 <= minDays <= maxDays <= 365.", ["maxDays"])
    return {
        "name": name,
        "carrier": carrier,
        "price": data.price,
        "free_over": data.free_over,
        "countries": countries,
        "min_weight_grams": data.min_weight_grams,
        "max_weight_grams": data.max_weight_grams,
        "min_days": data.min_days,
        "max_days": data.max_days,
    }


async def create_shipping_method(data: ShippingMethodInput) -> ShippingMethod:
    return await ShippingMethod.create(**_checked_shipping_method(data))


@dataclass
class DiscountCodeInput:
    code: str
    kind: DiscountKind
    value: Decimal = Decimal(0)
    min_subtotal: Decimal | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    usage_limit: int | None = None
    per_customer_limit: int | None = None


def _check_discount_code(data: DiscountCodeInput) -> None:
    """The rules a code's terms follow, on creation and on every change; DomainError on the first broken."""
    _check_amount("value", data.value)
    _check_amount("minSubtotal", data.min_subtotal)
    if data.kind == DiscountKind.PERCENTAGE and not 0 < data.value <= 100:
        raise DomainError(ErrorCode.INVALID, "A percentage is more than 0 and at most 100.", ["value"])
    if data.kind == DiscountKind.FIXED_AMOUNT and data.value <= 0:
        raise DomainError(ErrorCode.INVALID_AMOUNT, "A fixed discount needs an amount above 0.", ["value"])
    if data.starts_at and data.ends_at and data.ends_at <= data.starts_at:
        raise DomainError(ErrorCode.INVALID, "`endsAt` must come after `startsAt`.", ["endsAt"])
    for field, limit in (("usageLimit", data.usage_limit), ("perCustomerLimit", data.per_customer_limit)):
        if limit is not None and limit < 1:
            raise DomainError(ErrorCode.INVALID, f"`{field}` must be at least 1 (leave it out for no limit).", [field])


async def create_discount_code(data: DiscountCodeInput) -> DiscountCode:
    code = data.code.strip().upper()
    if not re.fullmatch(rf"[A-Z0-9][A-Z0-9_-]{{1,{DISCOUNT_CODE_LENGTH - 1}}}", code):
        raise DomainError(
            text_code(code, DISCOUNT_CODE_LENGTH),
            f"A code is 2–{DISCOUNT_CODE_LENGTH} letters, digits, dashes or underscores.",
            ["code"],
        )
    _check_discount_code(data)
    if await DiscountCode.filter(code=code).exists():
        raise DomainError(ErrorCode.DUPLICATE, f"The code {code} exists.", ["code"])
    try:
        return await DiscountCode.create(
            code=code,
            kind=data.kind,
            value=data.value,
            min_subtotal=data.min_subtotal,
            starts_at=data.starts_at,
            ends_at=data.ends_at,
            usage_limit=data.usage_limit,
            per_customer_limit=data.per_customer_limit,
        )
    except IntegrityError:
        raise DomainError(ErrorCode.DUPLICATE, f"The code {code} exists.", ["code"]) from None


# --- the lists and changes of issue 19 -------------------------------------------------------------

# The longest thing worth searching for: a whole code, or a whole shipping method name.
MAX_SEARCH_LENGTH = max(DISCOUNT_CODE_LENGTH, SHIPPING_METHOD_NAME_LENGTH)


class DiscountCodeStatus(StrEnum):
    """Where a code stands now, one of four (checked in this order): DEACTIVATED by staff; EXPIRED
    when its end has passed or its usage limit is reached; SCHEDULED before its start; else ACTIVE.
    Only an ACTIVE code can apply to a cart (which may still need a minimum subtotal, or its
    customer may have used it up: those are the cart's, not the code's)."""

    ACTIVE = "ACTIVE"
    SCHEDULED = "SCHEDULED"
    EXPIRED = "EXPIRED"
    DEACTIVATED = "DEACTIVATED"


class DiscountCodeSort(StrEnum):
    CODE_ASC = "CODE_ASC"
    CODE_DESC = "CODE_DESC"
    NEWEST = "NEWEST"


class ShippingMethodSort(StrEnum):
    NAME_ASC = "NAME_ASC"
    NAME_DESC = "NAME_DESC"
    NEWEST = "NEWEST"


# (field, descending, type of its cursor value), ending with the id tie-break. NEWEST is by id:
# ids grow with time.
_DISCOUNT_CODE_ORDER: dict[DiscountCodeSort, list[tuple[str, bool, type]]] = {
    DiscountCodeSort.CODE_ASC: [("code", False, str), ("id", False, int)],
    DiscountCodeSort.CODE_DESC: [("code", True, str), ("id", True, int)],
    DiscountCodeSort.NEWEST: [("id", True, int)],
}
_SHIPPING_METHOD_ORDER: dict[ShippingMethodSort, list[tuple[str, bool, type]]] = {
    ShippingMethodSort.NAME_ASC: [("name", False, str), ("id", False, int)],
    ShippingMethodSort.NAME_DESC: [("name", True, str), ("id", True, int)],
    ShippingMethodSort.NEWEST: [("id", True, int)],
}


@dataclass(frozen=True)
class Listing:
    page: Page
    total_count: int | None  # None when not asked for


def _search_text(text: str | None) -> str:
    text = (text or "").strip()
    if len(text) > MAX_SEARCH_LENGTH:
        raise BadInput(f"`search` may have at most {MAX_SEARCH_LENGTH} characters, got {len(text)}.", "search")
    return text


async def _listing(queryset: Any, request: PageRequest, columns: list[tuple[str, bool, type]], total: bool) -> Listing:
    page = await queryset_page(queryset, request, columns)
    return Listing(page, await queryset.count() if total else None)


def discount_code_status(code: DiscountCode, now: datetime) -> DiscountCodeStatus:
    """The code's status at `now`; `_status_condition` says the same in SQL for the list's filter."""
    if not code.active:
        return DiscountCodeStatus.DEACTIVATED
    if (code.ends_at is not None and code.ends_at <= now) or (
        code.usage_limit is not None and code.used_count >= code.usage_limit
    ):
        return DiscountCodeStatus.EXPIRED
    if code.starts_at is not None and code.starts_at > now:
        return DiscountCodeStatus.SCHEDULED
    return DiscountCodeStatus.ACTIVE


def _status_condition(status: DiscountCodeStatus, now: datetime) -> Q:
    if status == DiscountCodeStatus.DEACTIVATED:
        return Q(active=False)
    expired = Q(ends_at__lte=now) | Q(usage_limit__isnull=False, used_count__gte=F("usage_limit"))
    if status == DiscountCodeStatus.EXPIRED:
        return Q(expired, active=True)
    if status == DiscountCodeStatus.SCHEDULED:
        return Q(in_force(now), starts_at__gt=now)
    return Q(in_force(now), started(now))


async def list_discount_codes(
    search: str | None,
    statuses: Sequence[DiscountCodeStatus],
    kinds: Sequence[DiscountKind],
    sort: DiscountCodeSort | None,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    *,
    with_total: bool = False,
) -> Listing:
    """Codes whose text contains `search` (in any case), in any of `statuses` and `kinds` (none
    given: all), keyset-paged in `sort` (CODE_ASC when left out)."""
    sort = sort or DiscountCodeSort.CODE_ASC
    columns = _DISCOUNT_CODE_ORDER[sort]
    request = page_request(first, after, last, before, f"discountCodes:{sort.value}", len(columns))
    queryset = DiscountCode.all()
    if text := _search_text(search):
        queryset = queryset.filter(code__contains=text.upper())  # stored in capitals
    if statuses:
        now = datetime.now(UTC)
        queryset = queryset.filter(Q(*(_status_condition(s, now) for s in set(statuses)), join_type="OR"))
    if kinds:
        queryset = queryset.filter(kind__in=list(kinds))
    return await _listing(queryset, request, columns, with_total)


Row = TypeVar("Row", DiscountCode, ShippingMethod)


async def _locked(model: type[Row], pk: int, what: str) -> Row:
    """The row, locked until the transaction ends (checkout counts a code's uses concurrently)."""
    row = await model.filter(id=pk).select_for_update().first()
    if row is None:
        raise DomainError(ErrorCode.NOT_FOUND, f"No {what} has this ID.", ["id"])
    return row


# What `discountCodeUpdate` may change: the terms, never the code itself (orders name the code they
# used, and a customer's uses of it are counted by it).
DISCOUNT_CODE_TERMS = ("kind", "value", "min_subtotal", "starts_at", "ends_at", "usage_limit", "per_customer_limit")
_REQUIRED_TERMS = ("kind", "value")


def _not_null(changes: Mapping[str, Any], required: Sequence[str]) -> None:
    for name in required:
        if name in changes and changes[name] is None:
            head, *rest = name.split("_")
            field = head + "".join(part.title() for part in rest)  # as the input names it
            raise DomainError(ErrorCode.REQUIRED, f"`{field}` cannot be null: leave it out to keep it.", [field])


async def update_discount_code(code_id: int, changes: Mapping[str, Any]) -> DiscountCode:
    """Change the terms given in `changes` (a term given as None is cleared: no minimum, no start, no
    end, no limit), checked as `discountCodeCreate` checks them, on the code as it then is. The use
    count is never written here: checkout counts uses concurrently. A usage limit at or below the
    uses so far makes the code EXPIRED."""
    unknown = set(changes) - set(DISCOUNT_CODE_TERMS)
    if unknown:
        raise ValueError(f"not a discount code term: {sorted(unknown)}")
    _not_null(changes, _REQUIRED_TERMS)
    async with outbox.transaction():
        code = await _locked(DiscountCode, code_id, "discount code")
        terms = {name: changes.get(name, getattr(code, name)) for name in DISCOUNT_CODE_TERMS}
        _check_discount_code(DiscountCodeInput(code=code.code, **terms))
        if changes:
            for name in changes:
                setattr(code, name, terms[name])
            await code.save(update_fields=list(changes))
    return code


async def deactivate_discount_code(code_id: int) -> DiscountCode:
    """Switch the code off for good: no cart can apply it, carts holding it stop getting the discount
    (`Cart.discountCodes` says why) and checkout refuses them with DISCOUNT_CODE_INVALID until the
    shopper removes it. Checkout counts a use only of a code still active (`checkout_complete`), so
    an order racing the deactivation either commits before it or is refused. Again: no change."""
    async with outbox.transaction():
        code = await _locked(DiscountCode, code_id, "discount code")
        if code.active:
            code.active = False
            await code.save(update_fields=["active"])
    return code


_SHIPPING_METHOD_STATUS_CONDITIONS = {
    ShippingMethodStatus.ARCHIVED: Q(archived_at__isnull=False),
    ShippingMethodStatus.ACTIVE: Q(archived_at__isnull=True, active=True),
    ShippingMethodStatus.INACTIVE: Q(archived_at__isnull=True, active=False),
}


async def list_shipping_methods(
    search: str | None,
    statuses: Sequence[ShippingMethodStatus],
    sort: ShippingMethodSort | None,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    *,
    with_total: bool = False,
) -> Listing:
    """Methods whose name contains `search` (in any case) or whose carrier is it, in any of
    `statuses` (none given: all, archived included), keyset-paged in `sort` (NAME_ASC when left out)."""
    sort = sort or ShippingMethodSort.NAME_ASC
    columns = _SHIPPING_METHOD_ORDER[sort]
    request = page_request(first, after, last, before, f"shippingMethods:{sort.value}", len(columns))
    queryset = ShippingMethod.all()
    if text := _search_text(search):
        queryset = queryset.filter(Q(name__icontains=text) | Q(carrier=text.lower()))
    if statuses:
        queryset = queryset.filter(Q(*(_SHIPPING_METHOD_STATUS_CONDITIONS[s] for s in set(statuses)), join_type="OR"))
    return await _listing(queryset, request, columns, with_total)


SHIPPING_METHOD_SETTINGS = tuple(f.name for f in fields(ShippingMethodInput))
# What may not be given as null: all but the clearable two, and `countries` (null: every country).
_REQUIRED_SETTINGS = tuple(
    n for n in SHIPPING_METHOD_SETTINGS if n not in ("free_over", "max_weight_grams", "countries")
)


async def update_shipping_method(method_id: int, changes: Mapping[str, Any], active: bool | None) -> ShippingMethod:
    """Change the settings given in `changes` (`freeOver` or `maxWeightGrams` given as None: cleared;
    `countries` None or empty: every country), checked as `shippingMethodCreate` checks them, and
    switch it on or off with `active`. Carts holding it see the new price or, when it no longer
    serves them, lose it at checkout (SHIPPING_METHOD_UNAVAILABLE). An archived method is not changed."""
    unknown = set(changes) - set(SHIPPING_METHOD_SETTINGS)
    if unknown:
        raise ValueError(f"not a shipping method setting: {sorted(unknown)}")
    _not_null(changes, _REQUIRED_SETTINGS)
    async with outbox.transaction():
        method = await _locked(ShippingMethod, method_id, "shipping method")
        if method.archived_at is not None:
            raise DomainError(ErrorCode.INVALID, "This shipping method is archived: create a new one instead.", ["id"])
        settings = {name: changes.get(name, getattr(method, name)) for name in SHIPPING_METHOD_SETTINGS}
        checked = _checked_shipping_method(ShippingMethodInput(**settings))
        written = [name for name in checked if name in changes]
        for name in written:
            setattr(method, name, checked[name])
        if active is not None and active != method.active:
            method.active = active
            written.append("active")
        if written:
            await method.save(update_fields=written)
    return method


async def delete_shipping_method(method_id: int) -> tuple[ShippingMethod, bool]:
    """Delete the method, unless a cart not checked out yet names it: then archive it (switched off
    and kept), so those carts are told at checkout that it no longer serves them
    (SHIPPING_METHOD_UNAVAILABLE) rather than finding it gone, and delete it again once none does.
    Orders keep the name and carrier they were shipped with either way. Returns the method and
    whether it was archived rather than deleted."""
    async with outbox.transaction():
        method = await _locked(ShippingMethod, method_id, "shipping method")
        if await Cart.filter(shipping_method_id=method.id, completed_at__isnull=True).exists():
            if method.archived_at is None:
                method.active, method.archived_at = False, datetime.now(UTC)
                await method.save(update_fields=["active", "archived_at"])
            return method, True
        await method.delete()
    return method, False
