"""What must hold in the database after any fault: read with plain SQL, not through the gateway.

`opening_stock` is read once the catalogue is seeded (the seed writes stock rows without ledger
rows); `violations` then lists, in words, every way the data disagrees with itself or with what
the clients were told. An empty list is a pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import asyncpg


@dataclass
class ClientView:
    """What the clients were told: cart token -> order number, and carts refused with a user error."""

    orders: dict[str, int] = field(default_factory=dict)
    refused: set[str] = field(default_factory=set)


def _dsn(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


async def connect(url: str) -> asyncpg.Connection:
    return await asyncpg.connect(_dsn(url), timeout=10)


async def opening_stock(url: str) -> dict[int, tuple[int, int]]:
    """Stock id -> (on hand, reserved) before anything the ledger records (after seeding)."""
    conn = await connect(url)
    try:
        rows = await conn.fetch(
            "SELECT s.id, s.quantity - COALESCE(SUM(m.delta), 0) AS quantity,"
            " s.reserved - COALESCE(SUM(m.reserved_delta), 0) AS reserved"
            " FROM stock s LEFT JOIN stock_movement m ON m.stock_id = s.id GROUP BY s.id"
        )
    finally:
        await conn.close()
    return {row["id"]: (row["quantity"], row["reserved"]) for row in rows}


async def violations(url: str, opening: Mapping[int, tuple[int, int]], told: ClientView) -> list[str]:
    conn = await connect(url)
    try:
        return [
            *await _stock_matches_ledger(conn, opening),
            *await _reservations_match_allocations(conn, opening),
            *await _one_order_per_cart(conn),
            *await _order_numbers(conn),
            *await _paid_orders(conn),
            *await _discounts_within_limits(conn),
            *await _clients_were_told_the_truth(conn, told),
        ]
    finally:
        await conn.close()


async def _stock_matches_ledger(conn: asyncpg.Connection, opening: Mapping[int, tuple[int, int]]) -> list[str]:
    rows = await conn.fetch(
        "SELECT s.id, s.quantity, s.reserved, COALESCE(SUM(m.delta), 0) AS delta,"
        " COALESCE(SUM(m.reserved_delta), 0) AS reserved_delta"
        " FROM stock s LEFT JOIN stock_movement m ON m.stock_id = s.id GROUP BY s.id ORDER BY s.id"
    )
    found = []
    for row in rows:
        quantity, reserved = opening.get(row["id"], (0, 0))
        if (row["quantity"], row["reserved"]) != (quantity + row["delta"], reserved + row["reserved_delta"]):
            found.append(
                f"stock {row['id']}: on hand {row['quantity']}, reserved {row['reserved']}; the ledger says "
                f"{quantity + row['delta']} and {reserved + row['reserved_delta']}"
            )
        if not 0 <= row["reserved"] <= row["quantity"]:
            found.append(f"stock {row['id']}: reserved {row['reserved']} of {row['quantity']} on hand")
    return found


async def _reservations_match_allocations(
    conn: asyncpg.Connection, opening: Mapping[int, tuple[int, int]]
) -> list[str]:
    # No drill ships or cancels an order, so every reservation since the opening is an allocation
    # of a placed order, and every order's allocations cover its lines exactly.
    rows = await conn.fetch(
        "SELECT s.id, s.reserved, COALESCE(SUM(a.quantity), 0) AS allocated"
        " FROM stock s LEFT JOIN allocation a ON a.stock_id = s.id GROUP BY s.id"
    )
    found = [
        f"stock {row['id']}: {row['reserved'] - opening.get(row['id'], (0, 0))[1]} reserved since the start, "
        f"{row['allocated']} allocated to orders"
        for row in rows
        if row["reserved"] - opening.get(row["id"], (0, 0))[1] != row["allocated"]
    ]
    rows = await conn.fetch(
        "SELECT o.number, (SELECT COALESCE(SUM(quantity), 0) FROM order_line WHERE order_id = o.id) AS ordered,"
        ' (SELECT COALESCE(SUM(quantity), 0) FROM allocation WHERE order_id = o.id) AS allocated FROM "order" o'
    )
    found += [
        f"order #{row['number']}: {row['ordered']} units ordered, {row['allocated']} allocated"
        for row in rows
        if row["ordered"] == 0 or row["ordered"] != row["allocated"]
    ]
    return found


async def _one_order_per_cart(conn: asyncpg.Connection) -> list[str]:
    rows = await conn.fetch(
        'SELECT cart_id, COUNT(*) AS n FROM "order" WHERE cart_id IS NOT NULL GROUP BY cart_id HAVING COUNT(*) > 1'
    )
    found = [f"cart {row['cart_id']} has {row['n']} orders" for row in rows]
    rows = await conn.fetch(
        'SELECT c.id FROM cart c LEFT JOIN "order" o ON o.cart_id = c.id WHERE c.completed_at IS NOT NULL AND o.id IS NULL'
    )
    found += [f"cart {row['id']} is completed without an order" for row in rows]
    rows = await conn.fetch(
        'SELECT o.number FROM "order" o JOIN cart c ON c.id = o.cart_id WHERE c.completed_at IS NULL'
    )
    found += [f"order #{row['number']}: its cart is not completed" for row in rows]
    rows = await conn.fetch('SELECT number FROM "order" WHERE cart_id IS NULL')
    found += [f"order #{row['number']} has no cart" for row in rows]
    return found


async def _order_numbers(conn: asyncpg.Connection) -> list[str]:
    rows = await conn.fetch('SELECT number, COUNT(*) AS n FROM "order" GROUP BY number HAVING COUNT(*) > 1')
    found = [f"order number {row['number']} is used {row['n']} times" for row in rows]
    # The counter moves inside the checkout transaction: numbers run on without gaps.
    row = await conn.fetchrow('SELECT COUNT(*) AS n, MAX(number) AS last FROM "order"')
    counter = await conn.fetchval("SELECT last_number FROM order_counter WHERE id = 1")
    if row["n"] and row["last"] != counter:
        found.append(f"the last order is #{row['last']}, the counter says #{counter}")
    if row["n"] and counter - row["n"] != 1000:
        found.append(f"{row['n']} orders numbered up to #{counter}: numbers were skipped")
    return found


async def _paid_orders(conn: asyncpg.Connection) -> list[str]:
    # "No payment without an order" as far as the database can tell: every test-card order is
    # paid and carries its own charge. Charges that ended without an order are known only to the
    # provider (the test-card ledger lives in each worker's memory), which a drill cannot read.
    rows = await conn.fetch(
        "SELECT number, status, paid_at, payment_reference FROM \"order\" WHERE payment_provider = 'test-card'"
    )
    found = [
        f"order #{row['number']} paid by test card is {row['status']} (paid at {row['paid_at']}, reference {row['payment_reference']!r})"
        for row in rows
        if row["status"] != "PAID" or row["paid_at"] is None or not row["payment_reference"]
    ]
    references = [row["payment_reference"] for row in rows if row["payment_reference"]]
    if len(set(references)) != len(references):
        found.append("two orders carry the same payment reference")
    return found


async def _discounts_within_limits(conn: asyncpg.Connection) -> list[str]:
    rows = await conn.fetch(
        "SELECT d.code, d.used_count, d.usage_limit, COUNT(o.id) AS used FROM discount_code d"
        ' LEFT JOIN "order" o ON o.discount_code = d.code GROUP BY d.id ORDER BY d.code'
    )
    found = [
        f"discount {row['code']}: used_count {row['used_count']}, {row['used']} orders carry it"
        for row in rows
        if row["used_count"] != row["used"]
    ]
    found += [
        f"discount {row['code']}: {row['used']} orders for a usage limit of {row['usage_limit']}"
        for row in rows
        if row["usage_limit"] is not None and row["used"] > row["usage_limit"]
    ]
    return found


async def _clients_were_told_the_truth(conn: asyncpg.Connection, told: ClientView) -> list[str]:
    rows = await conn.fetch('SELECT c.token, o.number FROM cart c LEFT JOIN "order" o ON o.cart_id = c.id')
    placed = {row["token"]: row["number"] for row in rows}
    found = [
        f"a client was told order #{number} for cart {token[:8]}…, the database has {placed.get(token)}"
        for token, number in told.orders.items()
        if placed.get(token) != number
    ]
    found += [
        f"cart {token[:8]}… was refused, yet has order #{placed[token]}" for token in told.refused if placed.get(token)
    ]
    return found
