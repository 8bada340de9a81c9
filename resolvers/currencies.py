"""The currencies a store may price in: ISO 4217's list of active codes, with their names.

Taken from pycountry (Debian's iso-codes data), which follows the standard's amendments: a new code
(ZWG, XCG) or a withdrawn one (HRK, ANG) arrives with a release of the package, not by hand. The
store's currency (`STORE_CURRENCY`) is checked against this list, and the GraphQL `CurrencyCode`
enum lists the same codes; a new release therefore changes the schema, so the version is pinned.
"""

from __future__ import annotations

import pycountry

# Code -> the standard's English name, in code order, funds and precious metals included (XAU,
# XTS) as list one has them.
CURRENCIES: dict[str, str] = {c.alpha_3: c.name for c in sorted(pycountry.currencies, key=lambda c: c.alpha_3)}
