"""Staff changes to the catalogue: categories, products, variants and images.

Every refusal is a DomainError naming the field (what a field may hold is `catalogue_fields`),
raised before anything is written; changes that touch several rows (a category moved with its
subtree, a variant and its product's lowest price) happen in one transaction. Each change records
the cache tags it makes stale and, for a product or its variants and images, a product event
(resolvers/catalogue_events.py) in that transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from tortoise.exceptions import IntegrityError

from models import Category, OrderLine, Product, ProductImage, ProductStatus, ProductVariant, VariantOption
from models.catalogue import (
    ALT_TEXT_LENGTH,
    CATEGORY_NAME_LENGTH,
    IMAGE_URL_LENGTH,
    MAX_LOW_STOCK_THRESHOLD,
    PATH_LENGTH,
)
from resolvers import catalogue_changes as changes
from resolvers import catalogue_events, catalogue_seo, media, outbox
from resolvers.attributes_admin import drop_values_outside, product_type_by_id
from resolvers.catalogue_fields import (
    unique_slug,
    validate_name,
    validate_options,
    validate_price,
    validate_sku,
    validate_slug,
)
from resolvers.errors import DomainError, ErrorCode, text_code

# --- categories ------------------------------------------------------------------------------


def _seo(data: CategoryInput | ProductInput) -> tuple[str | None, str | None]:
    """Staff's search-engine title and description, checked (None: left out; "": cleared)."""
    return catalogue_seo.validate_title(data.seo_title), catalogue_seo.validate_description(data.seo_description)


@dataclass
class CategoryInput:
    name: str | None = None
    slug: str | None = None
    description: str | None = None
    parent_id: int | None = None
    clear_parent: bool = False  # `parent: null` given explicitly on update: make it top-level
    position: int | None = None
    seo_title: str | None = None  # "" clears staff's words (the name stands in)
    seo_description: str | None = None


async def _parent(parent_id: int | None) -> Category | None:
    if parent_id is None:
        return None
    parent = await Category.get_or_none(id=parent_id)
    if parent is None:
        raise DomainError(ErrorCode.NOT_FOUND, "The parent category does not exist.", ["parent"])
    return parent


def _check_path(path: str) -> str:
    """A category's ancestor path within its column: past it the tree is too deep (raised inside
    the transaction that would have written it, so nothing is)."""
    if len(path) > PATH_LENGTH:
        raise DomainError(ErrorCode.INVALID, "The category tree would be too deep there.", ["parent"])
    return path


async def create_category(data: CategoryInput) -> Category:
    name = validate_name(data.name, "name", required=True, length=CATEGORY_NAME_LENGTH)
    slug = await unique_slug(Category, validate_slug(data.slug), name)
    seo_title, seo_description = _seo(data)
    parent = await _parent(data.parent_id)
    async with outbox.transaction():
        try:
            category = await Category.create(
                name=name,
                slug=slug,
                description=(data.description or "").strip(),
                seo_title=seo_title or None,
                seo_description=seo_description or None,
                parent=parent,
                position=data.position or 0,
                path="",
                depth=0 if parent is None else parent.depth + 1,
            )
        except IntegrityError:
            raise DomainError(ErrorCode.DUPLICATE, f"The slug {slug!r} is taken.", ["slug"]) from None
        category.path = _check_path(f"{parent.path if parent else '/'}{category.id}/")
        await category.save(update_fields=["path"])
        # The parent's children and the category lists change; a new slug may answer a lookup.
        changes.record([changes.CATEGORIES, *([changes.category(parent.id)] if parent else [])])
    return category


