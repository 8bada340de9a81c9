"""Checkout decisions: which shipping methods fit a cart and at what price, and whether a discount code applies."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from tortoise.expressions import F, Q

from models import DiscountCode, Order, ShippingMethod
from models.checkout import CARRIER_LENGTH
from resolvers import pricing
from resolvers.errors import DomainError, text_code


class ShippingMethodStatus(StrEnum):
    """ACTIVE: offered to the carts it serves; INACTIVE: switched off by staff (`active: false`);
    ARCHIVED: deleted while open carts still named it, kept for them and for history."""

    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"
    ARCHIVED = "ARCHIVED"


def shipping_method_status(method: ShippingMethod) -> ShippingMethodStatus:
    if method.archived_at is not None:
        return ShippingMethodStatus.ARCHIVED
    return ShippingMethodStatus.ACTIVE if method.active else ShippingMethodStatus.INACTIVE


@dataclass(frozen=True)
class ShippingQuote:
    method: ShippingMethod
    price: Decimal  # for this cart: zero once its subtotal reaches the method's free-over threshold


def quote(
    method: ShippingMethod, country: str | None, weight_grams: int, subtotal: Decimal, currency: str
) -> ShippingQuote | None:
    """The method's price for a cart, or None when it does not serve it (country, weight, inactive)."""
    if not method.active or country is None:
        return None
    if method.countries and country not in method.countries:
        return None
    if weight_grams < method.min_weight_grams or (
        method.max_weight_grams is not None and weight_grams > method.max_weight_grams
    ):
        return None
    free = method.free_over is not None and subtotal >= method.free_over
    return ShippingQuote(method, pricing.round_money(Decimal(0) if free else method.price, currency))


async def available(country: str | None, weight_grams: int, subtotal: Decimal, currency: str) -> list[ShippingQuote]:
    """Every active method that serves the cart, cheapest first."""
    if country is None:
        return []
    methods = await ShippingMethod.filter(active=True)
    quotes = [quote(m, country, weight_grams, subtotal, currency) for m in methods]
    return sorted((q for q in quotes if q is not None), key=lambda q: (q.price, q.method.id))


def carrier_code(value: str) -> str:
    """A carrier's code (dhl, ups), trimmed and lower-cased; INVALID on `carrier` otherwise."""
    carrier = value.strip().lower()
    if not re.fullmatch(rf"[a-z0-9][a-z0-9-]{{0,{CARRIER_LENGTH - 1}}}", carrier):
        raise DomainError(
            text_code(carrier, CARRIER_LENGTH),
            f"The carrier is a code such as dhl or ups, of at most {CARRIER_LENGTH} characters.",
            ["carrier"],
        )
    return carrier


def discount_problem(code: DiscountCode, subtotal: Decimal, uses_by_customer: int, now: datetime) -> str | None:
    """Why the code does not apply to this cart now, or None when it does."""
    if not code.active:
        return "This code is no longer active."
    if code.starts_at is not None and now < code.starts_at:
        return "This code is not valid yet."
    if code.ends_at is not None and now >= code.ends_at:
        return "This code has expired."
    if code.usage_limit is not None and code.used_count >= code.usage_limit:
        return "This code has been used up."
    if code.per_customer_limit is not None and uses_by_customer >= code.per_customer_limit:
        return "You have already used this code."
    if code.min_subtotal is not None and subtotal < code.min_subtotal:
        return f"This code needs a subtotal of at least {code.min_subtotal}."
    return None


def in_force(now: datetime) -> Q:
    """SQL for the rules of `discount_problem` that are the code's own, but its start: active, not
    ended, not used up. With `started`: the code applies to carts now."""
    return Q(
        Q(ends_at__isnull=True) | Q(ends_at__gt=now),
        Q(usage_limit__isnull=True) | Q(used_count__lt=F("usage_limit")),
        active=True,
    )


def started(now: datetime) -> Q:
    return Q(starts_at__isnull=True) | Q(starts_at__lte=now)


async def customer_uses(code: DiscountCode, customer_id: int | None) -> int:
    """Orders this customer placed with the code (cancelled ones included: the use was made)."""
    if customer_id is None:
        return 0
    return await Order.filter(discount_code=code.code, customer_id=customer_id).count()
