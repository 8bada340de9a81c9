"""What a refund gives back for lines and shipping: what the customer paid for them, not their list
price (as Shopify and Saleor refund).

An order's total is its lines' subtotal less the discount plus the shipping, plus the tax when
prices exclude it (resolvers/pricing.py `totals`). What was paid is split between the shipping
and the goods, and the goods' part between the lines:

- shipping paid = shipping_total x total / (subtotal - discount + shipping_total), rounded to the
  currency's minor unit: the shipping's share of the discount (none: a discount comes off the
  subtotal) and of the tax. With nothing taxable (everything free) it is the shipping_total itself,
  never more than the total.
- goods paid = total - shipping paid.
- each line's value is its share of the goods paid in proportion to its list total, in minor units
  by the largest-remainder method (ties to the earlier line), so the values add up to the goods
  paid exactly; lines that all cost nothing share by their units.

A refund of q units of a line of n is round(value x q / n), except that the line's last units take
exactly what is left of its value (value - what the line's earlier refunds took), and the shipping
takes what is left of the shipping paid: refunding every line and the shipping, in any steps,
gives back the order's total to the minor unit. Without discount and tax the values are the list
totals (unit price x quantity), as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from resolvers.currencies import minor_units
from resolvers.pricing import round_money


@dataclass(frozen=True)
class OrderFigures:
    """The order's stored totals, as `pricing.totals` made them."""

    subtotal: Decimal
    discount: Decimal
    shipping: Decimal
    total: Decimal
    currency: str


@dataclass(frozen=True)
class PaidLine:
    line_id: int
    list_total: Decimal  # unit price x quantity
    quantity: int


@dataclass(frozen=True)
class Paid:
    lines: dict[int, Decimal]  # line id -> what was paid for all its units
    shipping: Decimal


def shipping_paid(order: OrderFigures) -> Decimal:
    taxable = order.subtotal - order.discount + order.shipping
    if taxable <= 0:
        return max(Decimal(0), min(order.shipping, order.total))
    return min(round_money(order.shipping * order.total / taxable, order.currency), order.total)


def paid(order: OrderFigures, lines: Sequence[PaidLine]) -> Paid:
    """What was paid for each line (in `lines`' order for ties) and for the shipping."""
    shipping = shipping_paid(order)
    goods = order.total - shipping
    weights = [line.list_total for line in lines]
    if sum(weights, Decimal(0)) <= 0:
        weights = [Decimal(line.quantity) for line in lines]
    shares = largest_remainder(goods, weights, order.currency)
    return Paid({line.line_id: share for line, share in zip(lines, shares, strict=True)}, shipping)


def largest_remainder(amount: Decimal, weights: Sequence[Decimal], currency: str) -> list[Decimal]:
    """`amount` split in proportion to `weights`, in whole minor units adding up to it exactly."""
    if not weights:
        return []
    unit = Decimal(1).scaleb(-minor_units(currency))
    units = int(round_money(amount, currency) / unit)
    whole = Fraction(sum(weights, Decimal(0)))
    if whole <= 0:
        weights, whole = [Decimal(1)] * len(weights), Fraction(len(weights))
    quotas = [units * Fraction(w) / whole for w in weights]
    floors = [q.numerator // q.denominator for q in quotas]
    left = units - sum(floors)
    # The largest remainders get a unit each; equal remainders go to the earlier line.
    order = sorted(range(len(quotas)), key=lambda i: (-(quotas[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return [Decimal(f) * unit for f in floors]


def line_refund(value: Decimal, quantity: int, units: int, units_left: int, taken: Decimal, currency: str) -> Decimal:
    """What refunding `units` of a line of `quantity` gives back, the line worth `value` of which
    earlier refunds took `taken` and left `units_left` units: the last units take what is left."""
    left = max(Decimal(0), value - taken)
    if units >= units_left:
        return left
    return min(round_money(value * units / quantity, currency), left)