async def update_category(category_id: int, data: CategoryInput) -> Category:
    category = await Category.get_or_none(id=category_id)
    if category is None:
        raise DomainError(ErrorCode.NOT_FOUND, "No category has this ID.", ["id"])
    name = validate_name(data.name, "name", required=False, length=CATEGORY_NAME_LENGTH)
    slug = (
        await unique_slug(Category, validate_slug(data.slug), category.name, exclude_id=category.id)
        if data.slug
        else None
    )
    seo_title, seo_description = _seo(data)
    moving = data.clear_parent or data.parent_id is not None
    parent = await _parent(data.parent_id) if data.parent_id is not None else None
    if parent is not None and (parent.id == category.id or parent.path.startswith(category.path)):
        raise DomainError(ErrorCode.INVALID, "A category cannot be moved under itself or its descendants.", ["parent"])
    async with outbox.transaction():
        if name is not None:
            category.name = name
        if slug is not None:
            category.slug = slug
        if data.description is not None:
            category.description = data.description.strip()
        if data.position is not None:
            category.position = data.position
        if seo_title is not None:
            category.seo_title = seo_title or None
        if seo_description is not None:
            category.seo_description = seo_description or None
        # Its own fields, list order (position) and lookups by slug; products filtered by category.
        stale = {changes.category(category.id), changes.CATEGORIES, changes.PRODUCTS}
        if moving:
            old_path, old_depth = category.path, category.depth
            # Both parents' children lists change.
            stale.update(changes.category(pid) for pid in (category.parent_id, parent.id if parent else None) if pid)
            category.parent_id = parent.id if parent else None
            category.path = _check_path(f"{parent.path if parent else '/'}{category.id}/")
            category.depth = 0 if parent is None else parent.depth + 1
            # The whole subtree moves with it: rewrite every descendant's path prefix and depth.
            for descendant in await Category.filter(path__startswith=old_path).exclude(id=category.id):
                descendant.path = _check_path(category.path + descendant.path[len(old_path) :])
                descendant.depth = descendant.depth - old_depth + category.depth
                await descendant.save(update_fields=["path", "depth"])
                stale.add(changes.category(descendant.id))  # its level changes
        try:
            await category.save()
        except IntegrityError:
            raise DomainError(ErrorCode.DUPLICATE, "The slug is taken.", ["slug"]) from None
        changes.record(stale)
    return category


async def delete_category(category_id: int) -> Category:
    category = await Category.get_or_none(id=category_id)
    if category is None:
        raise DomainError(ErrorCode.NOT_FOUND, "No category has this ID.", ["id"])
    if await Category.filter(parent_id=category.id).exists():
        raise DomainError(ErrorCode.IN_USE, "Move or delete its subcategories first.", ["id"])
    async with outbox.transaction():
        await category.delete()  # its products stay, without a category
        changes.record(
            [
                changes.category(category.id),
                changes.CATEGORIES,
                changes.PRODUCTS,
                *([changes.category(category.parent_id)] if category.parent_id else []),
            ]
        )
    return category


# --- products --------------------------------------------------------------------------------


@dataclass
class ProductInput:
    name: str | None = None
    slug: str | None = None
    description: str | None = None
    category_id: int | None = None
    clear_category: bool = False
    status: ProductStatus | None = None
    product_type_id: int | None = None
    clear_product_type: bool = False  # `productType: null` given on update: no attributes any more
    seo_title: str | None = None  # "" clears staff's words (the name stands in)
    seo_description: str | None = None


async def _category(category_id: int | None) -> Category | None:
    if category_id is None:
        return None
    category = await Category.get_or_none(id=category_id)
    if category is None:
        raise DomainError(ErrorCode.NOT_FOUND, "The category does not exist.", ["category"])
    return category


async def create_product(data: ProductInput) -> Product:
    name = validate_name(data.name, "name", required=True)
    slug = await unique_slug(Product, validate_slug(data.slug), name)
    seo_title, seo_description = _seo(data)
    category = await _category(data.category_id)
    product_type = await product_type_by_id(data.product_type_id)
    try:
        async with outbox.transaction():
            product = await Product.create(
                name=name,
                slug=slug,
                description=(data.description or "").strip(),
                seo_title=seo_title or None,
                seo_description=seo_description or None,
                category=category,
                status=data.status or ProductStatus.DRAFT,
                product_type=product_type,
            )
            changes.record([changes.PRODUCTS])  # a lookup of its slug may have been cached as null
            catalogue_events.created(product.id)
    except IntegrityError:
        raise DomainError(ErrorCode.DUPLICATE, f"The slug {slug!r} is taken.", ["slug"]) from None
    return product


