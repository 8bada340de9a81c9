"""Attribute values as the API writes them (strings) and as the tables hold them (typed columns).

One place reads a value given as text for its attribute's type (`parse_value`), for staff setting
values and for shoppers filtering, and one place writes a stored value back as text (`render`), so
what a product shows is what a filter takes. The storefront's attribute filter is resolved here to
what the listing's SQL compares (`AttributeCondition`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from loaders import Loaders
from models import Attribute, AttributeType
from models.attributes import ATTRIBUTE_SLUG_LENGTH, ATTRIBUTE_VALUE_LENGTH, NUMBER_DIGITS, NUMBER_PLACES
from resolvers.errors import BadInput

# Bounds of the storefront's attribute filter: each entry is a parameter of the listing, the count
# and the facet statements.
MAX_ATTRIBUTE_FILTERS = 10
MAX_ATTRIBUTE_FILTER_VALUES = 50
MAX_NUMBER = Decimal(10) ** (NUMBER_DIGITS - NUMBER_PLACES) - 1

Column = Literal["value_text", "value_number", "value_bool", "value_date"]
COLUMNS: dict[AttributeType, Column] = {
    AttributeType.TEXT: "value_text",
    AttributeType.SELECT: "value_text",
    AttributeType.MULTI_SELECT: "value_text",
    AttributeType.NUMBER: "value_number",
    AttributeType.BOOLEAN: "value_bool",
    AttributeType.DATE: "value_date",
}
# Types a filter or facet reads as a range rather than as a list of values.
RANGED = frozenset({AttributeType.NUMBER, AttributeType.DATE})
TypedValue = str | Decimal | bool | date


def parse_value(kind: AttributeType, text: str) -> TypedValue:
    """A value given as text, as its column holds it; ValueError saying what is expected."""
    text = text.strip()
    if kind is AttributeType.NUMBER:
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"{text!r} is not a number.") from None
        if not number.is_finite() or abs(number) > MAX_NUMBER or number != round(number, NUMBER_PLACES):
            raise ValueError(
                f"A number has at most {NUMBER_DIGITS - NUMBER_PLACES} digits before the point and "
                f"{NUMBER_PLACES} after it."
            )
        return number
    if kind is AttributeType.BOOLEAN:
        if text.lower() not in ("true", "false"):
            raise ValueError(f"{text!r} is not true or false.")
        return text.lower() == "true"
    if kind is AttributeType.DATE:
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{text!r} is not an ISO date (YYYY-MM-DD).") from None
    if not text or len(text) > ATTRIBUTE_VALUE_LENGTH:
        raise ValueError(f"A value is 1–{ATTRIBUTE_VALUE_LENGTH} characters.")
    return text


def render(value: TypedValue | None) -> str:
    """A stored value as the API shows it: numbers without trailing zeros, ISO dates, true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format_number(value)
    if isinstance(value, date):
        return value.isoformat()
    return value or ""


def format_number(value: Decimal) -> str:
    # `normalize` alone writes 100 as 1E+2.
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def offered(attribute: Attribute) -> bool:
    """Whether listings filter by the attribute and count it: filterable, and shown on the
    storefront (one staff keep to themselves is not revealed by a filter sidebar either)."""
    return attribute.filterable and attribute.visible_in_storefront


@dataclass(frozen=True)
class AttributeFilter:
    """One entry of `ProductFilter.attributes` as the API received it."""

    slug: str
    values: tuple[str, ...] | None = None
    min: str | None = None
    max: str | None = None
    ranged: bool = False  # `range` given (its ends may both be open)
    boolean: bool | None = None


@dataclass(frozen=True)
class AttributeCondition:
    """What one attribute filter compares: the attribute's column against any of `values`, or
    within `low`..`high` (both ends included, either open)."""

    attribute_id: int
    kind: AttributeType
    column: Column
    values: tuple[Any, ...] = ()
    low: Any = None
    high: Any = None


async def attribute_conditions(
    loaders: Loaders, filters: tuple[AttributeFilter, ...]
) -> tuple[AttributeCondition, ...] | None:
    """The filter within its bounds and its attributes' types (else `BAD_USER_INPUT`); None when
    it names an attribute that does not exist or is not offered as a filter (`offered`), which no
    product matches."""
    if len(filters) > MAX_ATTRIBUTE_FILTERS:
        raise BadInput(
            f"`filter.attributes` may hold at most {MAX_ATTRIBUTE_FILTERS} entries, got {len(filters)}.",
            "filter.attributes",
        )
    for entry in filters:
        _check_shape(entry)
    attributes = await loaders.attribute_by_slug.load_many(list(dict.fromkeys(f.slug for f in filters)))
    by_slug = {a.slug: a for a in attributes if a is not None}
    conditions = []
    for entry in filters:
        attribute = by_slug.get(entry.slug)
        if attribute is None or not offered(attribute):
            return None
        conditions.append(_condition(attribute, entry))
    return tuple(conditions)


def _check_shape(entry: AttributeFilter) -> None:
    given = (entry.values is not None) + entry.ranged + (entry.boolean is not None)
    if given != 1:
        raise BadInput(
            f"`filter.attributes` for {entry.slug!r} takes exactly one of `values`, `range` or `boolean`.",
            "filter.attributes",
        )
    if len(entry.slug) > ATTRIBUTE_SLUG_LENGTH:
        raise BadInput(f"An attribute's slug has at most {ATTRIBUTE_SLUG_LENGTH} characters.", "filter.attributes")
    if entry.values is not None and not 0 < len(entry.values) <= MAX_ATTRIBUTE_FILTER_VALUES:
        raise BadInput(
            f"`filter.attributes` gives 1 to {MAX_ATTRIBUTE_FILTER_VALUES} values for {entry.slug!r}.",
            "filter.attributes",
        )


def _condition(attribute: Attribute, entry: AttributeFilter) -> AttributeCondition:
    kind, column = attribute.type, COLUMNS[attribute.type]
    if entry.boolean is not None:
        if kind is not AttributeType.BOOLEAN:
            raise BadInput(
                f"{attribute.slug!r} is {kind.value}: filter it by `values` or `range`.", "filter.attributes"
            )
        return AttributeCondition(attribute.id, kind, column, values=(entry.boolean,))
    if entry.ranged:
        if kind not in RANGED:
            raise BadInput(
                f"{attribute.slug!r} is {kind.value}: only NUMBER and DATE take a `range`.", "filter.attributes"
            )
        low = None if entry.min is None else _parsed(kind, entry.min, attribute.slug)
        high = None if entry.max is None else _parsed(kind, entry.max, attribute.slug)
        if _above(low, high):
            raise BadInput(f"The range for {attribute.slug!r} has its `min` above its `max`.", "filter.attributes")
        return AttributeCondition(attribute.id, kind, column, low=low, high=high)
    values = tuple(dict.fromkeys(_parsed(kind, value, attribute.slug) for value in entry.values or ()))
    return AttributeCondition(attribute.id, kind, column, values=values)


def _above(low: TypedValue | None, high: TypedValue | None) -> bool:
    """Whether a range's lower end lies above its upper one (both numbers or both dates)."""
    if isinstance(low, Decimal) and isinstance(high, Decimal):
        return low > high
    if isinstance(low, date) and isinstance(high, date):
        return low > high
    return False


def _parsed(kind: AttributeType, text: str, slug: str) -> TypedValue:
    try:
        return parse_value(kind, text)
    except ValueError as error:
        raise BadInput(f"`filter.attributes` for {slug!r}: {error}", "filter.attributes") from None
