"""The custom scalars (Date, DateTime, Decimal), each with the specification of its text form.

Every one is a string on the wire, and says so through `@specifiedBy`: a code generator (GraphQL
Code Generator, Apollo's codegen) or a reader of the schema then knows its exact format instead of
typing it `unknown`. Where the GraphQL Scalars project (scalars.graphql.org) has a specification
that matches what the gateway sends, it is named; otherwise the standard that defines the format.

DateTime also refuses a date-time that no timestamp column can hold. Strawberry's DateTime reads
any ISO 8601 date-time Python can represent, but the database stores it in UTC: year 1 at +05:00
is year 0 there, 9999-12-31 at -05:00 year 10000, and converting either raised OverflowError inside
a resolver (an internal error for `orders(filter: {createdAfter})`, `discountCodeCreate(startsAt)`,
a tracking event's `occurredAt`). Refused here instead, while graphql-core coerces the variable or
literal: `BAD_USER_INPUT` before any resolver runs.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import dateutil.parser  # type: ignore[import-untyped]  # Strawberry's own DateTime parses with it
import strawberry
from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.file_uploads.scalars import Upload, UploadDefinition
from strawberry.schema.types.base_scalars import DateDefinition, DecimalDefinition
from strawberry.types.scalar import ScalarDefinition

# RFC 3339's `date-time` (section 5.6): what `datetime.isoformat()` writes for the timezone-aware
# values the database gives (Tortoise with `use_tz`), e.g. 2026-11-27T14:05:00.123456+00:00.
# The GraphQL Scalars DateTime (andimarek/date-time) wants exactly three fractional digits: not this.
RFC_3339_DATE_TIME = "https://www.rfc-editor.org/rfc/rfc3339#section-5.6"
# YYYY-MM-DD, as `date.isoformat()` writes it.
LOCAL_DATE = "https://scalars.graphql.org/andimarek/local-date.html"
# XML Schema's `decimal` lexical form: an optional sign, digits, a decimal point and digits; no
# exponent, as `str()` writes the fixed-point amounts the gateway keeps. The GraphQL Scalars Decimal
# (chillicream/decimal) is a JSON number, which a float-parsing client would round: not this.
XSD_DECIMAL = "https://www.w3.org/TR/xmlschema11-2/#decimal"


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
    description="A moment in time: an RFC 3339 date-time with its offset from UTC, such as "
    '"2026-11-27T14:05:00+00:00" (seconds may carry a fraction). The gateway answers in UTC; send '
    "an offset too (`Z`, `+01:00`).",
    specified_by_url=RFC_3339_DATE_TIME,
    serialize=datetime.isoformat,
    parse_value=parse_datetime,
)

# Strawberry's own Date and Decimal, parsing and printing as they did, with their format named.
DATE: ScalarDefinition = replace(
    DateDefinition,
    description='A calendar day as YYYY-MM-DD, such as "2026-11-29": no time of day, no time zone.',
    specified_by_url=LOCAL_DATE,
)

DECIMAL: ScalarDefinition = replace(
    DecimalDefinition,
    description='An exact decimal number written as a string, such as "19.99" or "-5.00": an optional '
    "sign, digits and a decimal point, never an exponent. Compute with a decimal type, not binary "
    "floating point. Input may also be a JSON number, read through its decimal text.",
    specified_by_url=XSD_DECIMAL,
)

# A file sent with a mutation: gateway/graphql_view.py reads multipart requests as the spec has it.
UPLOAD: ScalarDefinition = replace(
    UploadDefinition,
    description="A file sent with the mutation as a part of a multipart/form-data request (the GraphQL multipart "
    "request spec): its variable is `null` in `operations` and named in `map`. Only signed-in staff may send files.",
    specified_by_url="https://github.com/jaydenseric/graphql-multipart-request-spec",
)

# What `StrawberryConfig(scalar_map=...)` takes: the Python types these scalars stand for.
SCALARS: dict[object, ScalarDefinition] = {datetime: DATETIME, date: DATE, Decimal: DECIMAL, Upload: UPLOAD}
