"""The schema documents itself: every element described, scalars with their specification, ISO 4217 currencies.

Issue 14, point 11. The walk reads the SDL clients see (`tests/graphql_schema.py`), so a type, field,
argument, input field or enum value added without a description fails here, whichever module adds it.
"""

from __future__ import annotations

import re
from enum import StrEnum

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLUnionType,
)
from graphql.type import specified_scalar_types

from gateway.settings import ConfigError, load_settings
from resolvers.currencies import CURRENCIES
from schema.shared import described_enum
from tests.cache_client import gateway
from tests.graphql_schema import GRAPHQL_SCHEMA

# RFC 3339 section 5.6 `date-time`, and XML Schema's `decimal` lexical form: what @specifiedBy promises.
RFC_3339_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})", re.IGNORECASE)
XSD_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")


def _undescribed() -> list[str]:
    """Schema coordinates (`Type`, `Type.field`, `Type.field(arg:)`, `Enum.VALUE`) without a description."""
    missing = []
    for name, graphql_type in GRAPHQL_SCHEMA.type_map.items():
        if name.startswith("__") or name in specified_scalar_types:
            continue  # introspection's types and the built-in scalars are the spec's
        if not graphql_type.description:
            missing.append(name)
        if isinstance(graphql_type, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in graphql_type.fields.items():
                if not field.description:
                    missing.append(f"{name}.{field_name}")
                missing += [
                    f"{name}.{field_name}({arg}:)" for arg, value in field.args.items() if not value.description
                ]
        elif isinstance(graphql_type, GraphQLInputObjectType):
            missing += [f"{name}.{field}" for field, value in graphql_type.fields.items() if not value.description]
        elif isinstance(graphql_type, GraphQLEnumType):
            missing += [f"{name}.{value}" for value, spec in graphql_type.values.items() if not spec.description]
        else:
            assert isinstance(graphql_type, GraphQLScalarType | GraphQLUnionType), name
    return missing


def test_every_type_field_argument_input_field_and_enum_value_is_described():
    assert _undescribed() == []


def test_the_walk_sees_every_kind_of_element():
    # It reads what it claims to: a schema element of each kind, and the root types.
    query = GRAPHQL_SCHEMA.query_type
    assert query is not None and query.description
    assert query.fields["products"].args["first"].description
    assert GRAPHQL_SCHEMA.type_map["CartLineInput"].fields["variantId"].description  # type: ignore[union-attr]
    assert GRAPHQL_SCHEMA.type_map["OrderStatus"].values["PLACED"].description  # type: ignore[union-attr]


def test_an_enum_registered_without_every_value_described_fails_at_import():
    Colour = StrEnum("Colour", ["RED", "GREEN"])
    with pytest.raises(ValueError, match="GREEN"):
        described_enum(Colour, "A colour.", {Colour.RED: "Red."})


def test_custom_scalars_name_the_specification_of_their_text():
    custom = [
        t
        for n, t in GRAPHQL_SCHEMA.type_map.items()
        if isinstance(t, GraphQLScalarType) and n not in specified_scalar_types
    ]
    assert {scalar.name for scalar in custom} >= {"Date", "DateTime", "Decimal"}
    for scalar in custom:
        assert scalar.specified_by_url and scalar.specified_by_url.startswith("https://"), scalar.name
    assert "rfc3339" in GRAPHQL_SCHEMA.type_map["DateTime"].specified_by_url  # type: ignore[union-attr, operator]


def test_money_currency_is_the_iso_4217_enum():
    currency = GRAPHQL_SCHEMA.type_map["Money"].fields["currency"].type  # type: ignore[union-attr]
    assert isinstance(currency, GraphQLNonNull) and currency.of_type.name == "CurrencyCode"
    codes = GRAPHQL_SCHEMA.type_map["CurrencyCode"]
    assert isinstance(codes, GraphQLEnumType)
    assert {name: value.description for name, value in codes.values.items()} == CURRENCIES
    assert len(CURRENCIES) > 150 and CURRENCIES["EUR"] == "Euro" and CURRENCIES["JPY"] == "Yen"
    # Active codes only: the Croatian kuna gave way to the euro in 2023.
    assert "HRK" not in CURRENCIES


@pytest.mark.parametrize("code", ["XYZ", "HRK", "eur", "EURO"])
def test_the_store_currency_must_be_an_active_iso_4217_code(code):
    with pytest.raises(ConfigError, match=r"^STORE_CURRENCY: .*ISO 4217"):
        load_settings({"STORE_CURRENCY": code})
    assert load_settings({"STORE_CURRENCY": "JPY"}).store_currency == "JPY"


async def test_on_the_wire_amounts_dates_and_currencies_are_the_strings_the_schema_promises(db):
    query = "{ products(first: 5) { edges { node { createdAt variants { price { amount currency } } } } } }"
    async with gateway(db, STORE_CURRENCY="JPY", CACHE_ENABLED="0") as (client, _):
        response = await client.post("/graphql", json={"query": query})
    products = [edge["node"] for edge in response.json()["data"]["products"]["edges"]]
    prices = [variant["price"] for product in products for variant in product["variants"]]
    assert products and prices
    for product in products:
        assert RFC_3339_DATE_TIME.fullmatch(product["createdAt"]), product["createdAt"]
    for price in prices:
        assert XSD_DECIMAL.fullmatch(price["amount"]) and price["currency"] == "JPY", price
