"""Amounts cross to a processor's minor units and back exactly, or not at all."""

from __future__ import annotations

from decimal import Decimal

import pytest

from resolvers.currencies import CURRENCIES, from_minor, minor_units, to_minor


def test_exponents_follow_iso_4217():
    assert [minor_units(code) for code in ("EUR", "USD", "JPY", "KRW", "ISK", "KWD", "BHD", "CLF")] == [
        2,
        2,
        0,
        0,
        0,
        3,
        3,
        4,
    ]
    assert minor_units("jpy") == 0  # processors spell codes in lower case


def test_the_exponent_table_names_only_known_codes():
    from resolvers.currencies import _EXPONENTS

    assert set(_EXPONENTS) <= set(CURRENCIES)  # a typo would silently count as 2 decimals


@pytest.mark.parametrize(
    "amount,currency,minor",
    [
        ("12.34", "EUR", 1234),
        ("0.01", "USD", 1),
        ("12.3", "EUR", 1230),
        ("12.340", "EUR", 1234),  # trailing zeros are not decimals
        ("500", "JPY", 500),
        ("500.00", "KRW", 500),
        ("1.234", "KWD", 1234),
        ("0", "EUR", 0),
        ("99999999.99", "EUR", 9999999999),
    ],
)
def test_to_minor_and_back(amount, currency, minor):
    assert to_minor(Decimal(amount), currency) == minor
    assert from_minor(minor, currency) == Decimal(amount)


def test_from_minor_keeps_the_currencys_decimals():
    assert str(from_minor(1230, "EUR")) == "12.30"
    assert str(from_minor(500, "JPY")) == "500"
    assert str(from_minor(1, "KWD")) == "0.001"


@pytest.mark.parametrize(
    "amount,currency",
    [("12.345", "EUR"), ("500.5", "JPY"), ("1.0001", "KWD"), ("NaN", "EUR"), ("Infinity", "EUR")],
)
def test_to_minor_refuses_more_decimals_than_the_currency_has(amount, currency):
    with pytest.raises(ValueError, match=currency):
        to_minor(Decimal(amount), currency)


def test_a_processors_own_exponent_replaces_isos():
    assert to_minor(Decimal("100"), "ISK", exponent=2) == 10000
    assert from_minor(10000, "ISK", exponent=2) == Decimal("100")
    with pytest.raises(ValueError):
        to_minor(Decimal("1.5"), "MGA", exponent=0)
