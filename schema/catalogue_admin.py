"""Staff mutations on the catalogue (MANAGE_PRODUCTS)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

import strawberry
from strawberry.types import Info

from models import Permission, ProductStatus
from models.catalogue import (
    ALT_TEXT_LENGTH,
    CATEGORY_NAME_LENGTH,
    IMAGE_URL_LENGTH,
    MAX_LOW_STOCK_THRESHOLD,
    NAME_LENGTH,
    SEO_DESCRIPTION_LENGTH,
    SEO_TITLE_LENGTH,
)
from models.rows import image_row, product_row
from resolvers import catalogue_admin as admin
from resolvers import catalogue_related
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
from schema.catalogue_options import SelectedOptionInput
from schema.context import Context
from schema.ids import decode_id_of
from schema.permissions import requires
from schema.shared import UserError, attempt


def _optional_id(value: strawberry.ID | None, type_name: str, field: str) -> int | None:
    return None if value is None or value is strawberry.UNSET else decode_id_of(value, type_name, field)


@strawberry.input(description="A new category.")
class CategoryCreateInput:
    name: str = strawberry.field(description=f"Its name: 1–{CATEGORY_NAME_LENGTH} characters.")
    slug: str | None = strawberry.field(
        default=None,
        description="Its URL key: lowercase letters and digits joined by dashes, unique. Left out: made from the "
        "name (with a number added when taken).",
    )
    description: str | None = strawberry.field(default=None, description="Plain text; left out: empty.")
    parent: strawberry.ID | None = strawberry.field(
        default=None, description="The category to place it under; left out: a top-level category."
    )
    position: int | None = strawberry.field(
        default=None, description="Its place among its siblings, lower first; left out: 0."
    )
    seo_title: str | None = strawberry.field(
        default=None,
        description=f"The page's title for search engines: at most {SEO_TITLE_LENGTH} characters; left out: the name.",
    )
    seo_description: str | None = strawberry.field(
        default=None,
        description=f"The page's description for search engines: at most {SEO_DESCRIPTION_LENGTH} characters; "
        "left out: the description, shortened.",
    )


@strawberry.input(description="Fields left out stay as they are; `parent: null` makes the category top-level.")
class CategoryUpdateInput:
    name: str | None = strawberry.field(default=None, description=f"A new name: 1–{CATEGORY_NAME_LENGTH} characters.")
    slug: str | None = strawberry.field(
        default=None, description="A new URL key, unique; the old one no longer finds it."
    )
    description: str | None = strawberry.field(default=None, description="A new description, plain text.")
    parent: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET,
        description="Move it under this category (not under itself or its own subcategories); null: to the top level.",
    )
    position: int | None = strawberry.field(default=None, description="A new place among its siblings, lower first.")
    seo_title: str | None = strawberry.field(
        default=None,
        description=f"A new title for search engines: at most {SEO_TITLE_LENGTH} characters; empty: the name again.",
    )
    seo_description: str | None = strawberry.field(
        default=None,
        description=f"A new description for search engines: at most {SEO_DESCRIPTION_LENGTH} characters; empty: "
        "the description, shortened, again.",
    )


@strawberry.input(description="A new product. It has no variants yet: add them with `variantCreate`.")
class ProductCreateInput:
    name: str = strawberry.field(description=f"Its name: 1–{NAME_LENGTH} characters.")
    slug: str | None = strawberry.field(
        default=None,
        description="Its URL key: lowercase letters and digits joined by dashes, unique. Left out: made from the "
        "name (with a number added when taken).",
    )
    description: str | None = strawberry.field(default=None, description="Plain text; left out: empty.")
    category: strawberry.ID | None = strawberry.field(default=None, description="The category to file it under.")
    # registered as GraphQL's ProductStatus by schema/catalogue.py
    status: ProductStatus | None = strawberry.field(
        default=None, description="Left out: DRAFT, which the storefront does not see until it is ACTIVE."
    )
    product_type: strawberry.ID | None = strawberry.field(
        default=None,
        description="Its product type (`productTypeCreate`), which decides the attributes it and its variants carry.",
    )
    seo_title: str | None = strawberry.field(
        default=None,
        description=f"The page's title for search engines: at most {SEO_TITLE_LENGTH} characters; left out: the name.",
    )
    seo_description: str | None = strawberry.field(
        default=None,
        description=f"The page's description for search engines: at most {SEO_DESCRIPTION_LENGTH} characters; "
        "left out: the description, shortened.",
    )


@strawberry.input(description="Fields left out stay as they are; `category: null` removes the category.")
class ProductUpdateInput:
    name: str | None = strawberry.field(default=None, description=f"A new name: 1–{NAME_LENGTH} characters.")
    slug: str | None = strawberry.field(
        default=None, description="A new URL key, unique; the old one no longer finds it."
    )
    description: str | None = strawberry.field(default=None, description="A new description, plain text.")
    category: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="File it under this category; null: under none."
    )
    # registered as GraphQL's ProductStatus by schema/catalogue.py
    status: ProductStatus | None = strawberry.field(
        default=None, description="ACTIVE puts it on sale; DRAFT or ARCHIVED takes it off the storefront."
    )
    product_type: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET,
        description="A new product type; the values of attributes it does not assign are removed. null: none, and "
        "no attribute values.",
    )
    seo_title: str | None = strawberry.field(
        default=None,
        description=f"A new title for search engines: at most {SEO_TITLE_LENGTH} characters; empty: the name again.",
    )
    seo_description: str | None = strawberry.field(
        default=None,
        description=f"A new description for search engines: at most {SEO_DESCRIPTION_LENGTH} characters; empty: "
        "the description, shortened, again.",
    )


@strawberry.input(description="A new variant of a product: a version of it that can be bought.")
class VariantCreateInput:
    product_id: strawberry.ID = strawberry.field(description="The product it is a version of.")
    sku: str = strawberry.field(description="Its stock-keeping unit, unique in the catalogue.")
    price: Decimal = strawberry.field(
        description="The price of one unit in the store's currency: 0 or more, at most two decimal places."
    )
    name: str | None = strawberry.field(default=None, description='Such as "M / Blue"; left out: the SKU.')
    compare_at_price: Decimal | None = strawberry.field(
        default=None, description="An earlier or list price to show struck through; left out: none."
    )
    weight_grams: int | None = strawberry.field(
        default=None, description="The weight of one unit in grams, 0 to 1,000,000; left out: 0."
    )
    options: list[SelectedOptionInput] | None = strawberry.field(
        default=None, description="The option values that set it apart from the product's other variants."
    )
    position: int | None = strawberry.field(
        default=None, description="Its place among the product's variants, lower first; left out: 0."
    )
    low_stock_threshold: int | None = strawberry.field(
        default=None,
        description=f"0 to {MAX_LOW_STOCK_THRESHOLD:,}: a STOCK_LOW webhook fires when its available stock (over "
        "all warehouses) falls to this or below, once until it is back above; left out: no alerts.",
    )


@strawberry.input(description="Fields left out stay as they are; `compareAtPrice: null` removes it.")
class VariantUpdateInput:
    sku: str | None = strawberry.field(default=None, description="A new stock-keeping unit, unique in the catalogue.")
    name: str | None = strawberry.field(default=None, description="A new name.")
    price: Decimal | None = strawberry.field(
        default=None, description="A new price: 0 or more, at most two decimal places. Carts show it at once."
    )
    compare_at_price: Decimal | None = strawberry.field(
        default=strawberry.UNSET, description="A new struck-through price; null removes it."
    )
    weight_grams: int | None = strawberry.field(default=None, description="A new weight of one unit in grams.")
    options: list[SelectedOptionInput] | None = strawberry.field(
        default=None, description="Replaces all its option values with these."
    )
    position: int | None = strawberry.field(default=None, description="A new place among the product's variants.")
    low_stock_threshold: int | None = strawberry.field(
        default=strawberry.UNSET,
        description=f"A new low-stock threshold, 0 to {MAX_LOW_STOCK_THRESHOLD:,} (STOCK_LOW fires at the next check "
        "if stock is already at or below it); null: no more alerts.",
    )


@strawberry.input(description="A new image of a product.")
class ProductImageCreateInput:
    product_id: strawberry.ID = strawberry.field(description="The product it shows.")
    url: str = strawberry.field(
        description=f"Where the image is: an absolute http(s) URL of at most {IMAGE_URL_LENGTH} characters, stored as given."
    )
    alt_text: str | None = strawberry.field(
        default=None,
        description=f"What the image shows, for those who cannot see it: at most {ALT_TEXT_LENGTH} characters.",
    )
    position: int | None = strawberry.field(
        default=None, description="Its place among the product's images, lower first; left out: after the others."
    )


@strawberry.type(description="What a category mutation did.")
class CategoryPayload:
    category: Category | None = strawberry.field(description="The category as it now is; null when nothing changed.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed; empty on success.")


@strawberry.type(description="What a product mutation did.")
class ProductPayload:
    product: Product | None = strawberry.field(description="The product as it now is; null when nothing changed.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed; empty on success.")


@strawberry.type(description="What a variant mutation did.")
class VariantPayload:
    variant: ProductVariant | None = strawberry.field(
        description="The variant as it now is; null when nothing changed."
    )
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed; empty on success.")


@strawberry.type(description="What `productImageCreate` did.")
class ProductImagePayload:
    image: Image | None = strawberry.field(description="The new image; null when nothing changed.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed; empty on success.")


@strawberry.type(description="What `productDelete` did: the product deleted, or archived because it had been ordered.")
class ProductDeletePayload:
    deleted_id: strawberry.ID | None = strawberry.field(description="Set when the product was deleted.")
    product: Product | None = strawberry.field(description="Set when it had been ordered and was archived instead.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed; empty on success.")


@strawberry.type(description="What a delete mutation did.")
class DeletePayload:
    deleted_id: strawberry.ID | None = strawberry.field(
        description="The ID of what was deleted; null when nothing was."
    )
    user_errors: list[UserError] = strawberry.field(description="Why nothing was deleted; empty on success.")


def _options(options: list[SelectedOptionInput] | None) -> list[tuple[str, str]] | None:
    return None if options is None else [(o.name, o.value) for o in options]


def _deleted(global_id: strawberry.ID, result: object, errors: list[UserError]) -> DeletePayload:
    return DeletePayload(deleted_id=global_id if result is not None else None, user_errors=errors)


MANAGE_PRODUCTS = requires(Permission.MANAGE_PRODUCTS)


@strawberry.type
class CatalogueAdminMutation:
    @strawberry.mutation(extensions=MANAGE_PRODUCTS, description="Add a category to the tree.")
    async def category_create(
        self,
        info: Info[Context, None],
        input: Annotated[CategoryCreateInput, strawberry.argument(description="The category to add.")],
    ) -> CategoryPayload:
        data = admin.CategoryInput(
            name=input.name,
            slug=input.slug,
            description=input.description,
            parent_id=_optional_id(input.parent, "Category", "parent"),
            position=input.position,
            seo_title=input.seo_title,
            seo_description=input.seo_description,
        )
        category, errors = await attempt(admin.create_category(data))
        return CategoryPayload(
            category=None if category is None else build_category(info.context, category), user_errors=errors
        )

    @strawberry.mutation(extensions=MANAGE_PRODUCTS, description="Rename, move or reorder a category.")
    async def category_update(
        self,
        info: Info[Context, None],
        id: Annotated[strawberry.ID, strawberry.argument(description="The category to change.")],
        input: Annotated[CategoryUpdateInput, strawberry.argument(description="What to change.")],
    ) -> CategoryPayload:
        data = admin.CategoryInput(
            name=input.name,
            slug=input.slug,
            description=input.description,
            position=input.position,
            parent_id=_optional_id(input.parent, "Category", "parent"),
            clear_parent=input.parent is None,
            seo_title=input.seo_title,
            seo_description=input.seo_description,
        )
        category, errors = await attempt(admin.update_category(decode_id_of(id, "Category"), data))
        return CategoryPayload(
            category=None if category is None else build_category(info.context, category), user_errors=errors
        )

    @strawberry.mutation(
        extensions=MANAGE_PRODUCTS,
        description="Refused while it has subcategories; its products keep existing without it.",
    )
    async def category_delete(
        self, id: Annotated[strawberry.ID, strawberry.argument(description="The category to delete.")]
    ) -> DeletePayload:
        return _deleted(id, *await attempt(admin.delete_category(decode_id_of(id, "Category"))))

    @strawberry.mutation(extensions=MANAGE_PRODUCTS, description="New products are DRAFT unless a status is given.")
    async def product_create(
        self,
        info: Info[Context, None],
        input: Annotated[ProductCreateInput, strawberry.argument(description="The product to add.")],
    ) -> ProductPayload:
        data = admin.ProductInput(
            name=input.name,
            slug=input.slug,
            description=input.description,
            category_id=_optional_id(input.category, "Category", "category"),
            status=input.status,
            product_type_id=_optional_id(input.product_type, "ProductType", "productType"),
            seo_title=input.seo_title,
            seo_description=input.seo_description,
        )
        product, errors = await attempt(admin.create_product(data))
        return ProductPayload(
            product=None if product is None else await build_product(info.context, product_row(product)),
            user_errors=errors,
        )

    @strawberry.mutation(
        extensions=MANAGE_PRODUCTS,
        description="Choose the products shown first beside a product (`Product.related`), in this order; the "
        "list replaces the previous one, empty: none chosen (its category's fill remains).",
    )
    async def product_related_set(
        self,
        info: Info[Context, None],
        product_id: Annotated[strawberry.ID, strawberry.argument(description="The product they are shown beside.")],
        related_ids: Annotated[
            list[strawberry.ID],
            strawberry.argument(
                description=f"The products to show, in order: at most {catalogue_related.MAX_CHOSEN}, each once, "
                "not the product itself."
            ),
        ],
    ) -> ProductPayload:
        ids = [decode_id_of(related, "Product", "relatedIds") for related in related_ids]
        product, errors = await attempt(
            catalogue_related.set_related(decode_id_of(product_id, "Product", "productId"), ids)
        )
        return ProductPayload(
            product=None if product is None else await build_product(info.context, product_row(product)),
            user_errors=errors,
        )

    @strawberry.mutation(extensions=MANAGE_PRODUCTS, description="Change a product's own fields or status.")
    async def product_update(
        self,
        info: Info[Context, None],
        id: Annotated[strawberry.ID, strawberry.argument(description="The product to change.")],
        input: Annotated[ProductUpdateInput, strawberry.argument(description="What to change.")],
    ) -> ProductPayload:
        data = admin.ProductInput(
            name=input.name,
            slug=input.slug,
            description=input.description,
            category_id=_optional_id(input.category, "Category", "category"),
            clear_category=input.category is None,
            status=input.status,
            product_type_id=_optional_id(input.product_type, "ProductType", "productType"),
            clear_product_type=input.product_type is None,
            seo_title=input.seo_title,
            seo_description=input.seo_description,
        )
        product, errors = await attempt(admin.update_product(decode_id_of(id, "Product"), data))
        return ProductPayload(
            product=None if product is None else await build_product(info.context, product_row(product)),
            user_errors=errors,
        )

    @strawberry.mutation(
        extensions=MANAGE_PRODUCTS, description="A product that has been ordered is archived instead of deleted."
    )
    async def product_delete(
        self,
        info: Info[Context, None],
        id: Annotated[
            strawberry.ID, strawberry.argument(description="The product to delete, with its variants and images.")
        ],
    ) -> ProductDeletePayload:
        outcome, errors = await attempt(admin.delete_product(decode_id_of(id, "Product")))
        product, archived = outcome if outcome is not None else (None, False)
        return ProductDeletePayload(
            deleted_id=id if product is not None and not archived else None,
            product=await build_product(info.context, product_row(product))
            if product is not None and archived
            else None,
            user_errors=errors,
        )

    @strawberry.mutation(extensions=MANAGE_PRODUCTS, description="Add a variant to a product, with no stock yet.")
    async def variant_create(
        self,
        info: Info[Context, None],
        input: Annotated[VariantCreateInput, strawberry.argument(description="The variant to add.")],
    ) -> VariantPayload:
        data = admin.VariantInput(
            sku=input.sku,
            name=input.name,
            price=input.price,
            compare_at_price=input.compare_at_price,
            weight_grams=input.weight_grams,
            options=_options(input.options),
            position=input.position,
            low_stock_threshold=input.low_stock_threshold,
        )
        variant, errors = await attempt(
            admin.create_variant(decode_id_of(input.product_id, "Product", "productId"), data)
        )
        return VariantPayload(
            variant=None if variant is None else await variant_object(info.context, variant.id), user_errors=errors
        )

    @strawberry.mutation(extensions=MANAGE_PRODUCTS, description="Change a variant: its SKU, price, options, weight.")
    async def variant_update(
        self,
        info: Info[Context, None],
        id: Annotated[strawberry.ID, strawberry.argument(description="The variant to change.")],
        input: Annotated[VariantUpdateInput, strawberry.argument(description="What to change.")],
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
            low_stock_threshold=None if input.low_stock_threshold is strawberry.UNSET else input.low_stock_threshold,
            clear_low_stock_threshold=input.low_stock_threshold is None,
        )
        variant, errors = await attempt(admin.update_variant(decode_id_of(id, "ProductVariant"), data))
        return VariantPayload(
            variant=None if variant is None else await variant_object(info.context, variant.id), user_errors=errors
        )

    @strawberry.mutation(
        extensions=MANAGE_PRODUCTS,
        description="Delete a variant with its stock and stock ledger; carts lose their lines of it, orders keep theirs.",
    )
    async def variant_delete(
        self, id: Annotated[strawberry.ID, strawberry.argument(description="The variant to delete.")]
    ) -> DeletePayload:
        return _deleted(id, *await attempt(admin.delete_variant(decode_id_of(id, "ProductVariant"))))

    @strawberry.mutation(extensions=MANAGE_PRODUCTS, description="Add an image to a product.")
    async def product_image_create(
        self, input: Annotated[ProductImageCreateInput, strawberry.argument(description="The image to add.")]
    ) -> ProductImagePayload:
        image, errors = await attempt(
            admin.add_image(
                decode_id_of(input.product_id, "Product", "productId"), input.url, input.alt_text, input.position
            )
        )
        return ProductImagePayload(image=None if image is None else build_image(image_row(image)), user_errors=errors)

    @strawberry.mutation(extensions=MANAGE_PRODUCTS, description="Remove an image from its product.")
    async def product_image_delete(
        self, id: Annotated[strawberry.ID, strawberry.argument(description="The image to remove (`Image.id`).")]
    ) -> DeletePayload:
        return _deleted(id, *await attempt(admin.delete_image(decode_id_of(id, "Image"))))


async def variant_object(context: Context, variant_id: int) -> ProductVariant:
    # Read back through the loader so the answer carries availability like every other variant.
    variant = await context.loaders.variant_by_id.load(variant_id)
    if variant is None:  # just written by this request
        raise LookupError(f"variant {variant_id} is gone")
    return build_variant(context, variant)
