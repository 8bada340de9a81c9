"""Stock decisions for staff: warehouses, setting and adjusting stock, the movement ledger.

Each change and its ledger row are written in one transaction. `stockAdjust` is one conditional
UPDATE, so two adjustments racing can never take on-hand stock below what is reserved; the
database's CHECK constraints are the last line behind it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q

from models import Account, ProductVariant, Stock, StockMovement, Warehouse
from models.inventory import REASON_LENGTH, WAREHOUSE_CODE_LENGTH, WAREHOUSE_NAME_LENGTH
from models.sql import connection, is_postgres, placeholders
from resolvers import catalogue_changes as changes
from resolvers import outbox
from resolvers.errors import BadInput, DomainError, ErrorCode, text_code
from resolvers.pagination import Page, make_page, newest_first, page_request

_WAREHOUSE_CODE = re.compile(rf"^[a-z0-9][a-z0-9-]{{0,{WAREHOUSE_CODE_LENGTH - 1}}}$")
MAX_STOCK = 1_000_000_000


@dataclass(frozen=True)
class StockLevel:
    stock: Stock
    warehouse: Warehouse


async def create_warehouse(code: str, name: str) -> Warehouse:
    code = code.strip().lower()
    if not _WAREHOUSE_CODE.match(code):
        raise DomainError(
            text_code(code, WAREHOUSE_CODE_LENGTH),
            f"A warehouse code is 1–{WAREHOUSE_CODE_LENGTH} lowercase letters, digits or dashes.",
            ["code"],
        )
    name = _warehouse_name(name)
    if await Warehouse.filter(code=code).exists():
        raise DomainError(ErrorCode.DUPLICATE, f"A warehouse with code {code!r} exists.", ["code"])
    try:
        return await Warehouse.create(code=code, name=name)
    except IntegrityError:
        raise DomainError(ErrorCode.DUPLICATE, f"A warehouse with code {code!r} exists.", ["code"]) from None


def _warehouse_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > WAREHOUSE_NAME_LENGTH:
        raise DomainError(
            text_code(name, WAREHOUSE_NAME_LENGTH),
            f"A warehouse needs a name of at most {WAREHOUSE_NAME_LENGTH} characters.",
            ["name"],
        )
    return name


async def update_warehouse(warehouse_id: int, name: str | None) -> Warehouse:
    """Rename a warehouse. Its code stays: the stock mutations, imports and other systems name the
    warehouse by it, and a changed code would silently point them nowhere (or at another)."""
    warehouse = await Warehouse.get_or_none(id=warehouse_id)
    if warehouse is None:
        raise DomainError(ErrorCode.NOT_FOUND, "No warehouse has this ID.", ["id"])
    if name is not None:
        warehouse.name = _warehouse_name(name)
        await warehouse.save(update_fields=["name"])
    return warehouse


async def _targets(variant_id: int, warehouse_code: str) -> tuple[ProductVariant, Warehouse]:
    variant = await ProductVariant.get_or_none(id=variant_id)
    if variant is None:
        raise DomainError(ErrorCode.NOT_FOUND, "No variant has this ID.", ["variantId"])
    warehouse = await Warehouse.get_or_none(code=warehouse_code.strip().lower())
    if warehouse is None:
        raise DomainError(ErrorCode.NOT_FOUND, f"No warehouse has the code {warehouse_code!r}.", ["warehouse"])
    return variant, warehouse


async def set_stock(variant_id: int, warehouse_code: str, quantity: int, actor: Account | None) -> StockLevel:
    if not 0 <= quantity <= MAX_STOCK:
        raise DomainError(ErrorCode.INVALID_QUANTITY, f"The quantity must be between 0 and {MAX_STOCK}.", ["quantity"])
    variant, warehouse = await _targets(variant_id, warehouse_code)
    async with outbox.transaction():
        stock = await Stock.filter(variant_id=variant.id, warehouse_id=warehouse.id).select_for_update().first()
        if stock is None:
            stock = await Stock.create(variant_id=variant.id, warehouse_id=warehouse.id, quantity=0, reserved=0)
        if quantity < stock.reserved:
            raise DomainError(
                ErrorCode.INVALID_QUANTITY,
                f"{stock.reserved} units are reserved for orders; the quantity cannot go below that.",
                ["quantity"],
            )
        delta = quantity - stock.quantity
        await Stock.filter(id=stock.id).update(quantity=quantity)
        _stale(variant, stock.quantity - stock.reserved, quantity - stock.reserved)
        stock.quantity = quantity
        await _record(stock, "SET", delta, "stock set", actor)
    return StockLevel(stock, warehouse)


async def adjust_stock(
    variant_id: int, warehouse_code: str, delta: int, reason: str, actor: Account | None
) -> StockLevel:
    reason = reason.strip()
    if not reason or len(reason) > REASON_LENGTH:
        raise DomainError(
            text_code(reason, REASON_LENGTH),
            f"Say why the stock changes (at most {REASON_LENGTH} characters).",
            ["reason"],
        )
    if delta == 0 or abs(delta) > MAX_STOCK:
        raise DomainError(
            ErrorCode.INVALID_QUANTITY, f"The change must be non-zero and at most {MAX_STOCK} either way.", ["delta"]
        )
    variant, warehouse = await _targets(variant_id, warehouse_code)
    async with outbox.transaction():
        if delta > 0:
            await Stock.get_or_create(
                variant_id=variant.id, warehouse_id=warehouse.id, defaults={"quantity": 0, "reserved": 0}
            )
        # One conditional statement: it applies only if on hand stays at or above reserved, and
        # within MAX_STOCK (past the integer column, PostgreSQL would refuse the statement itself).
        changed = await Stock.filter(
            variant_id=variant.id,
            warehouse_id=warehouse.id,
            quantity__gte=F("reserved") - delta,
            quantity__lte=MAX_STOCK - delta,
        ).update(quantity=F("quantity") + delta)
        stock = await Stock.get_or_none(variant_id=variant.id, warehouse_id=warehouse.id)
        if not changed and stock is not None and stock.quantity + delta > MAX_STOCK:
            raise DomainError(
                ErrorCode.INVALID_QUANTITY,
                f"{stock.quantity} units are on hand; at most {MAX_STOCK} may be.",
                ["delta"],
            )
        if not changed or stock is None:
            available = 0 if stock is None else stock.quantity - stock.reserved
            raise DomainError(
                ErrorCode.INSUFFICIENT_STOCK, f"Only {available} unreserved units are on hand to remove.", ["delta"]
            )
        _stale(variant, stock.quantity - delta - stock.reserved, stock.quantity - stock.reserved)
        await _record(stock, "ADJUSTMENT", delta, reason, actor)
    return StockLevel(stock, warehouse)


def _stale(variant: ProductVariant, available_before: int, available_after: int) -> None:
    """Cached responses showing this variant's availability are stale (if it changed)."""
    if available_before == available_after:
        return
    tags = [changes.product(variant.product_id)]
    if changes.availability_flipped(available_before, available_after):
        tags.append(changes.PRODUCTS)
    changes.record(tags)


