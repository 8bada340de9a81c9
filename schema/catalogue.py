"""Storefront catalogue types and queries.

Objects are built with every field a plain attribute: relations the query selects are loaded for
the whole page up front (see `_product_views`), others hold a `Lazy` that loads on demand.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from models import Category as CategoryModel
from models import Permission
from models import ProductStatus as ProductStatusModel
from models import VariantOption as OptionModel
from models.sql import Row
from resolvers import catalogue
from resolvers import catalogue_changes as changes
from resolvers.catalogue_query import Facets
from resolvers.catalogue_query import ProductSort as ProductSortKey
from resolvers.errors import BadInput
from resolvers.pagination import encode_cursor
from schema.context import Context
from schema.errors import Forbidden
from schema.ids import decode_id_of, encode_id
from schema.lazy import UNSELECTED, Lazy, LazyMany
from schema.node import Node, PageInfo, page_info
from schema.selection import Tree, selection_tree, subtree

ProductStatus = strawberry.enum(
    ProductStatusModel, name="ProductStatus", description="Only ACTIVE products are visible to the storefront."
)
ProductSort = strawberry.enum(
    ProductSortKey,
    name="ProductSort",
    description="Order of a product listing. RELEVANCE applies when `search` is given (its default then).",
)


@strawberry.type(description="An amount of money; `amount` is a decimal string, never a float.")
class Money:
    amount: Decimal
    currency: str


@strawberry.type
class PriceRange:
    min: Money
    max: Money


@strawberry.type
class SelectedOption:
    name: str
    value: str


@strawberry.type
class Image:
    id: strawberry.ID
    url: str
    alt_text: str


@strawberry.type
class ProductVariant(Node):
    id: strawberry.ID
    sku: str
    name: str
    price: Money
    compare_at_price: Money | None
    weight_grams: int
    quantity_available: int = strawberry.field(description="On hand minus reserved, over all warehouses.")
    available_for_sale: bool
    selected_options: list[SelectedOption]
    product: Annotated[Product, strawberry.lazy("schema.catalogue")]


@strawberry.type
class Product(Node):
    id: strawberry.ID
    name: str
    slug: str
    description: str
    status: ProductStatus = strawberry.field(description="Always ACTIVE for the storefront; staff also see the others.")
    created_at: datetime
    updated_at: datetime
    category: Annotated[Category, strawberry.lazy("schema.catalogue")] | None
    images: list[Image]
    variants: list[ProductVariant]
    price_range: PriceRange | None = strawberry.field(description="Lowest and highest variant price; null without variants.")
    available_for_sale: bool


@strawberry.type
class ProductEdge:
    cursor: str
    node: Product


@strawberry.type
class CategoryFacet:
    category: Annotated[Category, strawberry.lazy("schema.catalogue")]
    count: int = strawberry.field(description="Matching products in this category or its descendants.")


@strawberry.type
class OptionValueFacet:
    value: str
    count: int


@strawberry.type
class OptionFacet:
    name: str
    values: list[OptionValueFacet]


@strawberry.type
class PriceRangeFacet:
    min: Money
    max: Money | None = strawberry.field(description="Exclusive upper bound; null for the open last range.")
    count: int


@strawberry.type(description="Counts under the current filter, enough to draw a filter sidebar.")
class ProductFacets:
    categories: list[CategoryFacet]
    options: list[OptionFacet]
    price_ranges: list[PriceRangeFacet]


@strawberry.type
class ProductConnection:
    edges: list[ProductEdge]
    nodes: list[Product]
    page_info: PageInfo
    total_count: int
    facets: ProductFacets


async def resolve_products(
    root: Any,
    info: Info[Context, None],
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    filter: ProductFilter | None = None,
    sort: ProductSort | None = None,
    search: str | None = None,
) -> ProductConnection:
    """`Query.products` and `Category.products`: under a category, its subtree is the filter."""
    category_id = root._model.id if isinstance(root, Category) else None
    spec = _filter_spec(filter, category_id, include_hidden=await sees_hidden_products(info.context))
    return await _product_connection(info, spec, sort, search, first, after, last, before)


@strawberry.type
class Category(Node):
    id: strawberry.ID
    name: str
    slug: str
    description: str
    position: int
    level: int = strawberry.field(description="0 for a top-level category.")
    parent: Annotated[Category, strawberry.lazy("schema.catalogue")] | None
    ancestors: list[Annotated[Category, strawberry.lazy("schema.catalogue")]] = strawberry.field(
        description="From the top-level category down to the parent: breadcrumbs."
    )
    children: list[Annotated[Category, strawberry.lazy("schema.catalogue")]]
    _model: strawberry.Private[CategoryModel]

    products: ProductConnection = strawberry.field(
        resolver=resolve_products, description="Active products of this category and its descendants."
    )


@strawberry.type
class CategoryEdge:
    cursor: str
    node: Category


@strawberry.type
class CategoryConnection:
    edges: list[CategoryEdge]
    nodes: list[Category]
    page_info: PageInfo
    total_count: int


@strawberry.input
class PriceRangeInput:
    min: Decimal | None = None
    max: Decimal | None = None


@strawberry.input
class OptionFilterInput:
    name: str
    values: list[str]


@strawberry.input(description="All given conditions must hold.")
class ProductFilter:
    category: strawberry.ID | None = strawberry.field(default=None, description="This category or any descendant.")
    price: PriceRangeInput | None = strawberry.field(default=None, description="On the lowest variant price.")
    in_stock: bool | None = None
    options: list[OptionFilterInput] | None = strawberry.field(
        default=None, description="One variant must match every option, with any of its values."
    )
    status: list[ProductStatus] | None = strawberry.field(
        default=None, description="Staff with MANAGE_PRODUCTS only (they see every status unless they filter)."
    )


# --- building objects ------------------------------------------------------------------------

_MISSING: Any = object()


def money(amount: Decimal, context: Context) -> Money:
    return Money(amount=amount, currency=context.currency)


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


def _any_available(variants: list[Row]) -> bool:
    for variant in variants:  # noqa: SIM110 (a loop: any() over a generator costs a frame per variant)
        if variant["quantity_available"] > 0:
            return True
    return False


def image_view(image: Row) -> Image:
    return Image(id=encode_id("Image", image["id"]), url=image["url"], alt_text=image["alt_text"])


def option_views(options: list[OptionModel]) -> list[SelectedOption]:
    return [SelectedOption(name=o.name, value=o.value) for o in options]


def variant_view(context: Context, variant: Row, product: Any = _MISSING, options: Any = _MISSING) -> ProductVariant:
    """The ProductVariant object of a variant row; `product` and `options` given (values, or
    `UNSELECTED`) are used as they are, the others become `Lazy` loads."""
    variant_id = variant["id"]
    if product is _MISSING:
        product_id = variant["product_id"]
        product = Lazy(context.loaders.product_by_id, product_id, lambda p: product_view(context, p))
        # Cached answers showing a variant are tagged with its product: every change to a variant
        # (price, stock) is recorded under its product (resolvers/catalogue_changes.py). Given a
        # product, the caller is `product_view`, which tagged it.
        context.cache_tags.add(changes.product(product_id))
    if options is _MISSING:
        options = Lazy(context.loaders.options_by_variant_id, variant_id, option_views)
    # Money is built here rather than through `money()`: a listing page builds one per price.
    currency = context.currency
    compare_at = variant["compare_at_price"]
    available = variant["quantity_available"]
    return ProductVariant(
        id=encode_id("ProductVariant", variant_id),
        sku=variant["sku"],
        name=variant["name"],
        price=Money(amount=variant["price"], currency=currency),
        compare_at_price=None if compare_at is None else Money(amount=compare_at, currency=currency),
        weight_grams=variant["weight_grams"],
        quantity_available=available,
        available_for_sale=available > 0,
        selected_options=options,
        product=product,
    )


def _variant_views(
    context: Context,
    rows: list[Row],
    product: Any,
    variant_fields: Tree | None,
    options: dict[int, list[SelectedOption]] | None,
) -> list[ProductVariant]:
    """A product's variant views; `product` is the product's view, or `UNSELECTED`.

    With `variant_fields` (what the query selects under `variants`, when a list resolver knows
    it), a variant's `product` and `selectedOptions` are built only if selected, `UNSELECTED`
    otherwise; without it (None: unknown), they are linked or loaded."""
    if variant_fields is None:
        return [variant_view(context, v, product=product) for v in rows]
    parent = product if "product" in variant_fields else UNSELECTED
    if "selectedOptions" not in variant_fields:
        return [variant_view(context, v, parent, UNSELECTED) for v in rows]
    options = options or {}
    return [variant_view(context, v, parent, options.get(v["id"], _MISSING)) for v in rows]


def product_view(
    context: Context,
    product: Row,
    variants: Any = _MISSING,
    images: Any = _MISSING,
    category: Any = _MISSING,
    options: dict[int, list[SelectedOption]] | None = None,
    variant_fields: Tree | None = None,
) -> Product:
    """The Product object of a product row. Relations given (variant and image rows, the category's
    view, the variants' options) become plain values; the others become `Lazy` loads.

    `variant_fields`: see `_variant_views`. Not linking the variants back to this view when their
    `product` is not selected also avoids a reference cycle: a product view and its variant views
    pointing at each other made a whole page of views wait for the cyclic GC, which then freed
    dozens of requests' worth at once, cache-cold.
    """
    context.cache_tags.add(changes.product(product["id"]))
    if images is _MISSING:
        images = Lazy(context.loaders.images_by_product_id, product["id"], lambda rows: [image_view(i) for i in rows])
    else:
        images = [image_view(i) for i in images]
    if category is _MISSING:
        category = None
        if product["category_id"] is not None:
            category = Lazy(context.loaders.category_by_id, product["category_id"], lambda c: category_view(context, c))
    if variants is not _MISSING and variant_fields is not None and "product" not in variant_fields:
        # The look-ahead case: nothing points back at this view, so it is built once, complete.
        views = _variant_views(context, variants, UNSELECTED, variant_fields, options)
        return _product(product, category, images, views, _price_range(views), _any_available(variants))
    view = _product(product, category, images, [], None, False)
    if variants is _MISSING:
        loader = context.loaders.variants_by_product_id

        def linked(rows: list[Row]) -> list[ProductVariant]:
            return _variant_views(context, rows, view, variant_fields, options)

        view.variants = Lazy(loader, product["id"], linked)
        view.price_range = Lazy(loader, product["id"], lambda rows: _price_range(linked(rows)))
        view.available_for_sale = Lazy(loader, product["id"], _any_available)
    else:
        view.variants = _variant_views(context, variants, view, variant_fields, options)
        view.price_range = _price_range(view.variants)
        view.available_for_sale = _any_available(variants)
    return view


def _product(
    product: Row, category: Any, images: Any, variants: Any, price_range: Any, available_for_sale: Any
) -> Product:
    return Product(
        id=encode_id("Product", product["id"]),
        name=product["name"],
        slug=product["slug"],
        description=product["description"],
        status=product["status"],
        created_at=product["created_at"],
        updated_at=product["updated_at"],
        category=category,
        images=images,
        variants=variants,
        price_range=price_range,
        available_for_sale=available_for_sale,
    )


def category_view(context: Context, category: CategoryModel | None, fields: Tree | None = None) -> Category | None:
    """The Category object; with `fields` (what the query selects on it, when a list resolver
    knows), its relations that are not selected are `UNSELECTED` instead of `Lazy` loads."""
    if category is None:
        return None
    loaders = context.loaders
    context.cache_tags.add(changes.category(category.id))

    def one(c: CategoryModel | None) -> Category | None:
        return category_view(context, c)

    def many(rows: list[CategoryModel | None]) -> list[Category]:
        return [view for view in (category_view(context, c) for c in rows) if view is not None]

    parent: Any = UNSELECTED
    ancestors: Any = UNSELECTED
    children: Any = UNSELECTED
    if fields is None or "parent" in fields:
        parent = None if category.parent_id is None else Lazy(loaders.category_by_id, category.parent_id, one)
    if fields is None or "ancestors" in fields:
        ancestors = LazyMany(loaders.category_by_id, category.ancestor_ids, many)
    if fields is None or "children" in fields:
        children = Lazy(loaders.categories_by_parent_id, category.id, many)
    return Category(
        id=encode_id("Category", category.id),
        name=category.name,
        slug=category.slug,
        description=category.description,
        position=category.position,
        level=category.depth,
        parent=parent,
        ancestors=ancestors,
        children=children,
        _model=category,
    )


async def _product_views(context: Context, products: Sequence[Row], selected: Tree) -> list[Product]:
    """Load every relation the selection asks for, for the whole page at once, then build views
    with nothing for what it does not ask for."""
    loaders = context.loaders
    ids = [p["id"] for p in products]
    variant_fields = selected.get("variants")
    want_variants = variant_fields is not None or "priceRange" in selected or "availableForSale" in selected
    category_fields = selected.get("category")
    category_ids = [p["category_id"] for p in products if p["category_id"] is not None]

    async def skip() -> None:
        return None

    variant_lists, image_lists, categories = await asyncio.gather(
        loaders.variants_by_product_id.load_all(ids, remember=False) if want_variants else skip(),
        loaders.images_by_product_id.load_all(ids, remember=False) if "images" in selected else skip(),
        loaders.category_by_id.load_all(category_ids, remember=False) if category_fields is not None and category_ids else skip(),
    )
    options_by_variant: dict[int, list[SelectedOption]] = {}
    if variant_fields and "selectedOptions" in variant_fields and variant_lists:
        variant_ids = [v["id"] for rows in variant_lists for v in rows]
        for variant_id, rows in zip(variant_ids, await loaders.options_by_variant_id.load_all(variant_ids), strict=True):
            options_by_variant[variant_id] = option_views(rows)
    # Many products share a category: one view each.
    category_views = {
        c.id: category_view(context, c, category_fields)
        for c in {c.id: c for c in categories or () if c is not None}.values()
    }

    return [
        product_view(
            context,
            product,
            variants=variant_lists[index] if variant_lists is not None else _MISSING,
            images=image_lists[index] if image_lists is not None else _MISSING,
            category=category_views.get(product["category_id"]) if categories is not None else _MISSING,
            options=options_by_variant,
            variant_fields=variant_fields or {},
        )
        for index, product in enumerate(products)
    ]


def _facets_view(context: Context, facets: Facets | None) -> ProductFacets:
    if facets is None:
        return ProductFacets(categories=[], options=[], price_ranges=[])
    loaders = context.loaders
    options: dict[str, list[OptionValueFacet]] = {}
    for name, value, count in facets.options:
        options.setdefault(name, []).append(OptionValueFacet(value=value, count=count))
    return ProductFacets(
        categories=[
            CategoryFacet(category=Lazy(loaders.category_by_id, cid, lambda c: category_view(context, c)), count=count)
            for cid, count in facets.categories
        ],
        options=[OptionFacet(name=name, values=values) for name, values in options.items()],
        price_ranges=[
            PriceRangeFacet(
                min=money(bucket.min, context),
                max=None if bucket.max is None else money(bucket.max, context),
                count=bucket.count,
            )
            for bucket in facets.prices
        ],
    )


def _filter_spec(
    filter: ProductFilter | None, category_id: int | None = None, include_hidden: bool = False
) -> catalogue.ProductFilterInput:
    if filter is None:
        return catalogue.ProductFilterInput(category_id=category_id, include_hidden=include_hidden)
    if filter.status is not None and not include_hidden:
        raise Forbidden("Filtering by status needs the MANAGE_PRODUCTS permission.")
    if filter.category is not None and category_id is None:
        category_id = decode_id_of(filter.category, "Category", "filter.category")
    price_min = filter.price.min if filter.price else None
    price_max = filter.price.max if filter.price else None
    for name, value in (("filter.price.min", price_min), ("filter.price.max", price_max)):
        if value is not None and (not value.is_finite() or value < 0):
            raise BadInput(f"`{name}` must be a non-negative amount.", name)
    options = []
    for option in filter.options or ():
        if not option.values:
            raise BadInput(f"`filter.options` for {option.name!r} needs at least one value.", "filter.options")
        options.append((option.name, tuple(option.values)))
    return catalogue.ProductFilterInput(
        category_id=category_id,
        price_min=price_min,
        price_max=price_max,
        in_stock=filter.in_stock,
        options=tuple(options),
        statuses=tuple(ProductStatusModel(status.value) for status in filter.status or ()),
        include_hidden=include_hidden,
    )


async def _product_connection(
    info: Info[Context, None],
    spec: catalogue.ProductFilterInput,
    sort: ProductSortKey | None,
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
    )
    page = listing.page
    selected = subtree(tree, ("edges", "node"), ("nodes",))
    views = await _product_views(context, page.rows, selected) if selected else [product_view(context, p) for p in page.rows]
    cursors = [encode_cursor(listing.sort.value, key) for key in page.keys]
    return ProductConnection(
        edges=[ProductEdge(cursor=c, node=v) for c, v in zip(cursors, views, strict=True)],
        nodes=views,
        page_info=page_info(page, cursors),
        total_count=listing.total_count or 0,
        facets=_facets_view(context, listing.facets),
    )


async def sees_hidden_products(context: Context) -> bool:
    """Staff who manage products see drafts and archived products; nobody else ever does."""
    account = await context.viewer()
    return account is not None and account.has_permission(Permission.MANAGE_PRODUCTS)


def _one_of(id: strawberry.ID | None, slug: str | None) -> None:
    if (id is None) == (slug is None):
        raise BadInput("Pass exactly one of `id` or `slug`.", "id")


@strawberry.type
class CatalogueQuery:
    products: ProductConnection = strawberry.field(
        resolver=resolve_products,
        description="Active products, filtered, searched and sorted; at most 100 per page.",
    )

    @strawberry.field
    async def product(self, info: Info[Context, None], id: strawberry.ID | None = None, slug: str | None = None) -> Product | None:
        _one_of(id, slug)
        loaders = info.context.loaders
        hidden = await sees_hidden_products(info.context)
        if id is not None:
            model = await catalogue.product_by_id(loaders, decode_id_of(id, "Product"), include_hidden=hidden)
        else:
            model = await catalogue.product_by_slug(loaders, slug, include_hidden=hidden)
        if model is None:
            info.context.cache_tags.add(changes.PRODUCTS)  # "none" holds until a product comes
            return None
        return product_view(info.context, model)

    @strawberry.field(description="Categories ordered by position; `parent` or `topLevel` narrow to one level.")
    async def categories(
        self,
        info: Info[Context, None],
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        parent: strawberry.ID | None = None,
        top_level: bool = False,
    ) -> CategoryConnection:
        parent_id = decode_id_of(parent, "Category", "parent") if parent is not None else None
        info.context.cache_tags.add(changes.CATEGORIES)
        page, total = await catalogue.list_categories(
            parent_id=parent_id, top_level=top_level, first=first, after=after, last=last, before=before
        )
        views = [category_view(info.context, c) for c in page.rows]
        cursors = [encode_cursor("categories", key) for key in page.keys]
        return CategoryConnection(
            edges=[CategoryEdge(cursor=c, node=v) for c, v in zip(cursors, views, strict=True)],
            nodes=views,
            page_info=page_info(page, cursors),
            total_count=total,
        )

    @strawberry.field
    async def category(self, info: Info[Context, None], id: strawberry.ID | None = None, slug: str | None = None) -> Category | None:
        _one_of(id, slug)
        loaders = info.context.loaders
        if id is not None:
            model = await catalogue.category_by_id(loaders, decode_id_of(id, "Category"))
        else:
            model = await catalogue.category_by_slug(loaders, slug)
        if model is None:
            info.context.cache_tags.add(changes.CATEGORIES)
        return category_view(info.context, model)


async def resolve_node(context: Context, type_name: str, pk: int) -> Node | None:
    """`node(id)` for the catalogue's types; None for an ID of a type this module does not own."""
    loaders = context.loaders
    if type_name == "Product":
        model = await catalogue.product_by_id(loaders, pk, include_hidden=await sees_hidden_products(context))
        return None if model is None else product_view(context, model)
    if type_name == "ProductVariant":
        variant = await catalogue.variant_by_id(loaders, pk, include_hidden=await sees_hidden_products(context))
        return None if variant is None else variant_view(context, variant)
    if type_name == "Category":
        return category_view(context, await catalogue.category_by_id(loaders, pk))
    return None


NODE_TYPES = ("Product", "ProductVariant", "Category")
