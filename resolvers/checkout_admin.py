"""What staff set up for checkout: shipping methods and discount codes, each checked before it is written."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from tortoise.exceptions import IntegrityError

from models import DiscountCode, DiscountKind, ShippingMethod
from models.checkout import DISCOUNT_CODE_LENGTH, SHIPPING_METHOD_NAME_LENGTH
from resolvers.catalogue_fields import MAX_PRICE
from resolvers.checkout import carrier_code
from resolvers.countries import COUNTRIES
from resolvers.errors import DomainError, ErrorCode, text_code


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


async def create_shipping_method(data: ShippingMethodInput) -> ShippingMethod:
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
    return await ShippingMethod.create(
        name=name,
        carrier=carrier,
        price=data.price,
        free_over=data.free_over,
        countries=countries,
        min_weight_grams=data.min_weight_grams,
        max_weight_grams=data.max_weight_grams,
        min_days=data.min_days,
        max_days=data.max_days,
    )


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


async def create_discount_code(data: DiscountCodeInput) -> DiscountCode:
    code = data.code.strip().upper()
    if not re.fullmatch(rf"[A-Z0-9][A-Z0-9_-]{{1,{DISCOUNT_CODE_LENGTH - 1}}}", code):
        raise DomainError(
            text_code(code, DISCOUNT_CODE_LENGTH),
            f"A code is 2–{DISCOUNT_CODE_LENGTH} letters, digits, dashes or underscores.",
            ["code"],
        )
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
