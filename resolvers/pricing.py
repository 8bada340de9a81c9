"""Money arithmetic in one place: Decimal throughout, rounded to the currency's minor unit once.

Rounding is ROUND_HALF_UP to the minor unit of the currency (2 places for most, 0 for JPY and
the like, 3 for BHD and the like), applied to each line total and to every total derived from
them, never to intermediate products.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from resolvers.currencies import minor_units


def round_money(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-minor_units(currency)), rounding=ROUND_HALF_UP)


def line_total(unit_price: Decimal, quantity: int, currency: str) -> Decimal:
    return round_money(unit_price * quantity, currency)


def subtotal(line_totals: Iterable[Decimal], currency: str) -> Decimal:
    return round_money(sum(line_totals, Decimal(0)), currency)


@dataclass(frozen=True)
class Totals:
    subtotal: Decimal
    discount: Decimal
    shipping: Decimal
    tax: Decimal
    total: Decimal


def totals(
    subtotal: Decimal,
    currency: str,
    *,
    discount_kind: str | None = None,
    discount_value: Decimal = Decimal(0),
    shipping: Decimal | None = None,
    tax_rate: Decimal = Decimal(0),
    prices_include_tax: bool = True,
) -> Totals:
    """Everything a cart or an order shows, from its subtotal.

    Discounts come off the subtotal (a fixed amount never below zero; free shipping zeroes the
    shipping); tax is charged on what remains plus shipping, at the destination's rate. With
    `prices_include_tax` (European practice) the tax is the part of that amount which is tax and
    the total does not grow; otherwise the tax is added on top.
    """
    shipping = shipping or Decimal(0)
    discount = Decimal(0)
    if discount_kind == "PERCENTAGE":
        discount = round_money(subtotal * discount_value / 100, currency)
    elif discount_kind == "FIXED_AMOUNT":
        discount = min(round_money(discount_value, currency), subtotal)
    elif discount_kind == "FREE_SHIPPING":
        shipping = Decimal(0)
    shipping = round_money(shipping, currency)
    discount = round_money(discount, currency)  # always in minor units, "0.00" not "0"
    taxable = subtotal - discount + shipping
    if prices_include_tax:
        tax = round_money(taxable * tax_rate / (1 + tax_rate), currency)
        total = taxable
    else:
        tax = round_money(taxable * tax_rate, currency)
        total = taxable + tax
    return Totals(subtotal, discount, shipping, tax, round_money(total, currency))
