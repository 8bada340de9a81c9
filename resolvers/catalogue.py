"""Catalogue decisions: what the storefront may see, how a listing is resolved and preloaded."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from decimal import Decimal

from tortoise.expressions import Q

from loaders import Loaders
from models import Category, ProductStatus
from models.catalogue import OPTION_NAME_LENGTH, OPTION_VALUE_LENGTH
from models.rows import ImageRow, ProductRow, VariantRow
from resolvers import catalogue_listing
from resolvers.attributes import AttributeFilter, attribute_conditions
from resolvers.catalogue_listing import CURSOR_ARITY, Facets, ProductSearch, ProductSort
from resolvers.errors import BadInput
from resolvers.pagination import Page, make_page, page_request

# Bounds of a storefront filter, beyond what a filter sidebar sends: each entry is a parameter of
# the listing, the count and three facet statements.
MAX_OPTION_FILTERS = 10
MAX_OPTION_VALUES = 50
MAX_SEARCH_LENGTH = 200


@dataclass(frozen=True)
class ProductFilterInput:
    """The storefront's filter as the API received it (ids already decoded). Each value is checked
    on its own when the filter is made (`BAD_USER_INPUT`); how they combine, when it is resolved
    (`product_search`)."""

    category_id: int | None = None
    price_min: Decimal | None = None
    price_max: Decimal | None = None
    in_stock: bool | None = None
    options: tuple[tuple[str, tuple[str, ...]], ...] = ()
    attributes: tuple[AttributeFilter, ...] = ()
    statuses: tuple[ProductStatus, ...] = ()  # staff only; the storefront always sees ACTIVE
    include_hidden: bool = False

    def __post_init__(self) -> None:
        for name, value in (("filter.price.min", self.price_min), ("filter.price.max", self.price_max)):
            if value is not None and (not value.is_finite() or value < 0):
                raise BadInput(f"`{name}` must be a non-negative amount.", name)
        for option_name, values in self.options:
            if not values:
                raise BadInput(f"`filter.options` for {option_name!r} needs at least one value.", "filter.options")


@dataclass
class ProductListing:
    page: Page
    total_count: int | None
    facets: Facets | None


def is_visible(product: ProductRow | None, include_hidden: bool = False) -> bool:
    """Drafts and archived products exist only for staff (`include_hidden`), never the storefront."""
    return product is not None and (include_hidden or product.status == ProductStatus.ACTIVE)


async def product_by_id(loaders: Loaders, product_id: int, include_hidden: bool = False) -> ProductRow | None:
    product = await loaders.product_by_id.load(product_id)
    return product if is_visible(product, include_hidden) else None


async def product_by_slug(loaders: Loaders, slug: str, include_hidden: bool = False) -> ProductRow | None:
    product = await loaders.product_by_slug.load(slug)
    return product if is_visible(product, include_hidden) else None


async def variant_by_id(loaders: Loaders, variant_id: int, include_hidden: bool = False) -> VariantRow | None:
    variant = await loaders.variant_by_id.load(variant_id)
    if variant is None or not is_visible(await loaders.product_by_id.load(variant.product_id), include_hidden):
        return None
    return variant


async def image_by_id(loaders: Loaders, image_id: int, include_hidden: bool = False) -> ImageRow | None:
    """An image, visible exactly when its product is."""
    image = await loaders.image_by_id.load(image_id)
    if image is None or not is_visible(await loaders.product_by_id.load(image.product_id), include_hidden):
        return None
    return image


async def category_by_id(loaders: Loaders, category_id: int) -> Category | None:
    return await loaders.category_by_id.load(category_id)


async def category_by_slug(loaders: Loaders, slug: str) -> Category | None:
    return await loaders.category_by_slug.load(slug)


async def product_search(
    loaders: Loaders, filter: ProductFilterInput | None, search: str | None
) -> ProductSearch | None:
    """Resolve the filter to what the SQL needs; None when it can match nothing (an unknown category
    or attribute)."""
    filter = filter or ProductFilterInput()
    if filter.price_min is not None and filter.price_max is not None and filter.price_min > filter.price_max:
        raise BadInput("`filter.price.min` must not exceed `filter.price.max`.", "filter.price")
    if search is not None and len(search) > MAX_SEARCH_LENGTH:
        raise BadInput(f"`search` may have at most {MAX_SEARCH_LENGTH} characters, got {len(search)}.", "search")
    options = option_filter(filter.options)
    category_path = None
    if filter.category_id is not None:
        category = await loaders.category_by_id.load(filter.category_id)
        if category is None:
            return None
        category_path = category.path
    attributes = await attribute_conditions(loaders, filter.attributes) if filter.attributes else ()
    if attributes is None:
        return None
    spec = ProductSearch(
        category_path=category_path,
        price_min=filter.price_min,
        price_max=filter.price_max,
        in_stock=filter.in_stock,
        options=options,
        attributes=attributes,
        terms=catalogue_listing.search_terms(search),
        text=(search or "").strip(),
        statuses=tuple(dict.fromkeys(filter.statuses)),
        include_hidden=filter.include_hidden,
    )
    # PostgreSQL: what the words find, once for the page, its count and its facets.
    return await catalogue_listing.with_matches(spec)


def option_filter(options: tuple[tuple[str, tuple[str, ...]], ...]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The option filter within its bounds (else `BAD_USER_INPUT`), one entry per option name.

    A variant has one value per option, so two entries for one name ask for a value in both:
    their values are intersected (none in common matches nothing, as before).
    """
    if len(options) > MAX_OPTION_FILTERS:
        raise BadInput(
            f"`filter.options` may hold at most {MAX_OPTION_FILTERS} entries, got {len(options)}.", "filter.options"
        )
    merged: dict[str, tuple[str, ...]] = {}
    for name, values in options:
        if len(values) > MAX_OPTION_VALUES:
            raise BadInput(
                f"`filter.options` may give at most {MAX_OPTION_VALUES} values for an option.", "filter.options"
            )
        if len(name) > OPTION_NAME_LENGTH or any(len(value) > OPTION_VALUE_LENGTH for value in values):
            raise BadInput(
                f"`filter.options` names have at most {OPTION_NAME_LENGTH} characters, values {OPTION_VALUE_LENGTH}.",
                "filter.options",
            )
        wanted = tuple(dict.fromkeys(values))
        merged[name] = tuple(v for v in merged[name] if v in wanted) if name in merged else wanted
    return tuple(merged.items())


