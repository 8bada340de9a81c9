"""Postal addresses as orders and carts show them; shared by the domains that ship somewhere."""

from __future__ import annotations

import strawberry


@strawberry.type
class MailingAddress:
    first_name: str
    last_name: str
    company: str | None
    line1: str
    line2: str | None
    city: str
    postal_code: str
    region: str | None
    country: str = strawberry.field(description="ISO 3166-1 alpha-2.")
    phone: str | None


def build_mailing_address(values: dict[str, str]) -> MailingAddress:
    """An address as stored on a cart or an order (resolvers/accounts.py validates it)."""
    optional = {name: values.get(name) or None for name in ("company", "line2", "region", "phone")}
    return MailingAddress(
        first_name=values["first_name"],
        last_name=values["last_name"],
        line1=values["line1"],
        city=values["city"],
        postal_code=values["postal_code"],
        country=values["country"],
        **optional,
    )
