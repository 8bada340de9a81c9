"""Counting SQL statements per GraphQL request, in the harness process.

A running server cannot be instrumented from outside, so the same operation is executed here
through a schema object against the same database. Tortoise's clients log every statement they
execute as one DEBUG record on `tortoise.db_client`; a handler on that logger counts them.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import strawberry
from tortoise import Tortoise

from gateway.db import tortoise_config
from schema.context import Context

# Records on the same logger that are not statements.
_NOT_STATEMENTS = ("Created connection pool", "Closed connection pool")


class _StatementCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if not text.startswith(_NOT_STATEMENTS):
            self.statements.append(" ".join(text.split()))


@contextmanager
def _counting() -> Iterator[_StatementCounter]:
    logger = logging.getLogger("tortoise.db_client")
    handler = _StatementCounter()
    saved = (logger.level, logger.propagate)
    # DEBUG only on this logger and only while counting; no propagation, so nothing is printed.
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]


@dataclass
class Counted:
    statements: list[str] = field(default_factory=list)
    data: dict[str, Any] | None = None

    @property
    def count(self) -> int:
        return len(self.statements)


async def count_statements(
    schema: strawberry.Schema, query: str, currency: str, variables: dict[str, Any] | None = None
) -> Counted:
    """Execute `query` twice (the first warms the pool and caches), count the second's statements."""
    warm = await schema.execute(query, variable_values=variables, context_value=Context(currency=currency))
    if warm.errors:
        raise RuntimeError(f"the query failed while counting SQL: {warm.errors}")
    with _counting() as counter:
        # A fresh Context means fresh dataloaders, exactly as for one HTTP request.
        result = await schema.execute(query, variable_values=variables, context_value=Context(currency=currency))
    if result.errors:
        raise RuntimeError(f"the query failed while counting SQL: {result.errors}")
    return Counted(list(counter.statements), result.data)


@asynccontextmanager
async def tortoise(database_url: str) -> AsyncIterator[None]:
    """Tortoise initialised with the gateway's own configuration, for the harness process."""
    await Tortoise.init(config=tortoise_config(database_url))
    try:
        yield
    finally:
        await Tortoise.close_connections()
