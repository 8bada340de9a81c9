"""Tortoise configuration, migrations and the dialect helpers the hand-written SQL needs."""

from __future__ import annotations

from typing import Any

from tortoise import Tortoise, connections
from tortoise.backends.base.client import BaseDBAsyncClient

MODEL_MODULES = ["models.catalogue", "models.inventory"]
APP_LABEL = "models"


def tortoise_config(database_url: str) -> dict[str, Any]:
    """The one Tortoise config used by the app, the CLI, the migration check and the tests."""
    return {
        "connections": {"default": database_url},
        "apps": {
            APP_LABEL: {
                "models": MODEL_MODULES,
                "default_connection": "default",
                "migrations": "migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


async def migrate(database_url: str) -> None:
    """Apply every pending migration (the `migrate` command and the release phase)."""
    from tortoise.migrations.api import migrate as run_migrations

    _ensure_sqlite_directory(database_url)
    try:
        await run_migrations(config=tortoise_config(database_url))
    finally:
        # aiosqlite's worker thread keeps the process alive until its connection is closed.
        await Tortoise.close_connections()


def _ensure_sqlite_directory(database_url: str) -> None:
    if database_url.startswith("sqlite://"):
        from pathlib import Path

        path = database_url.removeprefix("sqlite://").split("?", 1)[0]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)


def connection() -> BaseDBAsyncClient:
    return connections.get("default")


def is_postgres(conn: BaseDBAsyncClient | None = None) -> bool:
    return (conn or connection()).capabilities.dialect == "postgres"


def placeholders(sql: str, conn: BaseDBAsyncClient | None = None) -> str:
    """Hand-written SQL uses `?`; asyncpg wants `$1, $2, …`. The SQL is ours and holds no literal `?`."""
    if not is_postgres(conn):
        return sql
    parts = sql.split("?")
    out = [parts[0]]
    for number, part in enumerate(parts[1:], start=1):
        out.append(f"${number}{part}")
    return "".join(out)


async def fetch(sql: str, values: list[Any]) -> list[dict[str, Any]]:
    conn = connection()
    return list(await conn.execute_query_dict(placeholders(sql, conn), values))


async def close() -> None:
    await Tortoise.close_connections()
