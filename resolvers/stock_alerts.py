"""Low-stock alerts: a STOCK_LOW event once each time a variant's available stock falls to its
threshold, found by a periodic job (gateway/jobs.py) rather than by every path that moves stock.

Stock moves in many places (staff adjustments, checkouts reserving it, cancellations releasing it,
shipments taking it away), and the threshold itself can change; what matters is where the level
stands against it, so `check` compares them for every variant that has a threshold: available
(on hand minus reserved, summed over warehouses) at or below it and not yet alerted, it records a
`stock_low` change (with the per-warehouse levels) and marks the variant in the same outbox
transaction; back above it, the mark is cleared, so the next fall alerts again. A changed threshold
clears the mark too (resolvers/catalogue_admin.py): staff hear at the next check where the stock
stands against the new one.

Two workers checking at once alert each variant once: the mark is claimed under a row lock that
re-reads it (`SELECT … FOR UPDATE`), after which the other finds it set. The job runs alone anyway
(its Procrastinate lock); SQLite serializes its transactions.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from models import ProductVariant, Stock
from models.changes import STOCK_LOW, Change
from models.sql import fetch
from resolvers import outbox

__all__ = ["BATCH", "check"]

BATCH = 500  # variants one transaction alerts or clears; `check` goes on until none is left

# Variants with a threshold (the partial index of migration 0017) whose mark disagrees with their
# level: low and not alerted, or alerted and back above. The level is a correlated sum per variant,
# which walks stock's (variant_id, warehouse_id) index (see loaders/catalogue.py `_AVAILABILITY`).
_CROSSED = """
SELECT id, sku, product_id, threshold, alerted, available FROM (
  SELECT t.id, t.sku, t.product_id, t.low_stock_threshold AS threshold,
         CASE WHEN t.low_stock_alerted_at IS NULL THEN 0 ELSE 1 END AS alerted,
         (SELECT COALESCE(SUM(s.quantity - s.reserved), 0) FROM stock s WHERE s.variant_id = t.id) AS available
  FROM product_variant t
  WHERE t.low_stock_threshold IS NOT NULL AND t.id > ?
) levels
WHERE (alerted = 0 AND available <= threshold) OR (alerted = 1 AND available > threshold)
ORDER BY id
LIMIT ?
"""


async def check(batch: int = BATCH) -> list[int]:
    """Alert the variants whose stock fell to their threshold since they were last above it, and
    re-arm those back above it; the ids of the variants alerted, in id order."""
    alerted: list[int] = []
    after = 0
    while True:
        crossed = await fetch(_CROSSED, [after, batch])
        if not crossed:
            return alerted
        after = int(crossed[-1]["id"])
        async with outbox.transaction() as connection:
            low = [int(row["id"]) for row in crossed if not row["alerted"]]
            back = [int(row["id"]) for row in crossed if row["alerted"]]
            if back:
                await ProductVariant.filter(id__in=back).using_db(connection).update(low_stock_alerted_at=None)
            if low:
                alerted += await _alert(low, connection)
        if len(crossed) < batch:
            return alerted


async def _alert(candidates: list[int], connection: BaseDBAsyncClient) -> list[int]:
    # The claim: rows locked in id order (no deadlock between two checks), the mark re-read under
    # the lock, so a variant another check has just alerted is not alerted twice.
    variants = (
        await ProductVariant.filter(id__in=candidates, low_stock_alerted_at=None, low_stock_threshold__not_isnull=True)
        .order_by("id")
        .select_for_update()
        .using_db(connection)
        .only("id", "sku", "product_id", "low_stock_threshold")
    )
    levels: dict[int, list[dict[str, Any]]] = {}
    for stock in (
        await Stock.filter(variant_id__in=[v.id for v in variants])
        .select_related("warehouse")
        .using_db(connection)
        .order_by("warehouse__code")
    ):
        levels.setdefault(stock.variant_id, []).append(
            {
                "warehouse": stock.warehouse.code,
                "quantity": stock.quantity,
                "reserved": stock.reserved,
                "available": stock.quantity - stock.reserved,
            }
        )
    low = []
    for variant in variants:
        warehouses = levels.get(variant.id, [])
        available = sum(level["available"] for level in warehouses)
        threshold = variant.low_stock_threshold
        if threshold is None or available > threshold:
            continue  # restocked since it was found low: nothing to say
        low.append(variant.id)
        outbox.record(
            Change(
                STOCK_LOW,
                {
                    "id": variant.id,
                    "row": {
                        "variant_id": variant.id,
                        "sku": variant.sku,
                        "product_id": variant.product_id,
                        "threshold": threshold,
                        "available": available,
                        "warehouses": warehouses,
                    },
                },
            )
        )
    if low:
        await ProductVariant.filter(id__in=low).using_db(connection).update(low_stock_alerted_at=datetime.now(UTC))
    return low
