"""Postal addresses as orders and carts show them, and as clients give them; shared by the domains that
ship somewhere."""

from __future__ import annotations

import strawberry

from models.accounts import ADDRESS_LENGTHS


@strawberry.type(description="A postal address, as a parcel is labelled with it.")
class MailingAddress:
    first_name: str = strawberry.field(description="The recipient's first name.")
    last_name: str = strawberry.field(description="The recipient's last name.")
    company: str | None = strawberry.field(description="The company to deliver to; null when none.")
    line1: str = strawberry.field(description="Street and number.")
    line2: str | None = strawberry.field(description="More of the address (floor, flat, building); null when none.")
    city: str = strawberry.field(description="The city or town.")
    postal_code: str = strawberry.field(description="The postal or ZIP code.")
    region: str | None = strawberry.field(
        description="The state, province or county, where the country uses one; null when none."
    )
    country: str = strawberry.field(description="The country, as its ISO 3166-1 alpha-2 code (such as DE).")
    phone: str | None = strawberry.field(description="A phone number for the carrier; null when none.")


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


def _limit(name: str) -> str:
    return f"At most {ADDRESS_LENGTHS[name]} characters."


@strawberry.input(description="A postal address. Text is trimmed; a field longer than its limit is refused (TOO_LONG).")
class AddressInput:
    first_name: str = strawberry.field(description=f"The recipient's first name. {_limit('first_name')}")
    last_name: str = strawberry.field(description=f"The recipient's last name. {_limit('last_name')}")
    line1: str = strawberry.field(description=f"Street and number. {_limit('line1')}")
    city: str = strawberry.field(description=f"The city or town. {_limit('city')}")
    postal_code: str = strawberry.field(description=f"The postal or ZIP code. {_limit('postal_code')}")
    country: str = strawberry.field(description="An ISO 3166-1 alpha-2 country code such as DE, in any case.")
    company: str | None = strawberry.field(default=None, description=f"The company to deliver to. {_limit('company')}")
    line2: str | None = strawberry.field(default=None, description=f"More of the address. {_limit('line2')}")
    region: str | None = strawberry.field(
        default=None, description=f"The state, province or county. {_limit('region')}"
    )
    phone: str | None = strawberry.field(default=None, description=f"A phone number for the carrier. {_limit('phone')}")
