"""Product events: a product created, changed or deleted by staff, announced with the product as
committed, for outbox consumers outside the gateway (outgoing webhooks: PRODUCT_CREATED,
PRODUCT_UPDATED, PRODUCT_DELETED).

Staff code `record()`s which product changed and how, inside its outbox transaction; the product's
state is read just before the commit (`outbox.complete_with`), once for every product the
transaction changed, in a fixed number of statements whatever their number or their variants'
(the product with its category, its variants, their options, its images, the attribute values of
both). A deleted product cannot
be read then: its deletion is recorded with the state read just before it (`deleted`).

Stock is not part of a product event: stock moves with every checkout, and a webhook per sale
would drown the product's real changes; a variant's stock falling low is a STOCK_LOW event
(resolvers/stock_alerts.py). Cached responses are invalidated by their tags, recorded beside
(resolvers/catalogue_changes.py): those go to every web process, these to the outbox consumers only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from decimal import Decimal
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from models import AttributeValue, Product, ProductImage, ProductVariant, VariantOption
from models.changes import CREATED, DELETED, EVENT, PRODUCT, UPDATED, Change
from models.snapshot import snapshot
from resolvers import outbox
from resolvers.attributes import COLUMNS, render

__all__ = ["created", "deleted", "snapshots", "updated"]

BATCH = 500  # products read per statement when a transaction changed many (an import)
HIDDEN = frozenset({"low_stock_alerted_at"})  # the alert's own bookkeeping, not the variant's state


def created(product_id: int) -> None:
    outbox.record(Change(PRODUCT, {"id": product_id, EVENT: CREATED}))


def updated(product_id: int) -> None:
    """Its own fields, its variants (with their prices and options), its images or its attribute
    values changed."""
    outbox.record(Change(PRODUCT, {"id": product_id, EVENT: UPDATED}))


async def deleted(product_id: int, connection: BaseDBAsyncClient | None = None) -> None:
    """Call before deleting it: its last state is read now, while it can be."""
    rows = await snapshots([product_id], connection)
    if product_id in rows:
        outbox.record(Change(PRODUCT, {"id": product_id, EVENT: DELETED, "row": rows[product_id]}))


async def snapshots(product_ids: Iterable[int], connection: BaseDBAsyncClient | None = None) -> dict[int, Any]:
    """The products that exist among `product_ids` as JSON-ready objects, by id: every column,
    the category, the variants in display order with their options, the images in display order,
    the attribute values of the product and of each variant (staff data included)."""
    wanted = sorted(set(product_ids))
    found: dict[int, Any] = {}
    for start in range(0, len(wanted), BATCH):
        found.update(await _snapshots(wanted[start : start + BATCH], connection))
    return found


async def _snapshots(ids: list[int], connection: BaseDBAsyncClient | None) -> dict[int, Any]:
    products = await Product.filter(id__in=ids).select_related("category").using_db(connection)
    if not products:
        return {}
    variants = await ProductVariant.filter(product_id__in=ids).order_by("position", "id").using_db(connection)
    options = (
        await VariantOption.filter(variant_id__in=[v.id for v in variants])
        .order_by("position", "id")
        .using_db(connection)
        if variants
        else []
    )
    images = await ProductImage.filter(product_id__in=ids).order_by("position", "id").using_db(connection)
    values = (
        await AttributeValue.filter(product_id__in=ids)
        .select_related("attribute")
        .order_by("attribute_id", "position", "id")
        .using_db(connection)
    )
    attributes_of = _attributes(values)
    options_of: dict[int, list[dict[str, str]]] = {}
    for option in options:
        options_of.setdefault(option.variant_id, []).append({"name": option.name, "value": option.value})
    variants_of: dict[int, list[dict[str, Any]]] = {}
    for variant in variants:
        row = {name: value for name, value in snapshot(variant).items() if name not in HIDDEN}
        variants_of.setdefault(variant.product_id, []).append(
            {
                **row,
                "options": options_of.get(variant.id, []),
                "attributes": attributes_of.get((variant.product_id, variant.id), []),
            }
        )
    images_of: dict[int, list[dict[str, Any]]] = {}
    for image in images:
        images_of.setdefault(image.product_id, []).append(snapshot(image))
    found: dict[int, Any] = {}
    for product in products:
        own = variants_of.get(product.id, [])
        prices = [variant["price"] for variant in own]
        category = product.category
        found[product.id] = {
            **snapshot(product),
            "category": None
            if category is None
            else {"id": category.id, "name": category.name, "slug": category.slug, "path": category.path},
            "price_range": None if not own else {"min": min(prices, key=Decimal), "max": max(prices, key=Decimal)},
            "variants": own,
            "images": images_of.get(product.id, []),
            "attributes": attributes_of.get((product.id, None), []),
        }
    return found


def _attributes(values: list[AttributeValue]) -> dict[tuple[int, int | None], list[dict[str, Any]]]:
    """By (product, variant or None for the product's own): each attribute's slug, type and values
    as the API writes them."""
    grouped: dict[tuple[int, int | None], list[dict[str, Any]]] = {}
    for value in values:
        attribute = value.attribute
        entries = grouped.setdefault((value.product_id, value.variant_id), [])
        if not entries or entries[-1]["slug"] != attribute.slug:
            entries.append({"slug": attribute.slug, "type": attribute.type.value, "values": []})
        entries[-1]["values"].append(render(getattr(value, COLUMNS[attribute.type])))
    return grouped


async def _complete(changes: list[Change], connection: BaseDBAsyncClient) -> list[Change]:
    """The outbox's completer: each product's state as this transaction commits it. A deleted
    product came with its last state; one gone by now without a recorded deletion announces nothing."""
    rows = await snapshots([c.payload["id"] for c in changes if "row" not in c.payload], connection)
    completed = []
    for change in changes:
        if "row" in change.payload:
            completed.append(change)
        elif change.payload["id"] in rows:
            completed.append(replace(change, payload={**change.payload, "row": rows[change.payload["id"]]}))
    return completed


outbox.complete_with(PRODUCT, _complete)
