"""Typed, frozen rows for what a listing reads by the hundred: products, variants and images.

A listing reads fifty products and hundreds of variants and images per request. Copying each into a
Tortoise model cost more than the statements (measured: ~4% more listing requests per second
without), so these are read as rows: a NamedTuple per kind, the same shape on PostgreSQL and SQLite.
On PostgreSQL the driver already returns Python values of the right types and a row is the record's
values taken as they are; SQLite returns text for decimals and datetimes, which go through the
model's own field conversions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Any, NamedTuple, TypeVar

from tortoise.fields.data import CharEnumFieldInstance
from tortoise.models import Model

from models.catalogue import Product, ProductImage, ProductStatus, ProductVariant
from models.meta import fields_of


class ProductRow(NamedTuple):
    id: int
    name: str
    slug: str
    description: str
    status: ProductStatus
    category_id: int | None
    created_at: datetime
    updated_at: datetime
    seo_title: str | None
    seo_description: str | None


class VariantRow(NamedTuple):
    id: int
    product_id: int
    sku: str
    name: str
    price: Decimal
    compare_at_price: Decimal | None
    weight_grams: int
    quantity_available: int  # on hand minus reserved over all warehouses, computed by the statement


class ImageRow(NamedTuple):
    id: int
    product_id: int
    url: str
    alt_text: str
    storage_key: str | None  # an uploaded image's place in the media storage; None for a linked one
    width: int | None  # an uploaded image's width in pixels


R = TypeVar("R", ProductRow, VariantRow, ImageRow)
_MODELS: dict[type[Any], type[Model]] = {ProductRow: Product, VariantRow: ProductVariant, ImageRow: ProductImage}
Convert = Callable[[Any], Any]


def columns(row: type[R], alias: str, computed: Mapping[str, str] | None = None) -> str:
    """The select list of `row`'s columns, in its field order; `computed` gives the SQL of the
    fields that are no table column (`quantity_available`)."""
    computed = computed or {}
    return ", ".join(f"{computed[name]} AS {name}" if name in computed else f"{alias}.{name}" for name in row._fields)


class _Reader:
    """How one kind of row is made from the driver's rows: the field conversions each database needs."""

    def __init__(self, row: type[R]) -> None:
        fields = fields_of(_MODELS[row])  # Tortoise's field objects, for their conversions
        # What `row._make` does, without its per-row length check: the statement selected the
        # row's columns (measured: ~30% less CPU per row than `_make`).
        self.make: Callable[[Any], Any] = partial(tuple.__new__, row)
        # PostgreSQL: only what asyncpg cannot know (a varchar holding an enum's value).
        self.postgres = [
            (i, fields[n].to_python_value)
            for i, n in enumerate(row._fields)
            if isinstance(fields.get(n), CharEnumFieldInstance)
        ]
        # SQLite: every column the model converts; computed columns come as SQLite computed them.
        self.sqlite: list[Convert | None] = [fields[n].to_python_value if n in fields else None for n in row._fields]
        self.names: tuple[str, ...] = row._fields

    def read(self, rows: Sequence[Any], postgres: bool) -> list[Any]:
        make = self.make
        width = len(self.names)
        if postgres:  # asyncpg records, whose first values are the row's (extra columns may follow)
            if not self.postgres:
                if rows and len(rows[0]) == width:
                    return list(map(make, rows))
                return [make(record[:width]) for record in rows]
            made = []
            for record in rows:
                values = list(record[:width])
                for index, convert in self.postgres:
                    values[index] = convert(values[index])
                made.append(make(values))
            return made
        pairs = list(zip(self.names, self.sqlite, strict=True))
        return [make([row[n] if c is None else c(row[n]) for n, c in pairs]) for row in rows]


_readers: dict[type[Any], _Reader] = {}


def read(row: type[R], rows: Sequence[Any], postgres: bool) -> list[R]:
    """`row`s from the driver's rows of a statement that selected `columns(row, …)` first."""
    reader = _readers.get(row)
    if reader is None:
        reader = _readers[row] = _Reader(row)
    return reader.read(rows, postgres)


def product_row(product: Product) -> ProductRow:
    """The row of a product model (one staff code has just written)."""
    return ProductRow(
        id=product.id,
        name=product.name,
        slug=product.slug,
        description=product.description,
        status=product.status,
        category_id=product.category_id,
        created_at=product.created_at,
        updated_at=product.updated_at,
        seo_title=product.seo_title,
        seo_description=product.seo_description,
    )


def image_row(image: ProductImage) -> ImageRow:
    """The row of an image model (one staff code has just written)."""
    return ImageRow(
        id=image.id,
        product_id=image.product_id,
        url=image.url,
        alt_text=image.alt_text,
        storage_key=image.storage_key,
        width=image.width,
    )
