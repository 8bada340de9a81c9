"""Changes announced only once they are committed: order and shipment updates, catalogue edits.

Resolvers `record()` what they change while they change it, inside `transaction()`. When the
outermost transaction commits, its changes go to the sink the caller installed with `use_sink()`
(the gateway's announcer: the event bus for subscribers, the response cache for invalidation).
A rolled-back transaction announces nothing, so no subscriber ever sees a state that did not
happen. Without a sink (the command line, unit tests) changes are simply dropped.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from models.changes import Change, Sink

__all__ = ["Change", "Sink", "announce", "record", "transaction", "use_sink"]


_pending: ContextVar[list[Change] | None] = ContextVar("outbox_pending", default=None)
_sink: ContextVar[Sink | None] = ContextVar("outbox_sink", default=None)


def use_sink(sink: Sink | None) -> None:
    """Where this task's (and its child tasks') committed changes go."""
    _sink.set(sink)


@asynccontextmanager
async def transaction() -> AsyncIterator[BaseDBAsyncClient]:
    """`in_transaction()` whose recorded changes are announced after, and only after, the commit."""
    if _pending.get() is not None:
        # Nested: the outermost transaction decides whether any of it happened.
        async with in_transaction() as connection:
            yield connection
        return
    pending: list[Change] = []
    token = _pending.set(pending)
    try:
        async with in_transaction() as connection:
            yield connection
    finally:
        _pending.reset(token)
    await announce(pending)


def record(change: Change) -> None:
    """Note a change made in the current transaction (outside one, it is announced by the caller)."""
    pending = _pending.get()
    if pending is None:
        raise RuntimeError("outbox.record() outside outbox.transaction()")
    pending.append(change)


async def announce(changes: list[Change]) -> None:
    """Hand committed changes to the sink. Later changes to the same object supersede earlier ones."""
    sink = _sink.get()
    if sink is None or not changes:
        return
    latest: dict[tuple[str, Any], Change] = {}
    for change in changes:
        key = (change.kind, change.payload.get("id", id(change)))
        latest.pop(key, None)  # keep the order in which objects were last changed
        latest[key] = change
    await sink(list(latest.values()))
