"""The product file of a filtered catalogue (`productExport`): what the import reads, written back.

Products in id order, each variant a row in its display order (a product without variants one
row with an empty `sku`); the option columns in the order the options first appear, the
attribute and stock columns by slug and warehouse code. Every row holds every column, an empty
cell where a product or variant has nothing there (which the import reads as "nothing", so a
file exported and imported into an empty catalogue exports again byte for byte). Read
`PAGE` products at a time, a fixed number of statements per page.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from loaders import Loaders
from models import (
    AttributeValue,
    Category,
    Product,
    ProductFileFormat,
    ProductStatus,
    ProductType,
    ProductVariant,
    Stock,
    VariantOption,
    Warehouse,
)
from resolvers import catalogue_listing, imports_rows
from resolvers.attributes import COLUMNS, AttributeFilter, render
from resolvers.catalogue import ProductFilterInput, product_search
from resolvers.imports_rows import (
    ATTRIBUTE,
    CATEGORY,
    COMPARE_AT_PRICE,
    DESCRIPTION,
    HANDLE,
    NAME,
    OPTION,
    PRICE,
    PRODUCT_COLUMNS,
    PRODUCT_TYPE,
    SEPARATOR,
    SKU,
    STATUS,
    STOCK,
    VARIANT_ATTRIBUTE,
    VARIANT_COLUMNS,
    VARIANT_NAME,
    WEIGHT,
)

PAGE = 500


def filter_document(spec: ProductFilterInput) -> dict[str, Any]:
    """The filter as JSON, to be stored with the export until its job reads it (`filter_input`)."""
    return {
        "category_id": spec.category_id,
        "price_min": None if spec.price_min is None else str(spec.price_min),
        "price_max": None if spec.price_max is None else str(spec.price_max),
        "in_stock": spec.in_stock,
        "options": [[name, list(values)] for name, values in spec.options],
        "attributes": [asdict(entry) for entry in spec.attributes],
        "statuses": [status.value for status in spec.statuses],
    }


def filter_input(document: dict[str, Any]) -> ProductFilterInput:
    """A stored filter, as staff see the catalogue (every status unless they filter)."""
    return ProductFilterInput(
        category_id=document.get("category_id"),
        price_min=None if document.get("price_min") is None else Decimal(document["price_min"]),
        price_max=None if document.get("price_max") is None else Decimal(document["price_max"]),
        in_stock=document.get("in_stock"),
        options=tuple((name, tuple(values)) for name, values in document.get("options", [])),
        attributes=tuple(
            AttributeFilter(**{**entry, "values": None if entry["values"] is None else tuple(entry["values"])})
            for entry in document.get("attributes", [])
        ),
        statuses=tuple(ProductStatus(status) for status in document.get("statuses", [])),
        include_hidden=True,
    )


@dataclass
class ProductFile:
    text: str
    products: int
    rows: int


@dataclass
class _Columns:
    options: dict[str, None] = field(default_factory=dict)  # in the order first seen
    attributes: set[str] = field(default_factory=set)
    variant_attributes: set[str] = field(default_factory=set)
    warehouses: set[str] = field(default_factory=set)

    def names(self) -> list[str]:
        return [
            *PRODUCT_COLUMNS,
            *VARIANT_COLUMNS,
            *(OPTION + name for name in self.options),
            *(ATTRIBUTE + slug for slug in sorted(self.attributes)),
            *(VARIANT_ATTRIBUTE + slug for slug in sorted(self.variant_attributes)),
            *(STOCK + code for code in sorted(self.warehouses)),
        ]


async def product_file(spec: ProductFilterInput, file_format: ProductFileFormat) -> ProductFile:
    """The file of every product the filter matches."""
    search = await product_search(Loaders(), spec, None)
    rows: list[dict[str, str]] = []
    columns = _Columns()
    count = 0
    if search is not None:
        categories = dict(await Category.all().values_list("id", "slug"))
        types = dict(await ProductType.all().values_list("id", "slug"))
        warehouses = dict(await Warehouse.all().values_list("id", "code"))
        after = 0
        while ids := await catalogue_listing.product_ids(search, after, PAGE):
            after = ids[-1]
            count += len(ids)
            rows += await _page(ids, columns, categories, types, warehouses)
    names = columns.names()
    filled = [{name: row.get(name, "") for name in names} for row in rows]
    return ProductFile(imports_rows.write(names, filled, file_format), count, len(filled))


async def _page(
    ids: list[int],
    columns: _Columns,
    categories: dict[Any, Any],
    types: dict[Any, Any],
    warehouses: dict[Any, Any],
) -> list[dict[str, str]]:
    products = await Product.filter(id__in=ids).order_by("id")
    variants = await ProductVariant.filter(product_id__in=ids).order_by("product_id", "position", "id")
    variant_ids = [v.id for v in variants]
    options: dict[int, list[VariantOption]] = {}
    stock: dict[int, dict[str, int]] = {}
    if variant_ids:
        for option in await VariantOption.filter(variant_id__in=variant_ids).order_by("position", "id"):
            options.setdefault(option.variant_id, []).append(option)
        for level in await Stock.filter(variant_id__in=variant_ids).order_by("id"):
            stock.setdefault(level.variant_id, {})[warehouses[level.warehouse_id]] = level.quantity
    values: dict[tuple[int, int | None], dict[str, list[str]]] = {}
    for value in await AttributeValue.filter(product_id__in=ids).select_related("attribute").order_by("position", "id"):
        attribute = value.attribute
        owner = values.setdefault((value.product_id, value.variant_id), {})
        owner.setdefault(attribute.slug, []).append(render(getattr(value, COLUMNS[attribute.type])))
    variants_of: dict[int, list[ProductVariant]] = {}
    for variant in variants:
        variants_of.setdefault(variant.product_id, []).append(variant)
    rows: list[dict[str, str]] = []
    for product in products:
        own = {
            HANDLE: product.slug,
            NAME: product.name,
            DESCRIPTION: product.description,
            CATEGORY: categories.get(product.category_id, "") if product.category_id else "",
            STATUS: product.status.value,
            PRODUCT_TYPE: types.get(product.product_type_id, "") if product.product_type_id else "",
        }
        for slug, texts in values.get((product.id, None), {}).items():
            columns.attributes.add(slug)
            own[ATTRIBUTE + slug] = SEPARATOR.join(texts)
        if not variants_of.get(product.id):
            rows.append({**own, SKU: ""})
            continue
        for variant in variants_of[product.id]:
            row = {
                **own,
                SKU: variant.sku,
                VARIANT_NAME: variant.name,
                PRICE: f"{variant.price:.2f}",
                COMPARE_AT_PRICE: "" if variant.compare_at_price is None else f"{variant.compare_at_price:.2f}",
                WEIGHT: str(variant.weight_grams),
            }
            for option in options.get(variant.id, []):
                columns.options.setdefault(option.name, None)
                row[OPTION + option.name] = option.value
            for slug, texts in values.get((product.id, variant.id), {}).items():
                columns.variant_attributes.add(slug)
                row[VARIANT_ATTRIBUTE + slug] = SEPARATOR.join(texts)
            for code, quantity in stock.get(variant.id, {}).items():
                columns.warehouses.add(code)
                row[STOCK + code] = str(quantity)
            rows.append(row)
    return rows
