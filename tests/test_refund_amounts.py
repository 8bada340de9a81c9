"""What a refund gives back for lines and shipping (resolvers/refund_amounts.py): what was paid for
them, so that refunding everything, in any steps, gives back the order's total to the minor unit."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from resolvers.pricing import line_total, totals
from resolvers.refund_amounts import OrderFigures, Paid, PaidLine, largest_remainder, line_refund, paid

D = Decimal


def order(
    lines: list[tuple[str, int]],
    shipping: str,
    *,
    kind: str | None = None,
    value: str = "0",
    rate: str = "0",
    included: bool = True,
    currency: str = "EUR",
) -> tuple[OrderFigures, list[PaidLine], Decimal]:
    """An order as checkout prices it: its figures, its lines (unit price, quantity) and its total."""
    paid_lines = [
        PaidLine(i + 1, line_total(D(price), quantity, currency), quantity) for i, (price, quantity) in enumerate(lines)
    ]
    subtotal = sum((line.list_total for line in paid_lines), D(0))
    figures = totals(
        subtotal,
        currency,
        discount_kind=kind,
        discount_value=D(value),
        shipping=D(shipping),
        tax_rate=D(rate),
        prices_include_tax=included,
    )
    return (
        OrderFigures(subtotal, figures.discount, figures.shipping, figures.total, currency),
        paid_lines,
        figures.total,
    )


def refund_one_unit_at_a_time(worth: Paid, lines: list[PaidLine], currency: str) -> dict[int, list[Decimal]]:
    refunded: dict[int, list[Decimal]] = {}
    for line in lines:
        steps: list[Decimal] = []
        for done in range(line.quantity):
            steps.append(
                line_refund(
                    worth.lines[line.line_id], line.quantity, 1, line.quantity - done, sum(steps, D(0)), currency
                )
            )
        refunded[line.line_id] = steps
    return refunded


def test_without_discount_or_tax_a_line_is_its_list_total():
    figures, lines, _ = order([("19.99", 3), ("5.00", 1)], "4.95")
    worth = paid(figures, lines)
    assert worth == Paid({1: D("59.97"), 2: D("5.00")}, D("4.95"))
    assert line_refund(worth.lines[1], 3, 2, 3, D(0), "EUR") == D("39.98")  # 19.99 x 2, as before


@pytest.mark.parametrize(
    ("kind", "value", "rate", "included", "expected"),
    [
        # 30.00 + 10.00 of goods, 5.00 shipping -> (line 1, line 2, shipping)
        ("PERCENTAGE", "10", "0", True, ("27.00", "9.00", "5.00")),  # 36.00 of goods paid
        ("FIXED_AMOUNT", "4", "0", True, ("27.00", "9.00", "5.00")),
        ("FREE_SHIPPING", "0", "0", True, ("30.00", "10.00", "0.00")),
        (None, "0", "0.19", False, ("35.70", "11.90", "5.95")),  # 19 % added on top of each
        (None, "0", "0.19", True, ("30.00", "10.00", "5.00")),  # included: what was paid is the list price
        ("PERCENTAGE", "10", "0.19", False, ("32.13", "10.71", "5.95")),
    ],
)
def test_a_line_is_worth_its_share_of_the_discount_and_the_tax(kind, value, rate, included, expected):
    figures, lines, total = order(
        [("15.00", 2), ("10.00", 1)], "5.00", kind=kind, value=value, rate=rate, included=included
    )
    worth = paid(figures, lines)
    assert (str(worth.lines[1]), str(worth.lines[2]), str(worth.shipping)) == expected
    assert sum(worth.lines.values(), worth.shipping) == total


def test_a_zero_decimal_currency_splits_in_whole_yen():
    figures, lines, total = order(
        [("333", 1), ("333", 1), ("334", 1)], "500", kind="FIXED_AMOUNT", value="100", currency="JPY"
    )
    worth = paid(figures, lines)
    assert all(v == v.to_integral_value() for v in [*worth.lines.values(), worth.shipping])
    assert sum(worth.lines.values(), worth.shipping) == total == D(1400)
    assert worth.shipping == D(500) and sorted(worth.lines.values()) == [D(300), D(300), D(300)]


def test_largest_remainder_gives_the_odd_cents_to_the_largest_remainders_then_the_earlier_line():
    assert largest_remainder(D("10.00"), [D(1), D(1), D(1)], "EUR") == [D("3.34"), D("3.33"), D("3.33")]
    assert largest_remainder(D("1.00"), [D(1), D(2)], "EUR") == [D("0.33"), D("0.67")]
    assert largest_remainder(D("0"), [D(5)], "EUR") == [D("0.00")]
    assert largest_remainder(D("7"), [D(0), D(0)], "JPY") == [D(4), D(3)]


def test_units_refunded_one_at_a_time_add_up_to_the_line():
    figures, lines, _ = order(
        [("9.99", 3), ("0.01", 7)], "3.00", kind="PERCENTAGE", value="15", rate="0.07", included=False
    )
    worth = paid(figures, lines)
    for line_id, steps in refund_one_unit_at_a_time(worth, lines, "EUR").items():
        assert sum(steps, D(0)) == worth.lines[line_id]
        assert all(step >= 0 for step in steps)


def test_a_later_refund_never_takes_more_than_is_left():
    # A line worth 0.02 over 3 units: 0.01, 0.01, then nothing is left for the last.
    assert line_refund(D("0.02"), 3, 1, 3, D(0), "EUR") == D("0.01")
    assert line_refund(D("0.02"), 3, 1, 2, D("0.01"), "EUR") == D("0.01")
    assert line_refund(D("0.02"), 3, 1, 1, D("0.02"), "EUR") == D("0.00")
    # Earlier refunds that took more (made under another rule) leave nothing, never a negative.
    assert line_refund(D("5.00"), 2, 1, 1, D("6.00"), "EUR") == D(0)


def test_nothing_taxable_refunds_the_shipping_as_it_was():
    figures = OrderFigures(D("0.00"), D("0.00"), D("0.00"), D("0.00"), "EUR")
    assert paid(figures, [PaidLine(1, D("0.00"), 2)]) == Paid({1: D("0.00")}, D("0.00"))
    # A fixed discount the size of the subtotal: the shipping is all that was paid.
    figures, lines, total = order([("20.00", 1)], "5.00", kind="FIXED_AMOUNT", value="25", rate="0.20")
    worth = paid(figures, lines)
    assert worth == Paid({1: D("0.00")}, D("5.00")) and total == D("5.00")


@pytest.mark.parametrize("seed", range(300))
def test_every_line_and_the_shipping_give_back_the_total_exactly(seed):
    dice = random.Random(seed)
    currency = dice.choice(["EUR", "JPY", "BHD"])
    places = {"EUR": 2, "JPY": 0, "BHD": 2}[currency]  # the columns hold 2 decimals at most
    lines = [(str(D(dice.randint(1, 99999)).scaleb(-places)), dice.randint(1, 5)) for _ in range(dice.randint(1, 5))]
    kind = dice.choice([None, "PERCENTAGE", "FIXED_AMOUNT", "FREE_SHIPPING"])
    value = str(dice.randint(1, 60)) if kind == "PERCENTAGE" else str(dice.randint(0, 500))
    figures, paid_lines, total = order(
        lines,
        str(D(dice.randint(0, 2000)).scaleb(-places)),
        kind=kind,
        value=value,
        rate=dice.choice(["0", "0.07", "0.19", "0.2"]),
        included=dice.random() < 0.5,
        currency=currency,
    )
    worth = paid(figures, paid_lines)
    assert sum(worth.lines.values(), worth.shipping) == total
    assert all(v >= 0 for v in worth.lines.values()) and worth.shipping >= 0
    # In random steps, each line's refunds add up to its value.
    for line in paid_lines:
        left, taken = line.quantity, D(0)
        while left:
            units = dice.randint(1, left)
            taken += line_refund(worth.lines[line.line_id], line.quantity, units, left, taken, currency)
            left -= units
        assert taken == worth.lines[line.line_id]
