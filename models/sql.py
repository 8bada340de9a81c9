"""Running hand-written SQL on whichever database is configured (SQLite or PostgreSQL).

Hand-written SQL uses `?` placeholders; asyncpg wants `$1, $2, …`. The statements are ours and
hold no literal `?`, so a plain rewrite is safe.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, TypeVar

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.fields import DatetimeField
from tortoise.log import db_client_logger
from tortoise.models import Model

M = TypeVar("M", bound=Model)


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


async def fetch(sql: str, values: list[Any], conn: BaseDBAsyncClient | None = None) -> Sequence[Mapping[str, Any]]:
    """Rows as mappings. On PostgreSQL straight from asyncpg (its records are mappings already):
    Tortoise's copy of every row into a dict cost more than the statement on the listing path.
    The statement is logged like Tortoise logs its own, so statement counters see it.

    `conn`: the caller's `connection()`, when it already has it (looking it up costs ~1.4 µs)."""
    conn = conn or connection()
    if not is_postgres(conn):
        return await conn.execute_query_dict(sql, values)
    sql = placeholders(sql, True)
    db_client_logger.debug("%s: %s", sql, values)
    async with conn.acquire_connection() as driver:
        return await driver.fetch(sql, *values)


class _RowReader:
    """Builds model instances from rows of `SELECT t.*` with less Python than `_init_from_db`.

    asyncpg already returns Python values of the right type, so only the fields Tortoise converts
    on every read (enums, datetimes) go through their converter; the rest is one dict update.
    SQLite returns text for decimals and datetimes and keeps Tortoise's own path.
    """

    def __init__(self, model: type[Model]) -> None:
        meta = model._meta
        self.model = model
        self.renamed = {column: attr for column, attr in meta.fields_db_projection_reverse.items() if column != attr}
        # asyncpg returns timestamptz as aware UTC datetimes, which is what Tortoise's conversion
        # (to the configured zone, UTC) would make of them: skipping it halves the cost of a row.
        self.converted = [
            (attr, field.to_python_value)
            for _, attr, field in meta.db_complex_fields
            if not isinstance(field, DatetimeField)
        ]
        self.custom_pk = meta.db_pk_column not in meta.generated_db_fields

    def read(self, rows: Sequence[Mapping[str, Any]], postgres: bool) -> list[Any]:
        model = self.model
        if not postgres:
            return [model._init_from_db(**row) for row in rows]
        if not rows:
            return []
        # Every row of one statement has the same columns: name them once, then zip each row's
        # values (iterating a Record yields them) rather than build an (name, value) pair per column.
        names = tuple(self.renamed.get(column, column) for column in rows[0].keys())  # noqa: SIM118 (a Record iterates values)
        converted = self.converted
        custom_pk = self.custom_pk
        instances = []
        new = model.__new__
        for row in rows:
            instance = new(model)
            state = instance.__dict__
            state.update(zip(names, row, strict=True))  # computed columns ride along as attributes
            for attr, convert in converted:
                state[attr] = convert(state[attr])
            state["_partial"] = False
            state["_saved_in_db"] = True
            state["_custom_generated_pk"] = custom_pk
            state["_await_when_save"] = {}
            instances.append(instance)
        return instances


_readers: dict[type[Model], _RowReader] = {}


def models_from_rows(model: type[M], rows: Sequence[Mapping[str, Any]], postgres: bool | None = None) -> list[M]:
    """`postgres`: whether `rows` came from PostgreSQL, when the caller knows (else looked up)."""
    reader = _readers.get(model)
    if reader is None:
        reader = _readers[model] = _RowReader(model)
    return reader.read(rows, is_postgres() if postgres is None else postgres)


class Row(Protocol):
    """A row read by column name: an asyncpg record, or a model instance that mixes in `ReadByKey`."""

    def __getitem__(self, column: str) -> Any: ...


class ReadByKey:
    """Lets a model instance be read like a driver's row, `variant["price"]`.

    The listing reads fifty products and hundreds of variants and images per request: on
    PostgreSQL the page statement and the loaders hand over asyncpg's records as they are, without
    building a model per row (measured: ~4% more listing requests per second). Code that reads these
    rows therefore reads by key; a model instance (from SQLite, a lookup by id, or freshly written
    by staff) is read the same way through this.
    """

    __slots__ = ()

    def __getitem__(self, column: str) -> Any:
        try:
            return getattr(self, column)
        except AttributeError:
            raise KeyError(column) from None


def _in_statement(
    model: type[Model], column: str, keys: list[Any], order_by: str, extra: dict[str, str] | None, postgres: bool
) -> tuple[str, list[Any]]:
    computed = "".join(f", {expression} AS {name}" for name, expression in (extra or {}).items())
    if postgres:
        # One array parameter: the same statement text for every batch size, so asyncpg's
        # prepared-statement cache and PostgreSQL's plan cache both hit.
        condition, values = f"t.{column} = ANY(?)", [list(keys)]
    else:
        condition, values = f"t.{column} IN ({', '.join('?' * len(keys))})", list(keys)
    return f'SELECT t.*{computed} FROM "{model._meta.db_table}" t WHERE {condition} ORDER BY {order_by}', values


async def select_in(
    model: type[M],
    column: str,
    keys: list[Any],
    *,
    order_by: str = "t.id",
    extra: dict[str, str] | None = None,
) -> list[M]:
    """`SELECT * FROM <model's table> t WHERE t.<column> IN (keys)` as model instances.

    The dataloaders' one statement per batch. Written out rather than built with a QuerySet:
    building the query costs more Python than running it (measured on the listing's loaders).
    `extra` adds computed columns, set on each instance under their names.
    """
    if not keys:
        return []
    conn = connection()
    postgres = is_postgres(conn)
    sql, values = _in_statement(model, column, keys, order_by, extra, postgres)
    rows = await fetch(sql, values, conn)
    instances = models_from_rows(model, rows, postgres)
    if not postgres:  # the fast path already carried the computed columns over
        for instance, row in zip(instances, rows, strict=True):
            for name in extra or ():
                object.__setattr__(instance, name, row[name])
    return instances


async def rows_in(
    model: type[Model],
    column: str,
    keys: list[Any],
    *,
    order_by: str = "t.id",
    extra: dict[str, str] | None = None,
) -> Sequence[Row]:
    """The same statement as `select_in`, for a model that mixes in `ReadByKey`, as rows.

    On PostgreSQL the driver's records, already of the right Python types; on SQLite, which returns
    text for decimals and datetimes, model instances (Tortoise converts them), read by key alike.
    """
    if not keys:
        return []
    conn = connection()
    if not is_postgres(conn):
        return await select_in(model, column, keys, order_by=order_by, extra=extra)
    sql, values = _in_statement(model, column, keys, order_by, extra, True)
    return await fetch(sql, values, conn)
