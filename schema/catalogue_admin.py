"""Staff mutations on the catalogue (MANAGE_PRODUCTS)."""

from __future__ import annotations

from decimal import Decimal

import strawberry
from strawberry.types import Info

from models import Permission, ProductStatus
from models.rows import image_row, product_row
from resolvers import catalogue_admin as admin
from schema.catalogue import (
    Category,
    Image,
    Product,
    ProductVariant,
    build_category,
    build_image,
    build_product,
    build_variant,
)
from schema.context import Context
from schema.ids import decode_id_of
from schema.permissions import requires
from schema.shared import UserError, attempt


def _optional_id(value: strawberry.ID | None, type_name: str, field: str) -> int | None:
    return None if value is None or value is strawberry.UNSET else decode_id_of(value, type_name, field)


@strawberry.input
class CategoryCreateInput:
    name: str
    slug: str | None = None
    description: str | None = None
    parent: strawberry.ID | None = None
    position: int | None = None


@strawberry.input(description="Fields left out stay as they are; `parent: null` makes the category top-level.")
class CategoryUpdateInput:
    name: str | None = None
    slug: str | None = None
    description: str | None = None
    parent: strawberry.ID | None = strawberry.UNSET
    position: int | None = None


@strawberry.input
class ProductCreateInput:
    name: str
    slug: str | None = None
    description: str | None = None
    category: strawberry.ID | None = None
    status: ProductStatus | None = None  # registered as GraphQL's ProductStatus by schema/catalogue.py


@strawberry.input(description="Fields left out stay as they are; `category: null` removes the category.")
class ProductUpdateInput:
    name: str | None = None
    slug: str | None = None
    description: str | None = None
    category: strawberry.ID | None = strawberry.UNSET
    status: ProductStatus | None = None  # registered as GraphQL's ProductStatus by schema/catalogue.py


@strawberry.input
class SelectedOptionInput:
    name: str
    value: str


@strawberry.input
class VariantCreateInput:
    product_id: strawberry.ID
    sku: str
    price: Decimal
    name: str | None = None
    compare_at_price: Decimal | None = None
    weight_grams: int | None = None
    options: list[SelectedOptionInput] | None = None
    position: int | None = None


@strawberry.input(description="Fields left out stay as they are; `compareAtPrice: null` removes it.")
class VariantUpdateInput:
    sku: str | None = None
    name: str | None = None
    price: Decimal | None = None
    compare_at_price: Decimal | None = strawberry.UNSET
    weight_grams: int | None = None
    options: list[SelectedOptionInput] | None = None
    position: int | None = None


@strawberry.input
class ProductImageCreateInput:
    product_id: strawberry.ID
    url: str
    alt_text: str | None = None
    position: int | None = None


@strawberry.type
class CategoryPayload:
    category: Category | None
    user_errors: list[UserError]


@strawberry.type
class ProductPayload:
    product: Product | None
    user_errors: list[UserError]


@strawberry.type
class VariantPayload:
    variant: ProductVariant | None
    user_errors: list[UserError]


@strawberry.type
class ProductImagePayload:
    image: Image | None
    user_errors: list[UserError]


@strawberry.type
class ProductDeletePayload:
    deleted_id: strawberry.ID | None = strawberry.field(description="Set when the product was deleted.")
    product: Product | None = strawberry.field(description="Set when it had been ordered and was archived instead.")
    user_errors: list[UserError]


@strawberry.type
class DeletePayload:
    deleted_id: strawberry.ID | None
    user_errors: list[UserError]


def _options(options: list[SelectedOptionInput] | None) -> list[tuple[str, str]] | None:
    return None if options is None else [(o.name, o.value) for o in options]


def _deleted(global_id: strawberry.ID, result: object, errors: list[UserError]) -> DeletePayload:
    return DeletePayload(deleted_id=global_id if result is not None else None, user_errors=errors)


MANAGE_PRODUCTS = requires(Permission.MANAGE_PRODUCTS)