async def update_product(product_id: int, data: ProductInput) -> Product:
    product = await Product.get_or_none(id=product_id)
    if product is None:
        raise DomainError(ErrorCode.NOT_FOUND, "No product has this ID.", ["id"])
    name = validate_name(data.name, "name", required=False)
    slug = (
        await unique_slug(Product, validate_slug(data.slug), product.name, exclude_id=product.id) if data.slug else None
    )
    seo_title, seo_description = _seo(data)
    category = await _category(data.category_id)
    product_type = await product_type_by_id(data.product_type_id)
    retyped = (product_type is not None and product_type.id != product.product_type_id) or (
        data.clear_product_type and product.product_type_id is not None
    )
    if retyped:
        product.product_type_id = product_type.id if product_type is not None else None
    if name is not None:
        product.name = name
    if slug is not None:
        product.slug = slug
    if data.description is not None:
        product.description = data.description.strip()
    if seo_title is not None:
        product.seo_title = seo_title or None
    if seo_description is not None:
        product.seo_description = seo_description or None
    if category is not None:
        product.category_id = category.id
    elif data.clear_category:
        product.category_id = None
    if data.status is not None:
        product.status = data.status
    try:
        async with outbox.transaction():
            await product.save()
            if retyped:
                await drop_values_outside(product.id, product.product_type_id)
            changes.record([changes.product(product.id), changes.PRODUCTS])
            catalogue_events.updated(product.id)
    except IntegrityError:
        raise DomainError(ErrorCode.DUPLICATE, "The slug is taken.", ["slug"]) from None
    return product


async def delete_product(product_id: int) -> tuple[Product, bool]:
    """Deletes the product with its variants, images and stock, unless it has been ordered:
    then it is archived instead, so order history keeps pointing at it (as Saleor does).
    Returns the product and whether it was archived rather than deleted."""
    product = await Product.get_or_none(id=product_id)
    if product is None:
        raise DomainError(ErrorCode.NOT_FOUND, "No product has this ID.", ["id"])
    async with outbox.transaction() as connection:
        changes.record([changes.product(product.id), changes.PRODUCTS])
        if await OrderLine.filter(variant__product_id=product.id).exists():
            product.status = ProductStatus.ARCHIVED
            await product.save(update_fields=["status", "updated_at"])
            catalogue_events.updated(product.id)  # it still exists, off the storefront
            return product, True
        await catalogue_events.deleted(product.id, connection)
        await media.forget_files(product_id=product.id)  # its uploaded images' files go after the commit
        await product.delete()
    return product, False


# --- variants --------------------------------------------------------------------------------


@dataclass
class VariantInput:
    sku: str | None = None
    name: str | None = None
    price: Decimal | None = None
    compare_at_price: Decimal | None = None
    clear_compare_at_price: bool = False
    weight_grams: int | None = None
    options: list[tuple[str, str]] | None = None
    position: int | None = None
    low_stock_threshold: int | None = None
    clear_low_stock_threshold: bool = False  # `lowStockThreshold: null` given on update: no more alerts


def _check_variant_numbers(data: VariantInput) -> None:
    if data.weight_grams is not None and not 0 <= data.weight_grams <= 1_000_000:
        raise DomainError(ErrorCode.INVALID, "`weightGrams` must be between 0 and 1,000,000.", ["weightGrams"])
    if data.low_stock_threshold is not None and not 0 <= data.low_stock_threshold <= MAX_LOW_STOCK_THRESHOLD:
        raise DomainError(
            ErrorCode.INVALID,
            f"`lowStockThreshold` must be between 0 and {MAX_LOW_STOCK_THRESHOLD:,}, or null for no alerts.",
            ["lowStockThreshold"],
        )


async def refresh_min_price(product_id: int) -> None:
    """Keep Product.min_price (the indexed price the listing sorts and filters on) true."""
    prices = await ProductVariant.filter(product_id=product_id).values_list("price", flat=True)
    await Product.filter(id=product_id).update(min_price=min(prices) if prices else None)


async def create_variant(product_id: int, data: VariantInput) -> ProductVariant:
    if not await Product.filter(id=product_id).exists():
        raise DomainError(ErrorCode.NOT_FOUND, "The product does not exist.", ["productId"])
    sku = validate_sku(data.sku, required=True)
    name = validate_name(data.name, "name", required=False) or sku
    price = validate_price(data.price, "price", required=True)
    compare = validate_price(data.compare_at_price, "compareAtPrice", required=False)
    _check_variant_numbers(data)
    options = validate_options(data.options) or []
    if await ProductVariant.filter(sku=sku).exists():
        raise DomainError(ErrorCode.DUPLICATE, f"The SKU {sku!r} is taken.", ["sku"])
    async with outbox.transaction():
        try:
            variant = await ProductVariant.create(
                product_id=product_id,
                sku=sku,
                name=name,
                price=price,
                compare_at_price=compare,
                weight_grams=data.weight_grams or 0,
                position=data.position or 0,
                low_stock_threshold=data.low_stock_threshold,
            )
        except IntegrityError:
            raise DomainError(ErrorCode.DUPLICATE, f"The SKU {sku!r} is taken.", ["sku"]) from None
        for index, (option, value) in enumerate(options):
            await VariantOption.create(variant=variant, name=option, value=value, position=index)
        await refresh_min_price(product_id)
        # Prices, options and availability feed every listing's filters, order and facets.
        changes.record([changes.product(product_id), changes.PRODUCTS])
        catalogue_events.updated(product_id)
    return variant


