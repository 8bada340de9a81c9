"""Typed attributes on the storefront: what a product shows (`Product.attributes`), how a listing
filters by them (`ProductFilter.attributes`) and counts them (`ProductFacets.attributes`).

The types only; the fields carrying them are on the catalogue's types (schema/catalogue.py), which
build them from what the listing loaded for the whole page. Staff define attributes and set values
in `attributes_admin.py`.
"""

from __future__ import annotations

from collections.abc import Iterable

import strawberry
from strawberry.types import Info

from models import Attribute as AttributeModel
from models import AttributeType
from models.attributes import ShownValue
from resolvers.attributes import AttributeFilter, render
from resolvers.catalogue_listing import AttributeFacet as AttributeFacetResult
from schema.context import Context
from schema.ids import encode_id
from schema.shared import described_enum

described_enum(
    AttributeType,
    "What an attribute's values are; every value is written as text in the API.",
    {
        AttributeType.TEXT: "Free text, such as a care instruction.",
        AttributeType.NUMBER: 'A number, in the attribute\'s `unit` (such as "g"): "250", "0.5".',
        AttributeType.BOOLEAN: 'Yes or no: "true" or "false".',
        AttributeType.SELECT: "One of the attribute's `choices`.",
        AttributeType.MULTI_SELECT: "Any number of the attribute's `choices`.",
        AttributeType.DATE: 'An ISO date: "2026-05-31".',
    },
)


async def _choices(root: Attribute, info: Info[Context, None]) -> list[str]:
    return [choice.value for choice in await info.context.loaders.choices_by_attribute_id.load(root._id)]


@strawberry.type(description="A property staff define once and give values to on many products, such as Material.")
class Attribute:
    id: strawberry.ID = strawberry.field(description="The attribute's ID.")
    name: str = strawberry.field(description='Its name, as shoppers see it: "Material".')
    slug: str = strawberry.field(description="Its key, unique: what filters and `productAttributesSet` name it by.")
    type: AttributeType = strawberry.field(description="What its values are.")
    unit: str | None = strawberry.field(description='A NUMBER\'s unit, such as "g"; null when none.')
    filterable: bool = strawberry.field(
        description="Whether listings filter by it (`ProductFilter.attributes`) and count it (`facets.attributes`)."
    )
    choices: list[str] = strawberry.field(
        resolver=_choices, description="The values a SELECT or MULTI_SELECT allows, in order; empty for the others."
    )
    _id: strawberry.Private[int]


def build_attribute(attribute: AttributeModel | ShownValue) -> Attribute:
    """From the model, or from a shown value, which carries what the storefront shows of it."""
    if isinstance(attribute, ShownValue):
        attribute_id, name, slug, kind = attribute.attribute_id, attribute.name, attribute.slug, attribute.type
    else:
        attribute_id, name, slug, kind = attribute.id, attribute.name, attribute.slug, attribute.type
    return Attribute(
        id=encode_id("Attribute", attribute_id),
        name=name,
        slug=slug,
        type=kind,
        unit=attribute.unit or None,
        filterable=attribute.filterable,
        _id=attribute_id,
    )


@strawberry.type(description="An attribute of a product or variant with its values there.")
class SelectedAttribute:
    attribute: Attribute = strawberry.field(description="The attribute.")
    values: list[str] = strawberry.field(
        description='Its values, as text: one, or several for a MULTI_SELECT; numbers such as "250", dates ISO, '
        'booleans "true" or "false".'
    )


def build_selected_attributes(shown: Iterable[ShownValue]) -> list[SelectedAttribute]:
    """The values of one product or variant, in the order they were loaded, grouped by attribute."""
    selected: list[SelectedAttribute] = []
    last_id = None
    for value in shown:
        if value.attribute_id != last_id:
            selected.append(SelectedAttribute(attribute=build_attribute(value), values=[]))
            last_id = value.attribute_id
        selected[-1].values.append(render(value.value))
    return selected


@strawberry.type(description="One value of an attribute, and how many matching products have it.")
class AttributeValueFacet:
    value: str = strawberry.field(description="The value, as `SelectedAttribute.values` writes it.")
    count: int = strawberry.field(description="Matching products having it, themselves or on a variant.")


@strawberry.type(description="The lowest and the highest value of a NUMBER or DATE attribute, both included.")
class AttributeRange:
    min: str = strawberry.field(description="The lowest value.")
    max: str = strawberry.field(description="The highest value.")


@strawberry.type(description="A filterable attribute of the matching products, for a filter sidebar.")
class AttributeFacet:
    attribute: Attribute = strawberry.field(description="The attribute.")
    values: list[AttributeValueFacet] = strawberry.field(
        description="Each value with its count (false before true; text in alphabetical order); empty for a NUMBER "
        "or DATE, which have `range`."
    )
    range: AttributeRange | None = strawberry.field(
        description="For a NUMBER or DATE: its lowest and highest value among the matching products; null otherwise."
    )


def build_attribute_facets(facets: list[AttributeFacetResult]) -> list[AttributeFacet]:
    return [
        AttributeFacet(
            attribute=build_attribute(facet.attribute),
            values=[AttributeValueFacet(value=render(value), count=count) for value, count in facet.values],
            range=None
            if facet.range is None
            else AttributeRange(min=render(facet.range[0]), max=render(facet.range[1])),
        )
        for facet in facets
    ]


@strawberry.input(description="Both ends included; an end left out is open. Numbers or ISO dates, as the attribute is.")
class AttributeRangeInput:
    min: str | None = strawberry.field(default=None, description="The lowest value to include.")
    max: str | None = strawberry.field(default=None, description="The highest value to include.")


@strawberry.input(
    description="Products having (themselves or on a variant) a value of the attribute `slug` that meets exactly one "
    "of `values`, `range` or `boolean`."
)
class AttributeFilterInput:
    slug: str = strawberry.field(
        description="The attribute's slug; one that does not exist, is not filterable or not shown on the storefront "
        "matches nothing."
    )
    values: list[str] | None = strawberry.field(
        default=None, description='Any of these values, written as `SelectedAttribute.values` writes them: ["Wool"].'
    )
    range: AttributeRangeInput | None = strawberry.field(default=None, description="For a NUMBER or DATE attribute.")
    boolean: bool | None = strawberry.field(default=None, description="For a BOOLEAN attribute.")


def attribute_filters(filters: list[AttributeFilterInput] | None) -> tuple[AttributeFilter, ...]:
    return tuple(
        AttributeFilter(
            slug=entry.slug,
            values=None if entry.values is None else tuple(entry.values),
            min=entry.range.min if entry.range else None,
            max=entry.range.max if entry.range else None,
            ranged=entry.range is not None,
            boolean=entry.boolean,
        )
        for entry in filters or ()
    )
