"""Postal addresses: the one validation every address goes through (saved, shipping, billing), and
the addresses a customer saves, corrects and picks as defaults.

A saved address is only ever its owner's: another account's address ID is NOT_FOUND, exactly as an
ID that does not exist. An account has at most one default address of each type (`AddressType`);
the flags live on the address rows, so deleting the default address clears the default with it.
"""

from __future__ import annotations

from tortoise.expressions import Q

from models import Account, Address, AddressType
from models.accounts import ADDRESS_LENGTHS
from resolvers import outbox
from resolvers.countries import COUNTRIES
from resolvers.errors import DomainError, ErrorCode

MAX_SAVED = 20
REQUIRED_ADDRESS_FIELDS = ("first_name", "last_name", "line1", "city", "postal_code", "country")
_DEFAULT_FLAG = {AddressType.SHIPPING: "default_shipping", AddressType.BILLING: "default_billing"}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def validate_address(values: dict[str, str | None], prefix: str = "address") -> dict[str, str]:
    """Required fields present, lengths bounded, country an ISO 3166-1 alpha-2 code."""
    clean: dict[str, str] = {}
    for name in (*ADDRESS_LENGTHS, "country"):
        value = (values.get(name) or "").strip()
        if name in REQUIRED_ADDRESS_FIELDS and not value:
            raise DomainError(ErrorCode.REQUIRED, f"`{_camel(name)}` is required.", [prefix, _camel(name)])
        if name in ADDRESS_LENGTHS and len(value) > ADDRESS_LENGTHS[name]:
            raise DomainError(
                ErrorCode.TOO_LONG,
                f"`{_camel(name)}` may have at most {ADDRESS_LENGTHS[name]} characters.",
                [prefix, _camel(name)],
            )
        clean[name] = value
    clean["country"] = clean["country"].upper()
    if clean["country"] not in COUNTRIES:
        raise DomainError(
            ErrorCode.UNKNOWN_COUNTRY, "`country` must be an ISO 3166-1 alpha-2 code such as DE.", [prefix, "country"]
        )
    return clean


def address_values(address: Address) -> dict[str, str]:
    """A saved address as a cart or an order stores one (what `validate_address` returns)."""
    return {name: getattr(address, name) for name in (*ADDRESS_LENGTHS, "country")}


async def add_address(account: Account, values: dict[str, str | None]) -> Address:
    if await Address.filter(account_id=account.id).count() >= MAX_SAVED:
        raise DomainError(ErrorCode.TOO_MANY, f"At most {MAX_SAVED} addresses can be saved.", ["address"])
    # Built, then saved: `create`'s first parameter is a connection, which a `**fields` could fill.
    address = Address(account_id=account.id, **validate_address(values))
    await address.save(force_create=True)
    return address


def _not_yours() -> DomainError:
    return DomainError(ErrorCode.NOT_FOUND, "You have no saved address with this ID.", ["id"])


async def update_address(account: Account, address_id: int, values: dict[str, str | None]) -> Address:
    """Replace an address's fields (the whole address is given, as when it was saved); it stays
    the default it was."""
    clean = validate_address(values, "input")
    async with outbox.transaction():
        address = await Address.filter(id=address_id, account_id=account.id).select_for_update().first()
        if address is None:
            raise _not_yours()
        for name, value in clean.items():
            setattr(address, name, value)
        await address.save(update_fields=list(clean))
    return address


async def remove_address(account: Account, address_id: int) -> Address:
    address = await Address.get_or_none(id=address_id, account_id=account.id)  # never someone else's
    if address is None:
        raise _not_yours()
    await address.delete()
    return address


async def set_default(account: Account, address_id: int, kind: AddressType) -> Address:
    """Make the address the account's default of this type, in place of the one before."""
    flag = _DEFAULT_FLAG[kind]
    async with outbox.transaction():
        # The account's row lock: two of these at once cannot leave two defaults of one type.
        await Account.filter(id=account.id).select_for_update().only("id").first()
        address = await Address.get_or_none(id=address_id, account_id=account.id)
        if address is None:
            raise _not_yours()
        await Address.filter(account_id=account.id, **{flag: True}).exclude(id=address.id).update(**{flag: False})
        if not getattr(address, flag):
            setattr(address, flag, True)
            await address.save(update_fields=[flag])
    return address


async def default_addresses(account_id: int) -> dict[AddressType, dict[str, str]]:
    """The account's default addresses by type, as a cart stores them; a type without one is absent."""
    found: dict[AddressType, dict[str, str]] = {}
    rows = Address.filter(Q(default_shipping=True) | Q(default_billing=True), account_id=account_id).order_by("id")
    for address in await rows:
        for kind, flag in _DEFAULT_FLAG.items():
            if getattr(address, flag):
                found.setdefault(kind, address_values(address))
    return found