@strawberry.type
class CatalogueAdminMutation:
    @strawberry.mutation(extensions=MANAGE_PRODUCTS)
    async def category_create(self, info: Info[Context, None], input: CategoryCreateInput) -> CategoryPayload:
        data = admin.CategoryInput(
            name=input.name,
            slug=input.slug,
            description=input.description,
            parent_id=_optional_id(input.parent, "Category", "parent"),
            position=input.position,
        )
        category, errors = await attempt(admin.create_category(data))
        return CategoryPayload(
            category=None if category is None else build_category(info.context, category), user_errors=errors
        )

    @strawberry.mutation(extensions=MANAGE_PRODUCTS)
    async def category_update(
        self, info: Info[Context, None], id: strawberry.ID, input: CategoryUpdateInput
    ) -> CategoryPayload:
        data = admin.CategoryInput(
            name=input.name,
            slug=input.slug,
            description=input.description,
            position=input.position,
            parent_id=_optional_id(input.parent, "Category", "parent"),
            clear_parent=input.parent is None,
        )
        category, errors = await attempt(admin.update_category(decode_id_of(id, "Category"), data))
        return CategoryPayload(
            category=None if category is None else build_category(info.context, category), user_errors=errors
        )

    @strawberry.mutation(
        extensions=MANAGE_PRODUCTS,
        description="Refused while it has subcategories; its products keep existing without it.",
    )
    async def category_delete(self, id: strawberry.ID) -> DeletePayload:
        return _deleted(id, *await attempt(admin.delete_category(decode_id_of(id, "Category"))))

    @strawberry.mutation(extensions=MANAGE_PRODUCTS, description="New products are DRAFT unless a status is given.")
    async def product_create(self, info: Info[Context, None], input: ProductCreateInput) -> ProductPayload:
        data = admin.ProductInput(
            name=input.name,
            slug=input.slug,
            description=input.description,
            category_id=_optional_id(input.category, "Category", "category"),
            status=input.status,
        )
        product, errors = await attempt(admin.create_product(data))
        return ProductPayload(
            product=None if product is None else await build_product(info.context, product_row(product)),
            user_errors=errors,
        )

    @strawberry.mutation(extensions=MANAGE_PRODUCTS)
    async def product_update(
        self, info: Info[Context, None], id: strawberry.ID, input: ProductUpdateInput
    ) -> ProductPayload:
        data = admin.ProductInput(
            name=input.name,
            slug=input.slug,
            description=input.description,
            category_id=_optional_id(input.category, "Category", "category"),
            clear_category=input.category is None,
            status=input.status,
        )
        product, errors = await attempt(admin.update_product(decode_id_of(id, "Product"), data))
        return ProductPayload(
            product=None if product is None else await build_product(info.context, product_row(product)),
            user_errors=errors,
        )

    @strawberry.mutation(
        extensions=MANAGE_PRODUCTS, description="A product that has been ordered is archived instead of deleted."
    )
    async def product_delete(self, info: Info[Context, None], id: strawberry.ID) -> ProductDeletePayload:
        outcome, errors = await attempt(admin.delete_product(decode_id_of(id, "Product")))
        product, archived = outcome if outcome is not None else (None, False)
        return ProductDeletePayload(
            deleted_id=id if product is not None and not archived else None,
            product=await build_product(info.context, product_row(product))
            if product is not None and archived
            else None,
            user_errors=errors,
        )

    @strawberry.mutation(extensions=MANAGE_PRODUCTS)
    async def variant_create(self, info: Info[Context, None], input: VariantCreateInput) -> VariantPayload:
        data = admin.VariantInput(
            sku=input.sku,
            name=input.name,
            price=input.price,
            compare_at_price=input.compare_at_price,
            weight_grams=input.weight_grams,
            options=_options(input.options),
            position=input.position,
        )
        variant, errors = await attempt(
            admin.create_variant(decode_id_of(input.product_id, "Product", "productId"), data)
        )
        return VariantPayload(
            variant=None if variant is None else await _variant(info.context, variant.id), user_errors=errors
        )

    @strawberry.mutation(extensions=MANAGE_PRODUCTS)
    async def variant_update(
        self, info: Info[Context, None], id: strawberry.ID, input: VariantUpdateInput
    ) -> VariantPayload:
        data = admin.VariantInput(
            sku=input.sku,
            name=input.name,
            price=input.price,
            weight_grams=input.weight_grams,
            compare_at_price=None if input.compare_at_price is strawberry.UNSET else input.compare_at_price,
            clear_compare_at_price=input.compare_at_price is None,
            options=_options(input.options),
            position=input.position,
        )
        variant, errors = await attempt(admin.update_variant(decode_id_of(id, "ProductVariant"), data))
        return VariantPayload(
            variant=None if variant is None else await _variant(info.context, variant.id), user_errors=errors
        )

    @strawberry.mutation(extensions=MANAGE_PRODUCTS)
    async def variant_delete(self, id: strawberry.ID) -> DeletePayload:
        return _deleted(id, *await attempt(admin.delete_variant(decode_id_of(id, "ProductVariant"))))

    @strawberry.mutation(extensions=MANAGE_PRODUCTS)
    async def product_image_create(self, input: ProductImageCreateInput) -> ProductImagePayload:
        image, errors = await attempt(
            admin.add_image(
                decode_id_of(input.product_id, "Product", "productId"), input.url, input.alt_text, input.position
            )
        )
        return ProductImagePayload(image=None if image is None else build_image(image_row(image)), user_errors=errors)

    @strawberry.mutation(extensions=MANAGE_PRODUCTS)
    async def product_image_delete(self, id: strawberry.ID) -> DeletePayload:
        return _deleted(id, *await attempt(admin.delete_image(decode_id_of(id, "Image"))))


async def _variant(context: Context, variant_id: int) -> ProductVariant:
    # Read back through the loader so the answer carries availability like every other variant.
    variant = await context.loaders.variant_by_id.load(variant_id)
    if variant is None:  # just written by this request
        raise LookupError(f"variant {variant_id} is gone")
    return build_variant(context, variant)