async def update_variant(variant_id: int, data: VariantInput) -> ProductVariant:
    variant = await ProductVariant.get_or_none(id=variant_id)
    if variant is None:
        raise DomainError(ErrorCode.NOT_FOUND, "No variant has this ID.", ["id"])
    sku = validate_sku(data.sku, required=False)
    name = validate_name(data.name, "name", required=False)
    price = validate_price(data.price, "price", required=False)
    compare = validate_price(data.compare_at_price, "compareAtPrice", required=False)
    _check_variant_numbers(data)
    options = validate_options(data.options)
    if sku is not None and sku != variant.sku and await ProductVariant.filter(sku=sku).exists():
        raise DomainError(ErrorCode.DUPLICATE, f"The SKU {sku!r} is taken.", ["sku"])
    async with outbox.transaction():
        for attribute, value in (
            ("sku", sku),
            ("name", name),
            ("price", price),
            ("compare_at_price", compare),
            ("weight_grams", data.weight_grams),
            ("position", data.position),
        ):
            if value is not None:
                setattr(variant, attribute, value)
        if data.clear_compare_at_price:
            variant.compare_at_price = None
        threshold = None if data.clear_low_stock_threshold else data.low_stock_threshold
        if (data.clear_low_stock_threshold or threshold is not None) and threshold != variant.low_stock_threshold:
            # A new threshold re-arms the alert: the next check says where stock stands against it.
            variant.low_stock_threshold, variant.low_stock_alerted_at = threshold, None
        try:
            await variant.save()
        except IntegrityError:
            raise DomainError(ErrorCode.DUPLICATE, "The SKU is taken.", ["sku"]) from None
        if options is not None:
            await VariantOption.filter(variant_id=variant.id).delete()
            for index, (option, value) in enumerate(options):
                await VariantOption.create(variant=variant, name=option, value=value, position=index)
        if price is not None:
            await refresh_min_price(variant.product_id)
        changes.record([changes.product(variant.product_id), changes.PRODUCTS])
        catalogue_events.updated(variant.product_id)
    return variant


async def delete_variant(variant_id: int) -> ProductVariant:
    variant = await ProductVariant.get_or_none(id=variant_id)
    if variant is None:
        raise DomainError(ErrorCode.NOT_FOUND, "No variant has this ID.", ["id"])
    async with outbox.transaction():
        await variant.delete()
        await refresh_min_price(variant.product_id)
        changes.record([changes.product(variant.product_id), changes.PRODUCTS])
        catalogue_events.updated(variant.product_id)
    return variant


# --- images ----------------------------------------------------------------------------------


async def add_image(product_id: int, url: str, alt_text: str | None, position: int | None) -> ProductImage:
    if not await Product.filter(id=product_id).exists():
        raise DomainError(ErrorCode.NOT_FOUND, "The product does not exist.", ["productId"])
    url = url.strip()
    if not re.fullmatch(r"https?://\S+", url) or len(url) > IMAGE_URL_LENGTH:
        raise DomainError(
            text_code(url, IMAGE_URL_LENGTH),
            f"The image URL must be an http(s) URL of at most {IMAGE_URL_LENGTH} characters.",
            ["url"],
        )
    alt_text = (alt_text or "").strip()
    if len(alt_text) > ALT_TEXT_LENGTH:
        raise DomainError(ErrorCode.TOO_LONG, f"Alt text may have at most {ALT_TEXT_LENGTH} characters.", ["altText"])
    if position is None:
        position = await ProductImage.filter(product_id=product_id).count()
    async with outbox.transaction():
        image = await ProductImage.create(product_id=product_id, url=url, alt_text=alt_text, position=position)
        changes.record([changes.product(product_id)])
        catalogue_events.updated(product_id)
    return image


async def delete_image(image_id: int) -> ProductImage:
    image = await ProductImage.get_or_none(id=image_id)
    if image is None:
        raise DomainError(ErrorCode.NOT_FOUND, "No image has this ID.", ["id"])
    async with outbox.transaction():
        await media.forget_files([image.id])  # an uploaded image's files go after the commit
        await image.delete()
        changes.record([changes.product(image.product_id)])
        catalogue_events.updated(image.product_id)
    return image
