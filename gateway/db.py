"""Tortoise configuration and migrations."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from tortoise import Tortoise
from tortoise.backends.base.config_generator import expand_db_url

from gateway import postgres_url
from resolvers.catalogue_listing import WORD_SIMILARITY_THRESHOLD
from resolvers.errors import DatabaseUnavailable, GraphQLErrorCode, database_fault

MODEL_MODULES = [
    "models.catalogue",
    "models.attributes",
    "models.inventory",
    "models.accounts",
    "models.accounts_export",
    "models.checkout",
    "models.cart",
    "models.orders",
    "models.shipments",
    "models.payments",
    "models.refunds",
    "models.returns",
    "models.outbox",
    "models.emails",
    "models.webhooks_out",
    "models.audit",
    "models.imports",
    "models.media",
]
APP_LABEL = "models"
# Seconds to open a connection: a server that does not answer (a host that drops packets) costs a
# request this much before it is answered 503, not asyncpg's default of a minute. A URL's
# `connect_timeout` replaces it.
CONNECT_TIMEOUT = 5.0


async def _keep_session(connection: asyncpg.Connection) -> None:
    """Pool release hook: nothing to undo.

    asyncpg's default sends `pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL` on
    every release: a round trip per statement, measured at about a third of each statement's
    CPU cost on the listing. The gateway never takes advisory locks, opens cursors, LISTENs or
    SETs session state (asyncpg still rolls back an open transaction before this hook runs).
    """


def _connector(dsn: str | None) -> Callable[..., Awaitable[asyncpg.Connection]]:
    """Pool connect hook: asyncpg.connect, with "cannot reach the server" raised as DatabaseUnavailable.

    Every connection the pool opens (the first, and each one replacing a connection that died) is
    opened here, so an outage is recognised where it happens whichever query needed it: refused,
    unreachable, timed out (all OSError), or refused by the server itself (starting up, shutting
    down, too many connections). Wrong credentials or a missing database stay what they are.
    `dsn` carries the URL's TLS parameters (gateway/postgres_url.py); the pool's keyword arguments
    (host, user, database) take precedence over anything else in it.
    """

    async def connect(pool_dsn: str | None = None, **kwargs: Any) -> asyncpg.Connection:
        try:
            return await asyncpg.connect(pool_dsn or dsn, **kwargs)
        except OSError as error:
            raise DatabaseUnavailable(f"cannot connect to PostgreSQL: {type(error).__name__}") from error
        except asyncpg.PostgresError as error:
            if database_fault(error) == GraphQLErrorCode.SERVICE_UNAVAILABLE:
                raise DatabaseUnavailable(f"PostgreSQL refused the connection: {type(error).__name__}") from error
            raise

    return connect


def _connection(database_url: str, statement_timeout: float) -> str | dict[str, Any]:
    if not database_url.startswith("postgres://"):
        # SQLite: one connection per process serialises statements; there is nothing to time out.
        return database_url
    base, _, query = database_url.partition("?")
    found = postgres_url.parameters(query)  # checked by the settings already: this only reads them
    config = expand_db_url(base)
    config["credentials"]["reset"] = _keep_session
    config["credentials"]["connect"] = _connector(postgres_url.tls_dsn(found))
    config["credentials"]["timeout"] = float(found.get("connect_timeout", CONNECT_TIMEOUT))
    if "application_name" in found:
        config["credentials"]["application_name"] = found["application_name"]
    # Session defaults sent when each connection opens, so they cost no statement. How close a typo'd
    # search must come to a product name (pg_trgm's `<%`, index-backed; resolvers/catalogue_listing.py):
    # the extension's 0.6 missed one-letter slips in short words ("aurra", "sweter").
    server_settings = {
        "pg_trgm.word_similarity_threshold": str(WORD_SIMILARITY_THRESHOLD),
        # Every execution is planned for its own values, as a driver without prepared statements
        # has it. asyncpg prepares and caches each statement, and after five executions PostgreSQL
        # may switch to a generic plan made without the values: for a search, whose words match
        # one product or 14,000, that plan scanned the catalogue (a typo'd search at 200,000
        # products: 15 ms, then 426 ms from the sixth time on). Re-planning cost nothing measurable
        # on the listing benchmark (a/b 0.755 against 0.730 without, same machine, same hour).
        "plan_cache_mode": "force_custom_plan",
    }
    if statement_timeout:
        # The server cancels whatever runs longer (SQLSTATE 57014, answered as TIMEOUT).
        server_settings["statement_timeout"] = str(round(statement_timeout * 1000))
    config["credentials"]["server_settings"] = server_settings
    return config


def tortoise_config(database_url: str, statement_timeout: float = 0) -> dict[str, Any]:
    """The one Tortoise config used by the app, the CLI, the migration check and the tests.

    `statement_timeout` (seconds, 0: none) is what the served app passes from
    DATABASE_STATEMENT_TIMEOUT; migrations and the CLI commands run without one, since building an
    index or seeding a large catalogue may rightly take minutes.
    """
    return {
        "connections": {"default": _connection(database_url, statement_timeout)},
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
        await close()


def _ensure_sqlite_directory(database_url: str) -> None:
    if database_url.startswith("sqlite://"):
        from pathlib import Path

        path = database_url.removeprefix("sqlite://").split("?", 1)[0]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)


async def close() -> None:
    """Close every connection Tortoise holds (it needs no more: the next `Tortoise.init` binds the
    models to the database it connects, whichever dialect that is)."""
    await Tortoise.close_connections()


async def make_migrations() -> list[str]:
    """Write a migration for every model change not yet covered (a developer tool; see README)."""
    from tortoise.migrations.autodetector import MigrationAutodetector

    config = tortoise_config("sqlite://:memory:")
    await Tortoise.init(config=config, init_connections=False)
    try:
        return await MigrationAutodetector(Tortoise.apps, config["apps"]).write()
    finally:
        await close()
