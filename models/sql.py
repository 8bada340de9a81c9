"""Running hand-written SQL on whichever database is configured (SQLite or PostgreSQL).

Hand-written SQL uses `?` placeholders; asyncpg wants `$1, $2, …`. The statements are ours and
hold no literal `?`, so a plain rewrite is safe.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.fields import DatetimeField, Field
from tortoise.log import db_client_logger
from tortoise.models import Model

from models import rows
from models.meta import columns_of, fields_of, table_of
from models.rows import R

M = TypeVar("M", bound=Model)


def connection() -> BaseDBAsyncClient:
    conn: BaseDBAsyncClient = connections.get("default")
    return conn


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
    async with conn.acquire_connection() as driver:  # an asyncpg connection
        records: Sequence[Mapping[str, Any]] = await driver.fetch(sql, *values)
        return records


def money_sum(expression: str, postgres: bool) -> str:
    """SQL adding up a money column (two decimal places) exactly, 0 over no rows: PostgreSQL's
    `numeric` does; SQLite stores decimals as text, whose SUM would be a float, so it adds whole
    cents, an integer. `read_money_sum` turns either back into a Decimal."""
    if postgres:
        return f"COALESCE(SUM({expression}), 0)"
    return f"COALESCE(SUM(CAST(ROUND(CAST({expression} AS REAL) * 100) AS INTEGER)), 0)"


def read_money_sum(value: Any, postgres: bool) -> Decimal:
    """What `money_sum` gave, as an amount with two decimal places."""
    if postgres:
        return Decimal(value).quantize(Decimal("0.01"))
    return Decimal(int(value)).scaleb(-2)


def in_condition(column: str, keys: list[Any], postgres: bool) -> tuple[str, list[Any]]:
    """SQL for "`column` is one of `keys`", and its parameters."""
    if postgres:
        # One array parameter: the same statement text for every batch size, so asyncpg's
        # prepared-statement cache and PostgreSQL's plan cache both hit.
        return f"{column} = ANY(?)", [list(keys)]
    return f"{column} IN ({', '.join('?' * len(keys))})", list(keys)


def _in_statement(
    select: str, table: str, column: str, keys: list[Any], order_by: str, postgres: bool
) -> tuple[str, list[Any]]:
    condition, values = in_condition(f"t.{column}", keys, postgres)
    return f'SELECT {select} FROM "{table}" t WHERE {condition} ORDER BY {order_by}', values


class _ModelReader:
    """Model instances from the driver's rows of `SELECT t.*`, through Tortoise's public API: each
    field's `to_python_value`, then `Model.construct` marked as saved (so `save()` updates).

    A QuerySet would do the same but costs ~300 µs CPU to build per statement (measured on the
    listing's categories), more than running it. asyncpg returns Python values of the right types,
    so on PostgreSQL only the fields with a conversion of their own (enums, JSON) go through it,
    datetimes excepted: asyncpg's are aware UTC, which is what Tortoise would make of them.
    SQLite returns text for decimals and datetimes: every field is converted.
    """

    def __init__(self, model: type[Model]) -> None:
        names = {column: name for name, column in columns_of(model).items()}
        model_fields = fields_of(model)
        self.construct = model.construct
        self.names = {column: name for column, name in names.items() if column != name}
        fields = {column: model_fields[name] for column, name in names.items()}
        self.sqlite = {column: field.to_python_value for column, field in fields.items()}
        self.postgres = {
            column: field.to_python_value
            for column, field in fields.items()
            if type(field).to_python_value is not Field.to_python_value and not isinstance(field, DatetimeField)
        }

    def read(self, rows: Sequence[Mapping[str, Any]], postgres: bool) -> list[Any]:
        converters = self.postgres if postgres else self.sqlite
        names = self.names
        construct = self.construct
        instances = []
        for row in rows:
            values = {
                names.get(column, column): converters[column](value) if column in converters else value
                for column, value in row.items()
            }
            instances.append(construct(_saved_in_db=True, **values))
        return instances


_model_readers: dict[type[Model], _ModelReader] = {}


async def select_in(model: type[M], column: str, keys: list[Any], *, order_by: str = "t.id") -> list[M]:
    """`SELECT * FROM <model's table> t WHERE t.<column> IN (keys)` as model instances: the
    dataloaders' one statement per batch, written out (see `_ModelReader`)."""
    if not keys:
        return []
    conn = connection()
    postgres = is_postgres(conn)
    sql, values = _in_statement("t.*", table_of(model), column, keys, order_by, postgres)
    reader = _model_readers.get(model)
    if reader is None:
        reader = _model_readers[model] = _ModelReader(model)
    instances: list[M] = reader.read(await fetch(sql, values, conn), postgres)
    return instances


async def rows_in(
    row: type[R],
    model: type[Model],
    column: str,
    keys: list[Any],
    *,
    order_by: str = "t.id",
    computed: dict[str, str] | None = None,
) -> list[R]:
    """`SELECT <row's columns> FROM <model's table> t WHERE t.<column> IN (keys)` as `row`s (see
    models/rows.py). Written out rather than built with a QuerySet: building the statement costs more
    Python than running it (measured on the listing's loaders). `computed`: the SQL of row fields
    that are no column of the table."""
    if not keys:
        return []
    conn = connection()
    postgres = is_postgres(conn)
    select = rows.columns(row, "t", computed)
    sql, values = _in_statement(select, table_of(model), column, keys, order_by, postgres)
    return rows.read(row, await fetch(sql, values, conn), postgres)


async def insert_rows(model: type[Model], names: Sequence[str], records: Sequence[Sequence[Any]]) -> None:
    """Insert many rows of `model` (each the values of the fields `names`, in the caller's
    transaction): COPY on PostgreSQL, far cheaper per row than INSERT statements, as the seed
    found; one multi-row INSERT per 500 rows on SQLite. Fields left out take their column's
    database default (an id its sequence), not the model's Python default: name every field that
    has one. Logged like Tortoise's statements, so statement counters see it."""
    if not records:
        return
    conn = connection()
    if not is_postgres(conn):
        await model.bulk_create([model(**dict(zip(names, record, strict=True))) for record in records], batch_size=500)
        return
    columns = columns_of(model)
    table = table_of(model)
    copied = [tuple(value.value if isinstance(value, Enum) else value for value in record) for record in records]
    db_client_logger.debug("COPY %s (%s): %d rows", table, ", ".join(columns[name] for name in names), len(copied))
    async with conn.acquire_connection() as driver:  # the transaction's own asyncpg connection
        await driver.copy_records_to_table(table, records=copied, columns=[columns[name] for name in names])
