"""The rounding rule, as a table."""

from decimal import Decimal

import pytest

from resolvers.pricing import line_total, round_money, subtotal


@pytest.mark.parametrize(
    "amount,currency,expected",
    [
        ("19.995", "EUR", "20.00"),
        ("19.994", "EUR", "19.99"),
        ("0.005", "EUR", "0.01"),
        ("2.5", "JPY", "3"),
        ("1.2345", "BHD", "1.235"),
        ("-1.005", "EUR", "-1.01"),
        ("7", "usd", "7.00"),
    ],
)
def test_round_money(amount, currency, expected):
    assert round_money(Decimal(amount), currency) == Decimal(expected)
    assert str(round_money(Decimal(amount), currency)) == expected


@pytest.mark.parametrize(
    "unit,quantity,currency,expected",
    [
        ("19.99", 3, "EUR", "59.97"),
        ("0.333", 3, "EUR", "1.00"),
        ("1000", 1, "JPY", "1000"),
    ],
)
def test_line_total(unit, quantity, currency, expected):
    assert line_total(Decimal(unit), quantity, currency) == Decimal(expected)


def test_subtotal_of_rounded_lines():
    assert subtotal([Decimal("0.10"), Decimal("0.20")], "EUR") == Decimal("0.30")
    assert subtotal([], "EUR") == Decimal("0.00")


from resolvers.pricing import totals  # noqa: E402


@pytest.mark.parametrize(
    "subtotal,kind,value,shipping,rate,included,expected",
    [
        # subtotal, discount kind/value, shipping, tax rate, prices include tax -> (discount, shipping, tax, total)
        ("100.00", None, "0", "4.95", "0.19", True, ("0.00", "4.95", "16.76", "104.95")),
        ("100.00", None, "0", "4.95", "0.19", False, ("0.00", "4.95", "19.94", "124.89")),
        ("100.00", "PERCENTAGE", "10", "4.95", "0.19", True, ("10.00", "4.95", "15.16", "94.95")),
        ("19.99", "PERCENTAGE", "15", "0", "0", True, ("3.00", "0.00", "0.00", "16.99")),
        ("20.00", "FIXED_AMOUNT", "25", "5.00", "0.20", True, ("20.00", "5.00", "0.83", "5.00")),
        ("50.00", "FREE_SHIPPING", "0", "12.90", "0.19", False, ("0.00", "0.00", "9.50", "59.50")),
        ("0.00", None, "0", None, "0.19", True, ("0.00", "0.00", "0.00", "0.00")),
    ],
)
def test_totals(subtotal, kind, value, shipping, rate, included, expected):
    result = totals(
        Decimal(subtotal),
        "EUR",
        discount_kind=kind,
        discount_value=Decimal(value),
        shipping=None if shipping is None else Decimal(shipping),
        tax_rate=Decimal(rate),
        prices_include_tax=included,
    )
    assert (str(result.discount), str(result.shipping), str(result.tax), str(result.total)) == expected
    assert result.total >= 0
