"""The catalogue's storefront types, how they are built from rows, and the catalogue's root fields.

Longer than 400 lines on purpose: these types name one another in a cycle (a product's category
lists its products, a variant points back at its product, a facet names a category), and the
functions that build them are called by the types' own resolvers. Split over several modules,
those modules would import one another in a cycle, which tests/test_layers.py forbids. What is not
part of that cycle lives elsewhere: the shared shapes in `shared.py`, `node(id)` in `node.py`,
staff mutations in `catalogue_admin.py`, the listing's SQL in resolvers/catalogue_listing.py.

A product's relations (variants, images, category, attribute values, and what its variants give:
price range, availability and the option picker) are plain attributes, loaded for a whole page
before its objects are built (see `build_products`): a resolver per field costs graphql-core and
Strawberry several µs a call, and a listing has hundreds. Relations a page does not show (a
variant's product, options and attributes, a category's parent, ancestors and children, a facet's
category) are resolvers that load on demand, or return what the page loaded ahead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, TypeVar

import strawberry
from strawberry.types import Info

from loaders.base import Loader
from models import Category as CategoryModel
from models import ImageFormat, Permission, ProductStatus
from models import VariantOption as OptionModel
from models.catalogue import SEO_DESCRIPTION_LENGTH, SEO_TITLE_LENGTH
from models.rows import ImageRow, ProductRow, VariantRow
from resolvers import catalogue, catalogue_options, catalogue_related, catalogue_seo
from resolvers import catalogue_changes as changes
from resolvers.catalogue import MAX_SEARCH_LENGTH
from resolvers.catalogue_counts import COUNT_BOUND, FACET_SAMPLE
from resolvers.catalogue_listing import Facets, ProductSort
from resolvers.errors import BadInput
from schema import media
from schema.attributes import (
    AttributeFacet,
    AttributeFilterInput,
    SelectedAttribute,
    attribute_filters,
    build_attribute_facets,
    build_selected_attributes,
)
from schema.catalogue_options import ProductOption, SelectedOptionInput, build_options
from schema.context import Context
from schema.errors import Forbidden
from schema.ids import decode_id_of, encode_id
from schema.permissions import requires
from schema.selection import Tree, selection_tree, subtree
from schema.shared import After, Before, Connection, First, Last, Money, Node, build_money, described_enum

# The domain's enums, registered as GraphQL enums as they are: strawberry.enum returns the class it
# was given, so both layers name each alike.
described_enum(
    ProductStatus,
    "Only ACTIVE products are visible to the storefront.",
    {
        ProductStatus.DRAFT: "Being prepared: seen only by staff with MANAGE_PRODUCTS, and not for sale.",
        ProductStatus.ACTIVE: "For sale: listed, found by search and orderable by everyone.",
        ProductStatus.ARCHIVED: "No longer sold, kept for the orders that name it: seen only by staff with "
        "MANAGE_PRODUCTS.",
    },
)
described_enum(
    ProductSort,
    "Order of a product listing. RELEVANCE applies when `search` is given (its default then).",
    {
        ProductSort.NAME_ASC: "By name, A to Z: the default without `search`.",
        ProductSort.NAME_DESC: "By name, Z to A.",
        ProductSort.PRICE_ASC: "By the lowest variant price, cheapest first (a product without variants counts as 0).",
        ProductSort.PRICE_DESC: "By the lowest variant price, dearest first.",
        ProductSort.NEWEST: "The most recently created first.",
        ProductSort.RELEVANCE: "The best matches for `search` first: the default with `search`. Without it, as NAME_ASC.",
    },
)


@strawberry.type(description="The lowest and the highest price among a product's variants.")
class PriceRange:
    min: Money = strawberry.field(description="The cheapest variant's price.")
    max: Money = strawberry.field(description="The dearest variant's price; equal to `min` when all cost the same.")


@strawberry.type(description="One option value that sets a variant apart, such as Size: M.")
class SelectedOption:
    name: str = strawberry.field(description='The option, such as "Size" or "Color".')
    value: str = strawberry.field(description='The variant\'s value of it, such as "M" or "Blue".')


@strawberry.type(description="A picture of a product.")
class Image(Node):
    id: strawberry.ID = strawberry.field(description="The image's ID, for `productImageDelete`.")
    alt_text: str = strawberry.field(
        description="Text that says what the image shows, for those who cannot see it; empty when none was given."
    )
    image_id: strawberry.Private[int]
    link: strawberry.Private[str]  # the URL staff gave (or the one an upload had when stored)
    storage_key: strawberry.Private[str | None]  # an uploaded image's place in the media storage
    width: strawberry.Private[int | None]  # an uploaded image's, in pixels

    @strawberry.field(
        graphql_type=str,
        description="Where the image is: an absolute http(s) URL. A linked image's URL is as staff gave it, "
        "whatever is asked. An uploaded one (`productMediaUpload`) can be asked for narrower (`width`, one of "
        f"{media.WIDTHS_TEXT} pixels; never wider than the original) or in another `format`: such a "
        "thumbnail is made once, in the background, the first time it is asked for; until it is ready the "
        "original's URL is given. Every URL of an uploaded image names content that never changes.",
    )
    def url(
        self,
        info: Info[Context, None],
        width: Annotated[
            int | None,
            strawberry.argument(description=f"The largest width wanted, in pixels: one of {media.WIDTHS_TEXT}."),
        ] = None,
        format: Annotated[
            ImageFormat | None,
            strawberry.argument(description="The format wanted; left out: the original's."),
        ] = None,
    ) -> str | Awaitable[str]:
        return media.image_url(info, self, width, format)


@strawberry.type(description="One version of a product that can be bought (a size, a color): what a cart line holds.")
class ProductVariant(Node):
    sku: str = strawberry.field(description="The stock-keeping unit staff gave it: unique in the catalogue.")
    name: str = strawberry.field(description='The variant\'s name, such as "M / Blue"; its SKU when staff gave none.')
    price: Money = strawberry.field(
        description="The price of one unit, tax included or not as the store is configured (`Cart.taxTotal` says)."
    )
    compare_at_price: Money | None = strawberry.field(
        description="An earlier or list price to show struck through beside `price`; null when there is none."
    )
    weight_grams: int = strawberry.field(
        description="The weight of one unit in grams, which decides the shipping methods a cart can use; 0 when not set."
    )
    quantity_available: int = strawberry.field(description="On hand minus reserved, over all warehouses.")
    available_for_sale: bool = strawberry.field(
        description="Whether a unit can be bought now: `quantityAvailable` above 0."
    )
    _row: strawberry.Private[VariantRow]
    # Set when the variant is built with its product's object, or with its options loaded ahead.
    _product: strawberry.Private[Product | None]
    _options: strawberry.Private[list[SelectedOption] | None]
    _attributes: strawberry.Private[list[SelectedAttribute] | None]

    @strawberry.field(description="The option values that set this variant apart, in the order staff gave them.")
    async def selected_options(self, info: Info[Context, None]) -> list[SelectedOption]:
        if self._options is not None:  # loaded ahead with the page
            return self._options
        return build_selected_options(await info.context.loaders.options_by_variant_id.load(self._row.id))

    @strawberry.field(
        description="The variant's own values of the attributes shown on the storefront (its product type's "
        "variant attributes), in the product type's order."
    )
    async def attributes(self, info: Info[Context, None]) -> list[SelectedAttribute]:
        if self._attributes is not None:  # loaded ahead with the page
            return self._attributes
        return build_selected_attributes(await info.context.loaders.shown_values_by_variant_id.load(self._row.id))

    @strawberry.field(
        extensions=requires(Permission.MANAGE_PRODUCTS),
        description="Staff with MANAGE_PRODUCTS: the stock available (over all warehouses) at or below which a "
        "STOCK_LOW webhook fires, once per fall; null: no alerts.",
    )
    async def low_stock_threshold(self, info: Info[Context, None]) -> int | None:
        return await info.context.loaders.low_stock_threshold_by_variant_id.load(self._row.id)

    @strawberry.field(description="The product this is a variant of.")
    async def product(self, info: Info[Context, None]) -> Annotated[Product, strawberry.lazy("schema.catalogue")]:
        if self._product is not None:  # built with its product's object
            return self._product
        return await _product_of_variant(info, self._row.product_id)


@strawberry.type(
    description="Something the shop sells: its variants are what is bought. The storefront sees ACTIVE products only."
)
class Product(Node):
    name: str = strawberry.field(description="The product's name, as shoppers see it.")
    slug: str = strawberry.field(
        description="The product's URL key, unique: lowercase letters and digits joined by dashes. "
        "`product(slug:)` finds it."
    )
    description: str = strawberry.field(description="The product's description, plain text; empty when none.")
    status: ProductStatus = strawberry.field(description="Always ACTIVE for the storefront; staff also see the others.")
    created_at: datetime = strawberry.field(description="When the product was created.")
    updated_at: datetime = strawberry.field(
        description="When the product's own fields last changed (not its variants, prices or stock)."
    )
    category: Annotated[Category, strawberry.lazy("schema.catalogue")] | None = strawberry.field(
        description="The category the product is filed under; null when none."
    )
    images: list[Image] = strawberry.field(
        description="The product's images in display order: the first is its main one."
    )
    variants: list[ProductVariant] = strawberry.field(
        description="The versions that can be bought, in display order; empty while staff have added none."
    )
    price_range: PriceRange | None = strawberry.field(
        description="Lowest and highest variant price; null without variants."
    )
    available_for_sale: bool = strawberry.field(description="Whether any variant can be bought now.")
    attributes: list[SelectedAttribute] = strawberry.field(
        description="The product's own values of the attributes shown on the storefront, in its product type's "
        "order; empty when it has none."
    )
    options: list[ProductOption] = strawberry.field(
        description="The options its variants are chosen by (Size, Colour), by the position staff gave them, each "
        "with its values and whether any variant having one is available."
    )
    seo_title: str = strawberry.field(
        description=f"The page's title for search engines: what staff wrote, else the name (at most "
        f"{SEO_TITLE_LENGTH} characters, cut after a whole word)."
    )
    seo_description: str = strawberry.field(
        description="The page's description for search engines: what staff wrote, else the description on one "
        f"line, cut after a whole word to at most {SEO_DESCRIPTION_LENGTH} characters; empty when it has none."
    )
    _row: strawberry.Private[ProductRow]

    @strawberry.field(
        description="Active products to show beside this one: those staff chose (`productRelatedSet`), in their "
        "order, then others of its category, by name."
    )
    async def related(
        self,
        info: Info[Context, None],
        first: Annotated[
            int, strawberry.argument(description=f"How many at most: 0 to {catalogue_related.MAX_FIRST}.")
        ] = 4,
    ) -> list[Product]:
        if not 0 <= first <= catalogue_related.MAX_FIRST:
            raise BadInput(f"`first` must be between 0 and {catalogue_related.MAX_FIRST}.")
        context = info.context
        context.cache_tags.add(changes.PRODUCTS)  # the category's fill changes with its membership
        rows = await catalogue_related.related(context.loaders, self._row, first)
        return await build_products(context, rows, selection_tree(info))

    @strawberry.field(
        description="The variant having exactly these option values (all of its options, no others); null when none "
        "has. Its `availableForSale` says whether it can be bought now."
    )
    def variant_by_selected_options(
        self,
        selected_options: Annotated[
            list[SelectedOptionInput], strawberry.argument(description="A value for each of the product's options.")
        ],
    ) -> ProductVariant | None:
        wanted = [(option.name, option.value) for option in selected_options]
        for variant in self.variants:  # loaded with their options by `build_products` when this is selected
            pairs = ((option.name, option.value) for option in variant._options or ())
            if catalogue_options.matches_exactly(pairs, wanted):
                return variant
        return None


async def _facet_category(root: CategoryFacet, info: Info[Context, None]) -> Category:
    category = await info.context.loaders.category_by_id.load(root._category_id)
    if category is None:  # the facet counted products of this category moments ago
        raise LookupError(f"category {root._category_id} of a facet is gone")
    return build_category(info.context, category)


@strawberry.type(description="How many matching products lie in one category.")
class CategoryFacet:
    category: Category = strawberry.field(resolver=_facet_category, description="The category counted.")
    count: int = strawberry.field(description="Matching products in this category or its descendants.")
    _category_id: strawberry.Private[int]


@strawberry.type(description="One value of an option, and how many matching products offer it.")
class OptionValueFacet:
    value: str = strawberry.field(description='The value, such as "M".')
    count: int = strawberry.field(description="Matching products with a variant of this value.")


@strawberry.type(description="One option of the matching products' variants, such as Size, with a count per value.")
class OptionFacet:
    name: str = strawberry.field(description='The option\'s name, such as "Size": what `OptionFilterInput.name` takes.')
    values: list[OptionValueFacet] = strawberry.field(
        description="Its values in alphabetical order, each with its count."
    )


@strawberry.type(description="How many matching products have their lowest price in one range.")
class PriceRangeFacet:
    min: Money = strawberry.field(description="Inclusive lower bound.")
    max: Money | None = strawberry.field(description="Exclusive upper bound; null for the open last range.")
    count: int = strawberry.field(
        description="Matching products whose cheapest variant costs from `min` to below `max`."
    )


@strawberry.type(description="Counts under the current filter, enough to draw a filter sidebar.")
class ProductFacets:
    categories: list[CategoryFacet] = strawberry.field(
        description="Each category holding matching products, with their number (its subcategories' included)."
    )
    options: list[OptionFacet] = strawberry.field(
        description="Each option of the matching products' variants, in alphabetical order."
    )
    price_ranges: list[PriceRangeFacet] = strawberry.field(
        description="The same price ranges for every listing (from 0, 25, 50, 100, 250 and 500 up), cheapest "
        "first, empty ones included."
    )
    attributes: list[AttributeFacet] = strawberry.field(
        description="Each filterable attribute the matching products (or their variants) have a value of, in the "
        "order the attributes were created: the values counted, or a NUMBER's or DATE's range."
    )


@strawberry.type(description="A page of products, with the count and facets of all that match.")
class ProductConnection(Connection[Product]):
    nodes: list[Product] = strawberry.field(description="The page's products: `edges` without their cursors.")
    total_count: int = strawberry.field(
        description="How many products match the filter and search, on every page: exact up to "
        f"{COUNT_BOUND:,}; past that, on PostgreSQL, the database's estimate (over {COUNT_BOUND:,})."
    )
    facets: ProductFacets = strawberry.field(
        description="The matching products counted by category, option value and price range, for a filter sidebar: "
        f"exact when up to {FACET_SAMPLE:,} products match; past that, counted on {FACET_SAMPLE:,} of them and "
        "scaled to `totalCount`."
    )


# Declared before the fields that take them: an argument whose type is still a forward reference when
# its field's type is decorated (`Category.products`) loses the description given in `Annotated`.
@strawberry.input(description="A range of prices in the store's currency, both ends included.")
class PriceRangeInput:
    min: Decimal | None = strawberry.field(
        default=None, description="The lowest price to include; none: no lower bound."
    )
    max: Decimal | None = strawberry.field(
        default=None, description="The highest price to include; none: no upper bound."
    )


@strawberry.input(description="Products with a variant whose option `name` has any of `values`.")
class OptionFilterInput:
    name: str = strawberry.field(
        description='The option\'s name, such as "Size", exactly as `OptionFacet.name` gives it.'
    )
    values: list[str] = strawberry.field(
        description='The values to accept, such as ["M", "L"], exactly as written; an empty list matches nothing.'
    )


@strawberry.input(description="All given conditions must hold.")
class ProductFilter:
    category: strawberry.ID | None = strawberry.field(default=None, description="This category or any descendant.")
    price: PriceRangeInput | None = strawberry.field(default=None, description="On the lowest variant price.")
    in_stock: bool | None = strawberry.field(
        default=None, description="true: only products with a variant available now; false: only those with none."
    )
    options: list[OptionFilterInput] | None = strawberry.field(
        default=None, description="One variant must match every option, with any of its values."
    )
    attributes: list[AttributeFilterInput] | None = strawberry.field(
        default=None, description="Every attribute given must match, each with any of its values (or in its range)."
    )
    status: list[ProductStatus] | None = strawberry.field(
        default=None, description="Staff with MANAGE_PRODUCTS only (they see every status unless they filter)."
    )


# The listing's own arguments, beside the connection's: named, so that every field taking them
# (`Query.products`, `Category.products`, the benchmark's floor) describes them alike.
FilterArgument = Annotated[
    ProductFilter | None, strawberry.argument(description="Which products: every condition given must hold.")
]
SortArgument = Annotated[
    ProductSort | None, strawberry.argument(description="The order: NAME_ASC, or RELEVANCE with `search`.")
]
SearchArgument = Annotated[
    str | None,
    strawberry.argument(
        description="Words that must all appear in the product's name or description, each as the start of a word "
        "there, so results can follow a shopper's typing; on PostgreSQL also names close to the words despite a "
        "typo. A variant's exact SKU finds its product, first. Letters and digits count; at most "
        f"{MAX_SEARCH_LENGTH} characters."
    ),
]


async def resolve_products(
    root: Any,
    info: Info[Context, None],
    first: First = None,
    after: After = None,
    last: Last = None,
    before: Before = None,
    filter: FilterArgument = None,
    sort: SortArgument = None,
    search: SearchArgument = None,
) -> ProductConnection:
    """`Query.products` and `Category.products`: under a category, its subtree is the filter."""
    category_id = root._model.id if isinstance(root, Category) else None
    spec = product_filter_input(filter, category_id, include_hidden=await sees_hidden_products(info.context))
    return await _product_connection(info, spec, sort, search, first, after, last, before)


# A category's relations: resolvers, loaded only when a query selects them (no listing does).
async def _parent(root: Category, info: Info[Context, None]) -> Category | None:
    parent_id = root._model.parent_id
    parent = None if parent_id is None else await info.context.loaders.category_by_id.load(parent_id)
    return None if parent is None else build_category(info.context, parent)


async def _ancestors(root: Category, info: Info[Context, None]) -> list[Category]:
    return _build_categories(
        info.context, await info.context.loaders.category_by_id.load_many(root._model.ancestor_ids)
    )


async def _children(root: Category, info: Info[Context, None]) -> list[Category]:
    return _build_categories(info.context, await info.context.loaders.categories_by_parent_id.load(root._model.id))


@strawberry.type(description="A place in the category tree that products are filed under.")
class Category(Node):
    name: str = strawberry.field(description="The category's name, as shoppers see it.")
    slug: str = strawberry.field(description="The category's URL key, unique: `category(slug:)` finds it.")
    description: str = strawberry.field(description="The category's description, plain text; empty when none.")
    position: int = strawberry.field(description="Its place among its siblings: lower comes first.")
    level: int = strawberry.field(description="0 for a top-level category.")
    seo_title: str = strawberry.field(
        description=f"The page's title for search engines: what staff wrote, else the name (at most "
        f"{SEO_TITLE_LENGTH} characters, cut after a whole word)."
    )
    seo_description: str = strawberry.field(
        description="The page's description for search engines: what staff wrote, else the description on one "
        f"line, cut after a whole word to at most {SEO_DESCRIPTION_LENGTH} characters; empty when it has none."
    )
    parent: Category | None = strawberry.field(
        resolver=_parent, description="The category it is part of; null for a top-level category."
    )
    ancestors: list[Category] = strawberry.field(
        resolver=_ancestors, description="From the top-level category down to the parent: breadcrumbs."
    )
    children: list[Category] = strawberry.field(resolver=_children, description="Its subcategories, by position.")
    _model: strawberry.Private[CategoryModel]

    products: ProductConnection = strawberry.field(
        resolver=resolve_products, description="Active products of this category and its descendants."
    )


@strawberry.type(description="A page of categories, with the count of all of them.")
class CategoryConnection(Connection[Category]):
    nodes: list[Category] = strawberry.field(description="The page's categories: `edges` without their cursors.")
    total_count: int = strawberry.field(description="How many categories the arguments select, on every page.")


# --- building objects ------------------------------------------------------------------------

T = TypeVar("T")


def _price_range(variants: list[ProductVariant]) -> PriceRange | None:
    if not variants:
        return None
    # A plain loop: min() and max() with a key function cost a call per variant, twice.
    low = high = variants[0].price
    for variant in variants:
        price = variant.price
        if price.amount < low.amount:
            low = price
        elif price.amount > high.amount:
            high = price
    return PriceRange(min=low, max=high)


def _any_available(variants: list[VariantRow]) -> bool:
    for variant in variants:  # noqa: SIM110 (a loop: any() over a generator costs a frame per variant)
        if variant.quantity_available > 0:
            return True
    return False


def build_image(image: ImageRow) -> Image:
    return Image(
        id=encode_id("Image", image.id),
        alt_text=image.alt_text,
        image_id=image.id,
        link=image.url,
        storage_key=image.storage_key,
        width=image.width,
    )


def build_selected_options(options: list[OptionModel]) -> list[SelectedOption]:
    return [SelectedOption(name=o.name, value=o.value) for o in options]


async def _product_of_variant(info: Info[Context, None], product_id: int) -> Product:
    row = await info.context.loaders.product_by_id.load(product_id)
    if row is None:  # a variant's product is a foreign key, deleted with its variants
        raise LookupError(f"product {product_id} of a variant is gone")
    return await build_product(info.context, row, selection_tree(info))


def build_variant(
    context: Context,
    variant: VariantRow,
    product: Product | None = None,
    options: list[SelectedOption] | None = None,
    attributes: list[SelectedAttribute] | None = None,
) -> ProductVariant:
    """The ProductVariant object of a variant row; `product` (its product's object), `options` and
    `attributes` when already at hand, else its fields load them when selected."""
    if product is None:
        # Cached answers showing a variant are tagged with its product: every change to a variant
        # (price, stock) is recorded under its product (resolvers/catalogue_changes.py). Given a
        # product, the caller is `build_products`, which tagged it.
        context.cache_tags.add(changes.product(variant.product_id))
    # Money is built here rather than through `build_money()`: a listing page builds one per price.
    currency = context.currency
    compare_at = variant.compare_at_price
    available = variant.quantity_available
    return ProductVariant(
        id=encode_id("ProductVariant", variant.id),
        sku=variant.sku,
        name=variant.name,
        price=Money(amount=variant.price, currency=currency),
        compare_at_price=None if compare_at is None else Money(amount=compare_at, currency=currency),
        weight_grams=variant.weight_grams,
        quantity_available=available,
        available_for_sale=available > 0,
        _row=variant,
        _product=product,
        _options=options,
        _attributes=attributes,
    )


def _build_variants(
    context: Context,
    rows: list[VariantRow],
    product: Product | None,
    options: dict[int, list[SelectedOption]] | None,
    attributes: dict[int, list[SelectedAttribute]] | None,
) -> list[ProductVariant]:
    if options is None and attributes is None:
        return [build_variant(context, v, product) for v in rows]
    return [
        build_variant(
            context,
            v,
            product,
            None if options is None else options.get(v.id, []),
            None if attributes is None else attributes.get(v.id, []),
        )
        for v in rows
    ]


def build_category(context: Context, category: CategoryModel) -> Category:
    """The Category object; its relations are resolvers that load when selected."""
    context.cache_tags.add(changes.category(category.id))
    return Category(
        id=encode_id("Category", category.id),
        name=category.name,
        slug=category.slug,
        description=category.description,
        position=category.position,
        level=category.depth,
        seo_title=catalogue_seo.title(category.seo_title, category.name),
        seo_description=catalogue_seo.description(category.seo_description, category.description),
        _model=category,
    )


def _build_categories(context: Context, categories: Sequence[CategoryModel | None]) -> list[Category]:
    return [build_category(context, c) for c in categories if c is not None]


async def _nothing() -> None:
    return None


async def build_products(
    context: Context, products: Sequence[ProductRow], selected: Tree | None, *, page: bool = False
) -> list[Product]:
    """The Product objects of product rows, with every relation the selection asks for loaded for
    all of them at once before they are built; `selected` None (unknown) loads every relation.

    Fields the selection does not ask for are left empty (no variants, images or category):
    graphql-core reads only selected fields, and loading them would cost statements nobody reads.

    `page`: a listing's page, whose relations are loaded in one batch each and not remembered by the
    loaders (see `Loader.load_all`); otherwise through the loaders, batched with sibling fields'.

    A variant points back at its product's object only when the selection reads `variants.product`:
    a product and its variants pointing at each other made a whole page of objects wait for the
    cyclic GC, which then freed dozens of requests' worth at once, cache-cold.
    """
    loaders = context.loaders
    ids = [p.id for p in products]
    category_ids = [p.category_id for p in products if p.category_id is not None]
    if selected is None:
        want_variants = want_images = want_category = want_options = link = True
        want_attributes = want_variant_attributes = want_picker = True
    else:
        variant_fields = selected.get("variants", {})
        # The option picker reads the variants with their options and availability.
        want_picker = "options" in selected or "variantBySelectedOptions" in selected
        want_variants = (
            bool(variant_fields) or "priceRange" in selected or "availableForSale" in selected or want_picker
        )
        want_images = "images" in selected
        want_category = "category" in selected
        want_options = "selectedOptions" in variant_fields or want_picker
        want_attributes = "attributes" in selected
        want_variant_attributes = "attributes" in variant_fields
        link = "product" in variant_fields

    def load(loader: Loader[Any, T], keys: list[Any]) -> Awaitable[list[T]]:
        return loader.load_all(keys, remember=False) if page else loader.load_many(keys)

    variant_lists, image_lists, categories, shown_lists = await asyncio.gather(
        load(loaders.variants_by_product_id, ids) if want_variants else _nothing(),
        load(loaders.images_by_product_id, ids) if want_images else _nothing(),
        load(loaders.category_by_id, category_ids) if want_category and category_ids else _nothing(),
        load(loaders.shown_values_by_product_id, ids) if want_attributes else _nothing(),
    )
    options: dict[int, list[SelectedOption]] | None = None
    option_rows: dict[int, list[OptionModel]] = {}
    variant_attributes: dict[int, list[SelectedAttribute]] | None = None
    if variant_lists:
        variant_ids = [v.id for rows in variant_lists for v in rows]
        loaded, loaded_attributes = await asyncio.gather(
            load(loaders.options_by_variant_id, variant_ids) if want_options else _nothing(),
            load(loaders.shown_values_by_variant_id, variant_ids) if want_variant_attributes else _nothing(),
        )
        if loaded is not None:
            option_rows = dict(zip(variant_ids, loaded, strict=True))
            options = {variant_id: build_selected_options(rows) for variant_id, rows in option_rows.items()}
        if loaded_attributes is not None:
            variant_attributes = {
                variant_id: build_selected_attributes(rows)
                for variant_id, rows in zip(variant_ids, loaded_attributes, strict=True)
            }
    # Many products share a category: one object each.
    category_objects = {c.id: build_category(context, c) for c in categories or () if c is not None}
    built = []
    for index, row in enumerate(products):
        context.cache_tags.add(changes.product(row.id))
        images = [build_image(i) for i in image_lists[index]] if image_lists is not None else []
        category = category_objects.get(row.category_id) if row.category_id is not None else None
        variants = variant_lists[index] if variant_lists is not None else []
        attributes = build_selected_attributes(shown_lists[index]) if shown_lists is not None else []
        picker = _picker(variants, option_rows) if want_picker else []
        if link:
            product = _new_product(row, category, images, [], None, False, attributes, picker)
            product.variants = _build_variants(context, variants, product, options, variant_attributes)
            product.price_range = _price_range(product.variants)
            product.available_for_sale = _any_available(variants)
        else:  # nothing points back at this product, so it is built once, complete
            variant_objects = _build_variants(context, variants, None, options, variant_attributes)
            product = _new_product(
                row,
                category,
                images,
                variant_objects,
                _price_range(variant_objects),
                _any_available(variants),
                attributes,
                picker,
            )
        built.append(product)
    return built


async def build_product(context: Context, product: ProductRow, selected: Tree | None = None) -> Product:
    """The Product object of one product row; see `build_products`."""
    return (await build_products(context, [product], selected))[0]


def _picker(variants: list[VariantRow], option_rows: dict[int, list[OptionModel]]) -> list[ProductOption]:
    return build_options(catalogue_options.product_options(variants, [option_rows.get(v.id, []) for v in variants]))


def _new_product(
    product: ProductRow,
    category: Category | None,
    images: list[Image],
    variants: list[ProductVariant],
    price_range: PriceRange | None,
    available_for_sale: bool,
    attributes: list[SelectedAttribute],
    options: list[ProductOption],
) -> Product:
    return Product(
        id=encode_id("Product", product.id),
        name=product.name,
        slug=product.slug,
        description=product.description,
        status=product.status,
        created_at=product.created_at,
        updated_at=product.updated_at,
        category=category,
        images=images,
        variants=variants,
        price_range=price_range,
        available_for_sale=available_for_sale,
        attributes=attributes,
        options=options,
        seo_title=catalogue_seo.title(product.seo_title, product.name),
        seo_description=catalogue_seo.description(product.seo_description, product.description),
        _row=product,
    )


def _build_facets(context: Context, facets: Facets | None) -> ProductFacets:
    if facets is None:
        return ProductFacets(categories=[], options=[], price_ranges=[], attributes=[])
    options: dict[str, list[OptionValueFacet]] = {}
    for name, value, count in facets.options:
        options.setdefault(name, []).append(OptionValueFacet(value=value, count=count))
    return ProductFacets(
        categories=[CategoryFacet(count=count, _category_id=cid) for cid, count in facets.categories],
        options=[OptionFacet(name=name, values=values) for name, values in options.items()],
        price_ranges=[
            PriceRangeFacet(
                min=build_money(bucket.min, context),
                max=None if bucket.max is None else build_money(bucket.max, context),
                count=bucket.count,
            )
            for bucket in facets.prices
        ],
        attributes=build_attribute_facets(facets.attributes),
    )


def product_filter_input(
    filter: ProductFilter | None, category_id: int | None = None, include_hidden: bool = False
) -> catalogue.ProductFilterInput:
    """The filter argument as the domain takes it: who may filter by status, IDs decoded."""
    if filter is None:
        return catalogue.ProductFilterInput(category_id=category_id, include_hidden=include_hidden)
    if filter.status is not None and not include_hidden:
        raise Forbidden("Filtering by status needs the MANAGE_PRODUCTS permission.")
    if filter.category is not None and category_id is None:
        category_id = decode_id_of(filter.category, "Category", "filter.category")
    return catalogue.ProductFilterInput(
        category_id=category_id,
        price_min=filter.price.min if filter.price else None,
        price_max=filter.price.max if filter.price else None,
        in_stock=filter.in_stock,
        options=tuple((option.name, tuple(option.values)) for option in filter.options or ()),
        attributes=attribute_filters(filter.attributes),
        statuses=tuple(filter.status or ()),
        include_hidden=include_hidden,
    )


async def _product_connection(
    info: Info[Context, None],
    spec: catalogue.ProductFilterInput,
    sort: ProductSort | None,
    search: str | None,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
) -> ProductConnection:
    context = info.context
    context.cache_tags.add(changes.PRODUCTS)  # which products, their order, counts and facets
    tree = selection_tree(info)
    listing = await catalogue.list_products(
        context.loaders,
        filter=spec,
        search=search,
        sort=sort,
        first=first,
        after=after,
        last=last,
        before=before,
        want_total="totalCount" in tree,
        want_facets="facets" in tree,
        want_attribute_facets="attributes" in tree.get("facets", {}),
    )
    page = listing.page
    selected = subtree(tree, ("edges", "node"), ("nodes",))
    products = await build_products(context, page.rows, selected, page=True)
    return ProductConnection.of(
        page,
        products,
        nodes=products,
        total_count=listing.total_count or 0,
        facets=_build_facets(context, listing.facets),
    )


async def sees_hidden_products(context: Context) -> bool:
    """Staff who manage products see drafts and archived products; nobody else ever does."""
    account = await context.viewer()
    return account is not None and account.has_permission(Permission.MANAGE_PRODUCTS)


def _one_of(id: strawberry.ID | None, slug: str | None) -> None:
    if (id is None) == (slug is None):
        raise BadInput("Pass exactly one of `id` or `slug`.", "id")


async def resolve_product(
    info: Info[Context, None],
    id: Annotated[strawberry.ID | None, strawberry.argument(description="The product's ID.")] = None,
    slug: Annotated[str | None, strawberry.argument(description="The product's slug.")] = None,
) -> Product | None:
    """`Query.product`."""
    _one_of(id, slug)
    loaders = info.context.loaders
    hidden = await sees_hidden_products(info.context)
    model: ProductRow | None = None
    if id is not None:
        model = await catalogue.product_by_id(loaders, decode_id_of(id, "Product"), include_hidden=hidden)
    elif slug is not None:  # `_one_of`: then a slug is given
        model = await catalogue.product_by_slug(loaders, slug, include_hidden=hidden)
    if model is None:
        info.context.cache_tags.add(changes.PRODUCTS)  # "none" holds until a product comes
        return None
    return await build_product(info.context, model, selection_tree(info))


async def resolve_categories(
    info: Info[Context, None],
    first: First = None,
    after: After = None,
    last: Last = None,
    before: Before = None,
    parent: Annotated[
        strawberry.ID | None, strawberry.argument(description="Only the subcategories directly below this category.")
    ] = None,
    top_level: Annotated[
        bool, strawberry.argument(description="Only the top-level categories (ignored with `parent`).")
    ] = False,
) -> CategoryConnection:
    """`Query.categories`."""
    parent_id = decode_id_of(parent, "Category", "parent") if parent is not None else None
    info.context.cache_tags.add(changes.CATEGORIES)
    page, total = await catalogue.list_categories(
        parent_id=parent_id, top_level=top_level, first=first, after=after, last=last, before=before
    )
    categories = [build_category(info.context, c) for c in page.rows]
    return CategoryConnection.of(page, categories, nodes=categories, total_count=total)


@strawberry.type
class CatalogueQuery:
    products: ProductConnection | None = strawberry.field(
        resolver=resolve_products,
        description="Active products, filtered, searched and sorted; at most 100 per page.",
    )

    product: Product | None = strawberry.field(
        resolver=resolve_product,
        description="A product by its ID or its slug (give exactly one); null when none you may see has it.",
    )
    categories: CategoryConnection | None = strawberry.field(
        resolver=resolve_categories,
        description="Categories ordered by position; `parent` or `topLevel` narrow to one level.",
    )

    @strawberry.field(description="A category by its ID or its slug (give exactly one); null when none has it.")
    async def category(
        self,
        info: Info[Context, None],
        id: Annotated[strawberry.ID | None, strawberry.argument(description="The category's ID.")] = None,
        slug: Annotated[str | None, strawberry.argument(description="The category's slug.")] = None,
    ) -> Category | None:
        _one_of(id, slug)
        loaders = info.context.loaders
        model: CategoryModel | None = None
        if id is not None:
            model = await catalogue.category_by_id(loaders, decode_id_of(id, "Category"))
        elif slug is not None:  # `_one_of`: then a slug is given
            model = await catalogue.category_by_slug(loaders, slug)
        if model is None:
            info.context.cache_tags.add(changes.CATEGORIES)
        return None if model is None else build_category(info.context, model)
