"""Catalogue relations. Variants always arrive with `quantity_available` set (stock summed in the
same statement), so availability never costs a statement of its own. Products, variants and images are
typed rows (models/rows.py): a listing reads hundreds of them per request."""

from __future__ import annotations

from operator import attrgetter

from loaders.base import Loader, many_per_key, one_per_key
from models import Category, Product, ProductImage, ProductRelated, ProductVariant, VariantOption
from models.rows import ImageRow, ProductRow, VariantRow
from models.sql import connection, fetch, in_condition, is_postgres, rows_in, select_in

# Variants carry `quantity_available`: on hand minus reserved summed over warehouses. The CHECK
# constraint keeps reserved <= quantity per row, so the sum is never negative; the CASE guards the
# contract anyway, in SQL: clamping in Python went through Tortoise's `__setattr__` for every
# variant (~0.3 ms CPU per 50-product page). An aggregate without GROUP BY yields a row even when
# the variant has no stock rows: SUM is then NULL and the CASE gives 0. A correlated sum per
# variant walks the (variant_id, warehouse_id) index; a join with GROUP BY led PostgreSQL to hash
# the whole stock table (16 ms against 0.8 ms at 60,000 stock rows).
_AVAILABILITY = (
    "(SELECT CASE WHEN SUM(s.quantity - s.reserved) > 0 THEN SUM(s.quantity - s.reserved) ELSE 0 END "
    "FROM stock s WHERE s.variant_id = t.id)"
)


async def variants_where(column: str, keys: list[int]) -> list[VariantRow]:
    """Variants with availability; also for writers that need a fresh, uncached read."""
    return await rows_in(
        VariantRow,
        ProductVariant,
        column,
        keys,
        order_by="t.product_id, t.position, t.id",
        computed={"quantity_available": _AVAILABILITY},
    )


class ProductByIdLoader(Loader[int, ProductRow | None]):
    async def batch_load_fn(self, keys: list[int]) -> list[ProductRow | None]:
        return one_per_key(keys, await rows_in(ProductRow, Product, "id", keys), attrgetter("id"))


class ProductBySlugLoader(Loader[str, ProductRow | None]):
    async def batch_load_fn(self, keys: list[str]) -> list[ProductRow | None]:
        return one_per_key(keys, await rows_in(ProductRow, Product, "slug", keys), attrgetter("slug"))


class VariantByIdLoader(Loader[int, VariantRow | None]):
    async def batch_load_fn(self, keys: list[int]) -> list[VariantRow | None]:
        return one_per_key(keys, await variants_where("id", keys), attrgetter("id"))


class VariantsByProductIdLoader(Loader[int, list[VariantRow]]):
    async def batch_load_fn(self, keys: list[int]) -> list[list[VariantRow]]:
        return many_per_key(keys, await variants_where("product_id", keys), attrgetter("product_id"))


class LowStockThresholdByVariantIdLoader(Loader[int, int | None]):
    """Staff only, and rarely asked for: not worth a column in every listing's variants statement."""

    async def batch_load_fn(self, keys: list[int]) -> list[int | None]:
        found = dict(await ProductVariant.filter(id__in=keys).values_list("id", "low_stock_threshold"))
        return [found.get(key) for key in keys]


class OptionsByVariantIdLoader(Loader[int, list[VariantOption]]):
    async def batch_load_fn(self, keys: list[int]) -> list[list[VariantOption]]:
        rows = await select_in(VariantOption, "variant_id", keys, order_by="t.variant_id, t.position, t.id")
        return many_per_key(keys, rows, lambda o: o.variant_id)


class ImageByIdLoader(Loader[int, ImageRow | None]):
    async def batch_load_fn(self, keys: list[int]) -> list[ImageRow | None]:
        return one_per_key(keys, await rows_in(ImageRow, ProductImage, "id", keys), attrgetter("id"))


class ImagesByProductIdLoader(Loader[int, list[ImageRow]]):
    async def batch_load_fn(self, keys: list[int]) -> list[list[ImageRow]]:
        rows = await rows_in(ImageRow, ProductImage, "product_id", keys, order_by="t.product_id, t.position, t.id")
        return many_per_key(keys, rows, attrgetter("product_id"))


class CategoryByIdLoader(Loader[int, Category | None]):
    async def batch_load_fn(self, keys: list[int]) -> list[Category | None]:
        return one_per_key(keys, await select_in(Category, "id", keys), lambda c: c.id)


class CategoryBySlugLoader(Loader[str, Category | None]):
    async def batch_load_fn(self, keys: list[str]) -> list[Category | None]:
        return one_per_key(keys, await select_in(Category, "slug", keys), lambda c: c.slug)


class CategoriesByParentIdLoader(Loader[int, list[Category]]):
    async def batch_load_fn(self, keys: list[int]) -> list[list[Category]]:
        rows = await select_in(Category, "parent_id", keys, order_by="t.parent_id, t.position, t.id")
        return many_per_key(keys, rows, lambda c: c.parent_id)


class RelatedIdsByProductIdLoader(Loader[int, list[int]]):
    """The products staff chose to show beside each product, in their order (any status: the
    caller keeps the active ones, read through `ProductByIdLoader` with the rest)."""

    async def batch_load_fn(self, keys: list[int]) -> list[list[int]]:
        links = await ProductRelated.filter(product_id__in=keys).order_by("product_id", "position", "id")
        return [[link.related_id for link in group] for group in many_per_key(keys, links, attrgetter("product_id"))]


class ActiveIdsByCategoryLoader(Loader[tuple[int, int], list[int]]):
    """Keys (category id, n): the first n active products filed directly under the category, by
    name then id, the storefront listing's default order. One statement per distinct n in a batch
    (a window per category), however many categories: what fills up `Product.related`."""

    async def batch_load_fn(self, keys: list[tuple[int, int]]) -> list[list[int]]:
        wanted: dict[int, set[int]] = {}
        for category_id, count in keys:
            wanted.setdefault(count, set()).add(category_id)
        found: dict[tuple[int, int], list[int]] = {}
        conn = connection()
        postgres = is_postgres(conn)
        for count, category_ids in wanted.items():
            condition, values = in_condition("p.category_id", sorted(category_ids), postgres)
            sql = (
                "SELECT id, category_id FROM (SELECT p.id, p.category_id, ROW_NUMBER() OVER "
                "(PARTITION BY p.category_id ORDER BY p.name, p.id) AS place FROM product p "
                f"WHERE {condition} AND p.status = 'ACTIVE') ranked WHERE place <= {int(count)} "
                "ORDER BY category_id, place"
            )
            for row in await fetch(sql, values, conn):
                found.setdefault((row["category_id"], count), []).append(row["id"])
        return [found.get(key, []) for key in keys]
