"""The rounding rule, as a table."""

from decimal import Decimal

import pytest

from resolvers.pricing import line_total, minor_unit, round_money, subtotal


@pytest.mark.parametrize("amount,currency,expected", [
    ("19.995", "EUR", "20.00"),
    ("19.994", "EUR", "19.99"),
    ("0.005", "EUR", "0.01"),
    ("2.5", "JPY", "3"),
    ("1.2345", "BHD", "1.235"),
    ("-1.005", "EUR", "-1.01"),
    ("7", "usd", "7.00"),
])
def test_round_money(amount, currency, expected):
    assert round_money(Decimal(amount), currency) == Decimal(expected)
    assert str(round_money(Decimal(amount), currency)) == expected


@pytest.mark.parametrize("unit,quantity,currency,expected", [
    ("19.99", 3, "EUR", "59.97"),
    ("0.333", 3, "EUR", "1.00"),
    ("1000", 1, "JPY", "1000"),
])
def test_line_total(unit, quantity, currency, expected):
    assert line_total(Decimal(unit), quantity, currency) == Decimal(expected)


def test_subtotal_of_rounded_lines():
    assert subtotal([Decimal("0.10"), Decimal("0.20")], "EUR") == Decimal("0.30")
    assert subtotal([], "EUR") == Decimal("0.00")
    assert minor_unit("EUR") == 2 and minor_unit("JPY") == 0 and minor_unit("KWD") == 3
