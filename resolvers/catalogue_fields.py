"""What a catalogue field may hold: names, slugs, prices, SKUs and variant options.

Each check trims what it is given and returns the value to store, or raises a DomainError naming
the field; text is bounded by its column's length (`models.catalogue`), a price by the money
columns' digits (`MAX_PRICE`). Staff edits (`catalogue_admin`) check every field through here.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Literal, overload

from models import Category, Product
from models.catalogue import NAME_LENGTH, OPTION_NAME_LENGTH, OPTION_VALUE_LENGTH, SKU_LENGTH, SLUG_LENGTH
from resolvers.errors import DomainError, ErrorCode, text_code

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MAX_PRICE = Decimal("9999999999.99")


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:SLUG_LENGTH] or "item"


@overload
def validate_name(value: str | None, field_name: str, required: Literal[True], length: int = NAME_LENGTH) -> str: ...
@overload
def validate_name(value: str | None, field_name: str, required: bool, length: int = NAME_LENGTH) -> str | None: ...
def validate_name(value: str | None, field_name: str, required: bool, length: int = NAME_LENGTH) -> str | None:
    """A trimmed name of 1 to `length` characters: its column's length (models.catalogue)."""
    if value is None:
        if required:
            raise DomainError(ErrorCode.REQUIRED, f"`{field_name}` is required.", [field_name])
        return None
    value = value.strip()
    if not value or len(value) > length:
        raise DomainError(text_code(value, length), f"`{field_name}` must be 1–{length} characters.", [field_name])
    return value


def validate_slug(value: str | None, field_name: str = "slug") -> str | None:
    if value is None:
        return None
    value = value.strip().lower()
    if not _SLUG.match(value) or len(value) > SLUG_LENGTH:
        raise DomainError(
            text_code(value, SLUG_LENGTH),
            f"A slug is at most {SLUG_LENGTH} lowercase letters and digits joined by single dashes.",
            [field_name],
        )
    return value


def validate_price(value: Decimal | None, field_name: str, required: bool) -> Decimal | None:
    if value is None:
        if required:
            raise DomainError(ErrorCode.REQUIRED, f"`{field_name}` is required.", [field_name])
        return None
    try:
        if not value.is_finite() or value < 0 or value > MAX_PRICE:
            raise DomainError(
                ErrorCode.INVALID_AMOUNT, f"`{field_name}` must be between 0 and {MAX_PRICE}.", [field_name]
            )
        if value != value.quantize(Decimal("0.01")):
            raise DomainError(ErrorCode.INVALID_AMOUNT, f"`{field_name}` has at most two decimal places.", [field_name])
    except InvalidOperation:
        raise DomainError(ErrorCode.INVALID_AMOUNT, f"`{field_name}` is not an amount.", [field_name]) from None
    return value


async def unique_slug(
    model: type[Category] | type[Product], wanted: str | None, name: str, exclude_id: int | None = None
) -> str:
    """An explicit slug must be free (DUPLICATE otherwise); a derived one gets a numeric suffix."""
    queryset = model.filter(slug=wanted or "")
    if wanted is not None:
        if await (queryset.exclude(id=exclude_id) if exclude_id else queryset).exists():
            raise DomainError(ErrorCode.DUPLICATE, f"The slug {wanted!r} is taken.", ["slug"])
        return wanted
    base = slugify(name)
    candidate, n = base, 1
    while await model.filter(slug=candidate).exists():
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def validate_sku(value: str | None, required: bool) -> str | None:
    if value is None:
        if required:
            raise DomainError(ErrorCode.REQUIRED, "`sku` is required.", ["sku"])
        return None
    value = value.strip()
    if not re.fullmatch(rf"[A-Za-z0-9][A-Za-z0-9._/-]{{0,{SKU_LENGTH - 1}}}", value):
        raise DomainError(
            text_code(value, SKU_LENGTH),
            f"A SKU is 1–{SKU_LENGTH} letters, digits, dots, dashes, underscores or slashes.",
            ["sku"],
        )
    return value


def validate_options(options: list[tuple[str, str]] | None) -> list[tuple[str, str]] | None:
    if options is None:
        return None
    seen = set()
    for name, value in options:
        if not name.strip() or not value.strip() or len(name) > OPTION_NAME_LENGTH or len(value) > OPTION_VALUE_LENGTH:
            raise DomainError(
                ErrorCode.INVALID,
                f"Options need a name (≤ {OPTION_NAME_LENGTH}) and a value (≤ {OPTION_VALUE_LENGTH}).",
                ["options"],
            )
        if name.strip().lower() in seen:
            raise DomainError(ErrorCode.DUPLICATE, f"The option {name!r} is given twice.", ["options"])
        seen.add(name.strip().lower())
    return [(n.strip(), v.strip()) for n, v in options]
