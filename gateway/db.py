"""Tortoise configuration and migrations."""

from __future__ import annotations

from typing import Any

from tortoise import Tortoise
from tortoise.backends.base.config_generator import expand_db_url

MODEL_MODULES = ["models.catalogue", "models.inventory", "models.accounts", "models.checkout", "models.cart", "models.orders", "models.shipments", "models.payments"]
APP_LABEL = "models"


async def _keep_session(connection: Any) -> None:
    """Pool release hook: nothing to undo.

    asyncpg's default sends `pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL` on
    every release: a round trip per statement, measured at about a third of each statement's
    CPU cost on the listing. The gateway never takes advisory locks, opens cursors, LISTENs or
    SETs session state (asyncpg still rolls back an open transaction before this hook runs).
    """


def _connection(database_url: str) -> str | dict[str, Any]:
    if not database_url.startswith("postgres://"):
        return database_url
    config = expand_db_url(database_url)
    config["credentials"]["reset"] = _keep_session
    return config


def tortoise_config(database_url: str) -> dict[str, Any]:
    """The one Tortoise config used by the app, the CLI, the migration check and the tests."""
    return {
        "connections": {"default": _connection(database_url)},
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
        # aiosqlite's worker thread keeps the process alive until its connection is closed, and
        # the models stay bound to this database's dialect until the registry is reset.
        await close()


def _ensure_sqlite_directory(database_url: str) -> None:
    if database_url.startswith("sqlite://"):
        from pathlib import Path

        path = database_url.removeprefix("sqlite://").split("?", 1)[0]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)


async def close() -> None:
    await Tortoise.close_connections()
    await Tortoise._reset_apps()


async def make_migrations() -> list[str]:
    """Write a migration for every model change not yet covered (a developer tool; see README)."""
    from tortoise.migrations.autodetector import MigrationAutodetector

    config = tortoise_config("sqlite://:memory:")
    await Tortoise.init(config=config, init_connections=False)
    try:
        return await MigrationAutodetector(Tortoise.apps, config["apps"]).write()
    finally:
        await close()