def stock_deltas(moves: Iterable[tuple[int, int, int]]) -> dict[int, tuple[int, int]]:
    """(stock id, on-hand delta, reserved delta) moves summed per stock row, as `shift_stock` takes them."""
    deltas: dict[int, tuple[int, int]] = {}
    for stock_id, on_hand, reserved in moves:
        before = deltas.get(stock_id, (0, 0))
        deltas[stock_id] = (before[0] + on_hand, before[1] + reserved)
    return deltas


async def shift_stock(deltas: dict[int, tuple[int, int]]) -> None:
    """Add (on-hand delta, reserved delta) to each stock row, by id, in one UPDATE.

    The statement count stays the same whatever the number of rows (checkout's SQL budget). The
    caller holds the rows' locks; the CHECK constraints refuse any result below zero or with more
    reserved than on hand. Reservations, releases and sales all come through here, so this is
    where the stock they move is tagged stale for the response cache: the same statement returns
    each row's variant, product and new levels (RETURNING), costing no extra round trip. A sale
    (on hand and reserved down alike) leaves availability as it was and evicts nothing.
    """
    if not deltas:
        return
    assignments: list[str] = []
    params: list[int] = []
    for column, position in (("quantity", 0), ("reserved", 1)):
        pairs = [(stock_id, delta[position]) for stock_id, delta in deltas.items() if delta[position]]
        if pairs:
            cases = " ".join("WHEN ? THEN ?" for _ in pairs)
            assignments.append(f'"{column}" = "{column}" + CASE "id" {cases} ELSE 0 END')
            params += [value for pair in pairs for value in pair]
    if not assignments:
        return
    ids = list(deltas)
    sql = f'UPDATE "stock" SET {", ".join(assignments)} WHERE "id" IN ({", ".join("?" * len(ids))})'
    conn = connection()
    availability = {stock_id: delta[0] - delta[1] for stock_id, delta in deltas.items()}
    if not any(availability.values()):
        await conn.execute_query(placeholders(sql, is_postgres(conn)), params + ids)
        return
    sql += (
        ' RETURNING "id", "quantity" - "reserved" AS "available",'
        ' (SELECT "product_id" FROM "product_variant" WHERE "product_variant"."id" = "stock"."variant_id") AS "product_id"'
    )
    tags: set[str] = set()
    for row in await conn.execute_query_dict(placeholders(sql, is_postgres(conn)), params + ids):
        moved = availability[row["id"]]
        if moved:
            tags.add(changes.product(row["product_id"]))
            if changes.availability_flipped(row["available"] - moved, row["available"]):
                tags.add(changes.PRODUCTS)
    changes.record(tags)


async def _record(stock: Stock, kind: str, delta: int, reason: str, actor: Account | None) -> None:
    await StockMovement.create(
        stock_id=stock.id,
        variant_id=stock.variant_id,
        kind=kind,
        delta=delta,
        quantity_after=stock.quantity,
        reason=reason,
        actor=actor.email if actor else "",
    )


async def movements(variant_id: int, first: int | None, after: str | None) -> Page:
    """The variant's ledger, newest first."""
    return await newest_first(StockMovement.filter(variant_id=variant_id), "movements", first, after)


async def low_stock(threshold: int, first: int | None, after: str | None) -> Page:
    """Stock rows whose unreserved quantity is at or below `threshold`, scarcest first."""
    if not 0 <= threshold <= MAX_STOCK:
        raise BadInput(f"`threshold` must be between 0 and {MAX_STOCK}.", "threshold")
    request = page_request(first, after, None, None, "low-stock", 2)
    queryset = Stock.annotate(available=F("quantity") - F("reserved")).filter(available__lte=threshold)
    if request.cursor is not None:
        available, last_id = request.cursor
        if not isinstance(available, int) or not isinstance(last_id, int):
            raise BadInput("`after` is not a valid cursor.", "after")
        queryset = queryset.filter(Q(available__gt=available) | Q(available=available, id__gt=last_id))
    rows = list(await queryset.order_by("available", "id").limit(request.size + 1))
    return make_page(request, rows, [(s.quantity - s.reserved, s.id) for s in rows])  # `available`, as annotated


async def warehouses() -> list[Warehouse]:
    """Every warehouse, by code."""
    return list(await Warehouse.all().order_by("code"))
