"""Staff define attributes and product types, and set the values products and variants carry.

Every refusal is a DomainError naming the field, raised before anything is written. A value is
checked against its attribute's type (`resolvers.attributes.parse_value`) and, for a SELECT or
MULTI_SELECT, against its choices; a product or variant takes values only of the attributes its
product type assigns it (a product's own, or its variants'). Setting values records the product's
cache tags and a product event in the same transaction, as every catalogue change does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from tortoise.exceptions import IntegrityError

from models import (
    Attribute,
    AttributeChoice,
    AttributeType,
    AttributeValue,
    Product,
    ProductType,
    ProductTypeAttribute,
    ProductVariant,
)
from models.attributes import (
    ATTRIBUTE_NAME_LENGTH,
    ATTRIBUTE_SLUG_LENGTH,
    ATTRIBUTE_UNIT_LENGTH,
    ATTRIBUTE_VALUE_LENGTH,
)
from resolvers import catalogue_changes as changes
from resolvers import catalogue_events, outbox
from resolvers.attributes import COLUMNS, TypedValue, parse_value
from resolvers.catalogue_fields import slugify, validate_name, validate_slug
from resolvers.errors import DomainError, ErrorCode, text_code

CHOOSING = frozenset({AttributeType.SELECT, AttributeType.MULTI_SELECT})

# --- attributes ------------------------------------------------------------------------------


@dataclass
class AttributeInput:
    name: str | None = None
    slug: str | None = None
    type: AttributeType = AttributeType.TEXT
    unit: str | None = None
    choices: list[str] | None = None
    filterable: bool = True
    visible_in_storefront: bool = True


async def _free_slug(model: type[Attribute] | type[ProductType], wanted: str | None, name: str) -> str:
    """The slug given, or one made from the name; either must be free (DUPLICATE): a slug is what
    filters and values name an attribute by, so it is never silently changed."""
    slug = wanted or slugify(name)[:ATTRIBUTE_SLUG_LENGTH]
    if await model.filter(slug=slug).exists():
        raise DomainError(ErrorCode.DUPLICATE, f"The slug {slug!r} is taken.", ["slug"])
    return slug


def _choices(kind: AttributeType, choices: list[str] | None) -> list[str]:
    if kind not in CHOOSING:
        if choices:
            raise DomainError(ErrorCode.INVALID, "Only a SELECT or MULTI_SELECT attribute has choices.", ["choices"])
        return []
    if not choices:
        raise DomainError(ErrorCode.REQUIRED, "A SELECT or MULTI_SELECT attribute needs its choices.", ["choices"])
    cleaned: list[str] = []
    for index, choice in enumerate(choices):
        value = choice.strip()
        if not value or len(value) > ATTRIBUTE_VALUE_LENGTH:
            raise DomainError(
                text_code(value, ATTRIBUTE_VALUE_LENGTH),
                f"A choice is 1–{ATTRIBUTE_VALUE_LENGTH} characters.",
                ["choices", str(index)],
            )
        if value in cleaned:
            raise DomainError(ErrorCode.DUPLICATE, f"The choice {value!r} is given twice.", ["choices", str(index)])
        cleaned.append(value)
    return cleaned


def _unit(kind: AttributeType, unit: str | None) -> str:
    unit = (unit or "").strip()
    if unit and kind is not AttributeType.NUMBER:
        raise DomainError(ErrorCode.INVALID, "Only a NUMBER attribute has a unit.", ["unit"])
    if len(unit) > ATTRIBUTE_UNIT_LENGTH:
        raise DomainError(ErrorCode.TOO_LONG, f"A unit has at most {ATTRIBUTE_UNIT_LENGTH} characters.", ["unit"])
    return unit


async def create_attribute(data: AttributeInput) -> Attribute:
    name = validate_name(data.name, "name", required=True, length=ATTRIBUTE_NAME_LENGTH)
    slug = await _free_slug(Attribute, validate_slug(data.slug), name)
    unit = _unit(data.type, data.unit)
    choices = _choices(data.type, data.choices)
    try:
        async with outbox.transaction():
            # No product has a value of it yet: no cached answer shows it.
            attribute = await Attribute.create(
                name=name,
                slug=slug,
                type=data.type,
                unit=unit,
                filterable=data.filterable,
                visible_in_storefront=data.visible_in_storefront,
            )
            await AttributeChoice.bulk_create(
                [AttributeChoice(attribute=attribute, value=value, position=i) for i, value in enumerate(choices)]
            )
    except IntegrityError:  # taken between the check and the insert
        raise DomainError(ErrorCode.DUPLICATE, f"The slug {slug!r} is taken.", ["slug"]) from None
    return attribute


# --- product types ---------------------------------------------------------------------------


@dataclass
class ProductTypeInput:
    name: str | None = None
    slug: str | None = None
    product_attributes: list[str] = field(default_factory=list)  # attribute slugs
    variant_attributes: list[str] = field(default_factory=list)


@dataclass
class ProductTypeResult:
    product_type: ProductType
    product_attributes: list[Attribute]
    variant_attributes: list[Attribute]


async def create_product_type(data: ProductTypeInput) -> ProductTypeResult:
    name = validate_name(data.name, "name", required=True, length=ATTRIBUTE_NAME_LENGTH)
    slug = await _free_slug(ProductType, validate_slug(data.slug), name)
    wanted = [*data.product_attributes, *data.variant_attributes]
    found = {a.slug: a for a in await Attribute.filter(slug__in=wanted)}
    seen: set[str] = set()
    for field_name, slugs in (
        ("productAttributes", data.product_attributes),
        ("variantAttributes", data.variant_attributes),
    ):
        for index, wanted_slug in enumerate(slugs):
            if wanted_slug not in found:
                raise DomainError(
                    ErrorCode.NOT_FOUND, f"No attribute has the slug {wanted_slug!r}.", [field_name, str(index)]
                )
            if wanted_slug in seen:
                raise DomainError(
                    ErrorCode.DUPLICATE,
                    f"The attribute {wanted_slug!r} is assigned twice.",
                    [field_name, str(index)],
                )
            seen.add(wanted_slug)
    product_attributes = [found[s] for s in data.product_attributes]
    variant_attributes = [found[s] for s in data.variant_attributes]
    try:
        async with outbox.transaction():
            product_type = await ProductType.create(name=name, slug=slug)
            await ProductTypeAttribute.bulk_create(
                [
                    ProductTypeAttribute(
                        product_type=product_type, attribute=attribute, variant_selection=selection, position=i
                    )
                    for selection, attributes in ((False, product_attributes), (True, variant_attributes))
                    for i, attribute in enumerate(attributes)
                ]
            )
    except IntegrityError:
        raise DomainError(ErrorCode.DUPLICATE, f"The slug {slug!r} is taken.", ["slug"]) from None
    return ProductTypeResult(product_type, product_attributes, variant_attributes)


async def product_type_by_id(product_type_id: int | None) -> ProductType | None:
    """For productCreate and productUpdate: the type asked for (NOT_FOUND when none has the ID)."""
    if product_type_id is None:
        return None
    product_type = await ProductType.get_or_none(id=product_type_id)
    if product_type is None:
        raise DomainError(ErrorCode.NOT_FOUND, "The product type does not exist.", ["productType"])
    return product_type


async def drop_values_outside(product_id: int, product_type_id: int | None) -> None:
    """A product that changed type keeps only the values of the attributes its new type assigns
    (inside the caller's transaction)."""
    kept = (
        await ProductTypeAttribute.filter(product_type_id=product_type_id).values_list("attribute_id", flat=True)
        if product_type_id is not None
        else []
    )
    await AttributeValue.filter(product_id=product_id).exclude(attribute_id__in=list(kept)).delete()


# --- values ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ValuesInput:
    """An attribute's new values by its slug; none removes them."""

    slug: str
    values: tuple[str, ...]


async def set_product_values(product_id: int, values: Sequence[ValuesInput]) -> Product:
    product = await Product.get_or_none(id=product_id)
    if product is None:
        raise DomainError(ErrorCode.NOT_FOUND, "No product has this ID.", ["productId"])
    checked = await _checked(product.product_type_id, values, variant_selection=False)
    await _write(product.id, None, checked)
    return product


async def set_variant_values(variant_id: int, values: Sequence[ValuesInput]) -> ProductVariant:
    variant = await ProductVariant.get_or_none(id=variant_id)
    if variant is None:
        raise DomainError(ErrorCode.NOT_FOUND, "No variant has this ID.", ["variantId"])
    product = await Product.get(id=variant.product_id)  # a variant's product: a foreign key
    checked = await _checked(product.product_type_id, values, variant_selection=True)
    await _write(variant.product_id, variant.id, checked)
    return variant


async def _checked(
    product_type_id: int | None, values: Sequence[ValuesInput], *, variant_selection: bool
) -> list[tuple[Attribute, list[TypedValue]]]:
    """Each attribute with its values parsed and checked, in the order given."""
    owner = "variant" if variant_selection else "product"
    if product_type_id is None:
        raise DomainError(
            ErrorCode.INVALID,
            f"The {owner} has no product type, so no attributes: give its product one with `productUpdate`.",
            ["values"],
        )
    assigned = {
        a.slug: a
        for a in await Attribute.filter(
            assignments__product_type_id=product_type_id, assignments__variant_selection=variant_selection
        )
    }
    choices: dict[int, set[str]] = {}
    for choice in await AttributeChoice.filter(
        attribute_id__in=[a.id for a in assigned.values() if a.type in CHOOSING]
    ):
        choices.setdefault(choice.attribute_id, set()).add(choice.value)
    checked: list[tuple[Attribute, list[TypedValue]]] = []
    seen: set[str] = set()
    for index, entry in enumerate(values):
        path = ["values", str(index)]
        attribute = assigned.get(entry.slug)
        if attribute is None:
            kind = "variant" if variant_selection else "product"
            raise DomainError(
                ErrorCode.NOT_FOUND, f"The product type has no {kind} attribute {entry.slug!r}.", [*path, "slug"]
            )
        if entry.slug in seen:
            raise DomainError(ErrorCode.DUPLICATE, f"The attribute {entry.slug!r} is given twice.", [*path, "slug"])
        seen.add(entry.slug)
        checked.append((attribute, parsed_values(attribute, entry.values, choices.get(attribute.id, set()), path)))
    return checked


def parsed_values(attribute: Attribute, texts: tuple[str, ...], choices: set[str], path: list[str]) -> list[TypedValue]:
    where = [*path, "values"]
    if len(texts) > 1 and attribute.type is not AttributeType.MULTI_SELECT:
        raise DomainError(
            ErrorCode.INVALID, f"{attribute.slug!r} is {attribute.type.value}: it takes one value.", where
        )
    parsed: list[TypedValue] = []
    for text in texts:
        try:
            value = parse_value(attribute.type, text)
        except ValueError as error:
            raise DomainError(ErrorCode.INVALID, f"{attribute.slug!r}: {error}", where) from None
        if attribute.type in CHOOSING and value not in choices:
            raise DomainError(ErrorCode.INVALID, f"{value!r} is not one of {attribute.slug!r}'s choices.", where)
        if value not in parsed:
            parsed.append(value)
    return parsed


async def _write(product_id: int, variant_id: int | None, checked: list[tuple[Attribute, list[TypedValue]]]) -> None:
    async with outbox.transaction() as connection:
        # Two changes of one product's values at once would each delete the old rows and both
        # insert theirs (a SELECT with two values): the product's row lock puts them one after the
        # other. (SQLite serializes every transaction anyway.)
        await Product.select_for_update().using_db(connection).get(id=product_id)
        owner = AttributeValue.filter(product_id=product_id)
        owner = owner.filter(variant_id=variant_id) if variant_id is not None else owner.filter(variant_id__isnull=True)
        await owner.filter(attribute_id__in=[a.id for a, _ in checked]).delete()
        await AttributeValue.bulk_create(
            [
                AttributeValue(
                    attribute_id=attribute.id,
                    product_id=product_id,
                    variant_id=variant_id,
                    position=position,
                    **{COLUMNS[attribute.type]: value},
                )
                for attribute, values in checked
                for position, value in enumerate(values)
            ]
        )
        # What the product shows, and which listings, filters and facets it is in.
        changes.record([changes.product(product_id), changes.PRODUCTS])
        catalogue_events.updated(product_id)
