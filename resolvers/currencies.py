"""The currencies a store may price in: ISO 4217's list of active codes, with their names.

Taken from pycountry (Debian's iso-codes data), which follows the standard's amendments: a new code
(ZWG, XCG) or a withdrawn one (HRK, ANG) arrives with a release of the package, not by hand. The
store's currency (`STORE_CURRENCY`) is checked against this list, and the GraphQL `CurrencyCode`
enum lists the same codes; a new release therefore changes the schema, so the version is pinned.

Money is counted in major units (12.34 EUR) everywhere in the gateway; a payment processor counts
minor units (1234 cents), so a provider converts at its edge with `to_minor` and `from_minor`.
"""

from __future__ import annotations

from decimal import Decimal

import pycountry

# Code -> the standard's English name, in code order, funds and precious metals included (XAU,
# XTS) as list one has them.
CURRENCIES: dict[str, str] = {c.alpha_3: c.name for c in sorted(pycountry.currencies, key=lambda c: c.alpha_3)}

# ISO 4217's exponent (digits after the decimal point) where it is not 2. Funds and precious
# metals, which have none ("N.A."), count as 2 like the rest.
_EXPONENTS = {
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "ISK": 0,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "PYG": 0,
    "RWF": 0,
    "UGX": 0,
    "UYI": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
    "BHD": 3,
    "IQD": 3,
    "JOD": 3,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
    "CLF": 4,
    "UYW": 4,
}


def minor_units(currency: str) -> int:
    """How many digits the currency has after the decimal point: 2 for EUR, 0 for JPY, 3 for KWD."""
    return _EXPONENTS.get(currency.upper(), 2)


def to_minor(amount: Decimal, currency: str, exponent: int | None = None) -> int:
    """`amount` in the currency's minor unit (12.34 EUR -> 1234, 500 JPY -> 500), as processors count.

    ValueError when the amount has more decimals than the currency: rounding here would charge
    another amount than the order's. `exponent` replaces ISO's where a processor counts otherwise.
    """
    digits = minor_units(currency) if exponent is None else exponent
    minor = amount.scaleb(digits)
    if not minor.is_finite() or minor != minor.to_integral_value():
        raise ValueError(f"{amount} {currency.upper()} has more than {digits} decimals")
    return int(minor)


def from_minor(value: int, currency: str, exponent: int | None = None) -> Decimal:
    """What `to_minor` gave back as a Decimal in major units, with the currency's decimals (1234 -> 12.34)."""
    digits = minor_units(currency) if exponent is None else exponent
    return Decimal(value).scaleb(-digits)