async def list_products(
    loaders: Loaders,
    *,
    filter: ProductFilterInput | None,
    search: str | None,
    sort: ProductSort | None,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    want_total: bool,
    want_facets: bool,
    want_attribute_facets: bool = False,
) -> ProductListing:
    """The page with its count, and the facets only when asked for (the attributes' only when
    those are), read concurrently."""
    terms = catalogue_listing.search_terms(search)
    sort = sort or (ProductSort.RELEVANCE if terms else ProductSort.NAME_ASC)
    request = page_request(first, after, last, before, sort.value, CURSOR_ARITY)
    spec = await product_search(loaders, filter, search)
    if spec is None:
        nothing = Page(request.sort, [], [], has_next_page=False, has_previous_page=False)
        return ProductListing(nothing, 0 if want_total else None, Facets([], [], []) if want_facets else None)

    page_and_total = catalogue_listing.product_page(spec, sort, request, with_total=want_total)
    if not want_facets:  # the common case: one statement, no task to gather
        page, total = await page_and_total
        return ProductListing(page, total, None)
    (page, total), facets = await asyncio.gather(
        page_and_total, catalogue_listing.product_facets(spec, with_attributes=want_attribute_facets)
    )
    return ProductListing(page, total, facets)


async def list_categories(
    *,
    parent_id: int | None,
    top_level: bool,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
) -> tuple[Page, int]:
    """Categories in tree order within one level (position, then id), keyset-paged; and their count."""
    request = page_request(first, after, last, before, "categories", 2)
    base = Category.all()
    if parent_id is not None:
        base = base.filter(parent_id=parent_id)
    elif top_level:
        base = base.filter(parent_id__isnull=True)
    queryset = base
    if request.cursor is not None:
        position, category_id = request.cursor
        if not isinstance(position, int) or not isinstance(category_id, int):
            raise BadInput("The cursor is not a valid cursor.", "before" if request.backward else "after")
        if request.backward:
            queryset = queryset.filter(Q(position__lt=position) | Q(position=position, id__lt=category_id))
        else:
            queryset = queryset.filter(Q(position__gt=position) | Q(position=position, id__gt=category_id))
    order = ("-position", "-id") if request.backward else ("position", "id")
    rows, total = await asyncio.gather(queryset.order_by(*order).limit(request.size + 1), base.count())
    return make_page(request, list(rows), [(c.position, c.id) for c in rows]), total
