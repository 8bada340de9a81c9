"""Running hand-written SQL on whichever database is configured (SQLite or PostgreSQL).

Hand-written SQL uses `?` placeholders; asyncpg wants `$1, $2, …`. The statements are ours and
hold no literal `?`, so a plain rewrite is safe.
"""

from __future__ import annotations

from typing import Any

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient


def connection() -> BaseDBAsyncClient:
    return connections.get("default")


def is_postgres(conn: BaseDBAsyncClient | None = None) -> bool:
    return (conn or connection()).capabilities.dialect == "postgres"


def placeholders(sql: str, postgres: bool) -> str:
    if not postgres:
        return sql
    parts = sql.split("?")
    out = [parts[0]]
    for number, part in enumerate(parts[1:], start=1):
        out.append(f"${number}{part}")
    return "".join(out)


async def fetch(sql: str, values: list[Any]) -> list[dict[str, Any]]:
    conn = connection()
    return list(await conn.execute_query_dict(placeholders(sql, is_postgres(conn)), values))
