"""The DateTime scalar, refusing a date-time that no timestamp column can hold.

Strawberry's DateTime reads any ISO 8601 date-time Python can represent, but the database stores
it in UTC: year 1 at +05:00 is year 0 there, 9999-12-31 at -05:00 year 10000, and converting either
raised OverflowError inside a resolver (an internal error for `orders(filter: {createdAfter})`,
`discountCodeCreate(startsAt)`, a tracking event's `occurredAt`). Refused here instead, while
graphql-core coerces the variable or literal: `BAD_USER_INPUT` before any resolver runs.
"""

from __future__ import annotations

from datetime import UTC, datetime

import dateutil.parser  # type: ignore[import-untyped]  # Strawberry's own DateTime parses with it
import strawberry
from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.types.scalar import ScalarDefinition


def parse_datetime(value: object) -> datetime:
    if not isinstance(value, str):
        raise StrawberryInputCoercionError(f'Value cannot represent a DateTime: "{value}". Expected a string.')
    try:
        parsed: datetime = dateutil.parser.isoparse(value)
        if parsed.tzinfo is not None:
            parsed.astimezone(UTC)  # what the database stores
    except OverflowError:
        raise StrawberryInputCoercionError(
            f'Value cannot represent a DateTime: "{value}" is out of range once in UTC.'
        ) from None
    except ValueError as error:
        raise StrawberryInputCoercionError(f'Value cannot represent a DateTime: "{value}". {error}') from None
    return parsed


DATETIME: ScalarDefinition = strawberry.scalar(
    name="DateTime",
    description="Date with time (isoformat)",  # as Strawberry's own, which this replaces
    serialize=datetime.isoformat,
    parse_value=parse_datetime,
)
