"""Staff mutations on attributes (MANAGE_PRODUCTS): define attributes and product types, set the
values of products and variants."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from models import AttributeType, Permission
from models.attributes import ATTRIBUTE_NAME_LENGTH, ATTRIBUTE_UNIT_LENGTH, ATTRIBUTE_VALUE_LENGTH
from models.rows import product_row
from resolvers import attributes_admin as admin
from schema.attributes import Attribute, build_attribute
from schema.catalogue import build_product
from schema.catalogue_admin import ProductPayload, VariantPayload, variant_object
from schema.context import Context
from schema.ids import decode_id_of, encode_id
from schema.permissions import requires
from schema.shared import UserError, attempt


@strawberry.input(description="A new attribute.")
class AttributeCreateInput:
    name: str = strawberry.field(description=f"Its name, as shoppers see it: 1–{ATTRIBUTE_NAME_LENGTH} characters.")
    type: AttributeType = strawberry.field(description="What its values are; it cannot change later.")
    slug: str | None = strawberry.field(
        default=None,
        description="Its key: lowercase letters and digits joined by dashes, unique. Left out: made from the name "
        "(refused when taken).",
    )
    unit: str | None = strawberry.field(
        default=None, description=f'A NUMBER\'s unit, such as "g": at most {ATTRIBUTE_UNIT_LENGTH} characters.'
    )
    choices: list[str] | None = strawberry.field(
        default=None,
        description=f"The values a SELECT or MULTI_SELECT allows, in display order (each at most "
        f"{ATTRIBUTE_VALUE_LENGTH} characters); required for those, refused for the others.",
    )
    filterable: bool = strawberry.field(
        default=True,
        description="Whether listings can filter by it and count it in their facets (while it is visible in the "
        "storefront).",
    )
    visible_in_storefront: bool = strawberry.field(
        default=True,
        description="Whether products show it (`Product.attributes`) and listings offer it as a filter; false: staff "
        "data only.",
    )


@strawberry.input(description="A new product type: the attributes its products and their variants carry.")
class ProductTypeCreateInput:
    name: str = strawberry.field(description=f"Its name: 1–{ATTRIBUTE_NAME_LENGTH} characters.")
    slug: str | None = strawberry.field(
        default=None, description="Its key, unique. Left out: made from the name (refused when taken)."
    )
    product_attributes: list[str] | None = strawberry.field(
        default=None, description="Slugs of the attributes a product has values of, in display order."
    )
    variant_attributes: list[str] | None = strawberry.field(
        default=None,
        description="Slugs of the attributes each variant has values of (what sets variants apart), in display "
        "order; an attribute is a product's or its variants', not both.",
    )


@strawberry.input(description="New values of one attribute; the attributes not named keep theirs.")
class AttributeValueInput:
    slug: str = strawberry.field(description="The attribute's slug: one the product type assigns.")
    values: list[str] = strawberry.field(
        description='Its values as text: one (several for a MULTI_SELECT), such as "Wool", "250", "true", '
        '"2026-05-31"; a SELECT\'s one of its choices. Empty: remove its values.'
    )


@strawberry.type(description="A kind of product and the attributes it and its variants carry.")
class ProductType:
    id: strawberry.ID = strawberry.field(description="The product type's ID, for `productCreate` and `productUpdate`.")
    name: str = strawberry.field(description="Its name.")
    slug: str = strawberry.field(description="Its key, unique.")
    product_attributes: list[Attribute] = strawberry.field(description="What its products have values of, in order.")
    variant_attributes: list[Attribute] = strawberry.field(description="What its variants have values of, in order.")


@strawberry.type(description="What `attributeCreate` did.")
class AttributePayload:
    attribute: Attribute | None = strawberry.field(description="The new attribute; null when nothing changed.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed; empty on success.")


@strawberry.type(description="What `productTypeCreate` did.")
class ProductTypePayload:
    product_type: ProductType | None = strawberry.field(description="The new product type; null when nothing changed.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed; empty on success.")


def _values(values: list[AttributeValueInput]) -> list[admin.ValuesInput]:
    return [admin.ValuesInput(slug=entry.slug, values=tuple(entry.values)) for entry in values]


def _product_type(result: admin.ProductTypeResult) -> ProductType:
    return ProductType(
        id=encode_id("ProductType", result.product_type.id),
        name=result.product_type.name,
        slug=result.product_type.slug,
        product_attributes=[build_attribute(a) for a in result.product_attributes],
        variant_attributes=[build_attribute(a) for a in result.variant_attributes],
    )


ValuesArgument = Annotated[
    list[AttributeValueInput], strawberry.argument(description="The attributes to set, each with its new values.")
]
MANAGE_PRODUCTS = requires(Permission.MANAGE_PRODUCTS)


@strawberry.type
class AttributesAdminMutation:
    @strawberry.mutation(extensions=MANAGE_PRODUCTS, description="Define an attribute products can carry values of.")
    async def attribute_create(
        self, input: Annotated[AttributeCreateInput, strawberry.argument(description="The attribute to define.")]
    ) -> AttributePayload:
        data = admin.AttributeInput(
            name=input.name,
            slug=input.slug,
            type=input.type,
            unit=input.unit,
            choices=input.choices,
            filterable=input.filterable,
            visible_in_storefront=input.visible_in_storefront,
        )
        attribute, errors = await attempt(admin.create_attribute(data))
        return AttributePayload(attribute=None if attribute is None else build_attribute(attribute), user_errors=errors)

    @strawberry.mutation(
        extensions=MANAGE_PRODUCTS,
        description="Define a product type: which attributes its products and variants carry.",
    )
    async def product_type_create(
        self, input: Annotated[ProductTypeCreateInput, strawberry.argument(description="The product type to define.")]
    ) -> ProductTypePayload:
        data = admin.ProductTypeInput(
            name=input.name,
            slug=input.slug,
            product_attributes=list(input.product_attributes or ()),
            variant_attributes=list(input.variant_attributes or ()),
        )
        result, errors = await attempt(admin.create_product_type(data))
        return ProductTypePayload(product_type=None if result is None else _product_type(result), user_errors=errors)

    @strawberry.mutation(
        extensions=MANAGE_PRODUCTS,
        description="Set a product's values of its product type's product attributes, checked against each "
        "attribute's type and choices.",
    )
    async def product_attributes_set(
        self,
        info: Info[Context, None],
        product_id: Annotated[strawberry.ID, strawberry.argument(description="The product.")],
        values: ValuesArgument,
    ) -> ProductPayload:
        product, errors = await attempt(
            admin.set_product_values(decode_id_of(product_id, "Product", "productId"), _values(values))
        )
        return ProductPayload(
            product=None if product is None else await build_product(info.context, product_row(product)),
            user_errors=errors,
        )

    @strawberry.mutation(
        extensions=MANAGE_PRODUCTS,
        description="Set a variant's values of its product type's variant attributes, checked as "
        "`productAttributesSet` checks them.",
    )
    async def variant_attributes_set(
        self,
        info: Info[Context, None],
        variant_id: Annotated[strawberry.ID, strawberry.argument(description="The variant.")],
        values: ValuesArgument,
    ) -> VariantPayload:
        variant, errors = await attempt(
            admin.set_variant_values(decode_id_of(variant_id, "ProductVariant", "variantId"), _values(values))
        )
        return VariantPayload(
            variant=None if variant is None else await variant_object(info.context, variant.id), user_errors=errors
        )
