"""Changes announced only once they are committed, and durably: written in the transaction that
made them, delivered at least once after it.

Resolvers `record()` what they change while they change it, inside `transaction()`. Just before
the outermost transaction commits, its changes are written to the `outbox` table (models/outbox.py)
in that same transaction, each with a fresh event id; so a rolled-back transaction leaves no row
and announces nothing, and a committed one cannot lose its announcement. (A kind may name a
function that completes its changes first, `complete_with`: the state of every object changed,
read once for them all after the transaction's last change to them.) Once committed, the
changes go to the sink the caller installed with `use_sink()` (the gateway's announcer: the
response cache and the event bus at once, then a delivery job). Without a sink (the command line,
payment recovery) nothing is announced at once: the rows wait for the periodic redelivery.

Delivery (`deliver`, run by a job) hands each row to every registered consumer (`register`), then
marks it delivered. A crash between the commit and the job, or a consumer that fails (Redis away),
leaves rows undelivered, and `redeliver` (a periodic job) delivers them again later. Delivery is at
least once: every consumer acts once per event id however often it is handed the same event.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from models.changes import CREATED, EVENT, UPDATED, Change, Sink
from models.outbox import OutboxEvent

__all__ = [
    "Change",
    "Sink",
    "complete_with",
    "consumers",
    "deliver",
    "prune",
    "record",
    "redeliver",
    "register",
    "transaction",
    "undelivered",
    "unregister",
    "use_sink",
]

log = logging.getLogger("resolvers.outbox")
BATCH = 200  # rows one delivery reads and hands to the consumers at once

_pending: ContextVar[list[Change] | None] = ContextVar("outbox_pending", default=None)
_sink: ContextVar[Sink | None] = ContextVar("outbox_sink", default=None)
# Who gets every committed change, by name: each consumer acts once per event id.
_consumers: dict[str, Sink] = {}
# Fills in a transaction's changes of one kind just before it commits, inside it (`complete_with`).
Complete = Callable[[list[Change], BaseDBAsyncClient], Awaitable[list[Change]]]
_completers: dict[str, Complete] = {}


def use_sink(sink: Sink | None) -> None:
    """Where this task's (and its child tasks') committed changes go at once."""
    _sink.set(sink)


def register(name: str, consumer: Sink) -> None:
    """Hand every committed change to `consumer` (replacing one registered under the same name).

    A consumer is called with a batch of changes, each with its `event_id`, at least once per
    change and possibly again (a retried job, a redelivery): it must act once per event id. It
    raises when it could not act (its peer is away), and the batch is delivered again later.
    """
    _consumers[name] = consumer


def unregister(name: str) -> None:
    _consumers.pop(name, None)


def consumers() -> dict[str, Sink]:
    return dict(_consumers)


def complete_with(kind: str, complete: Complete) -> None:
    """Have `complete` finish a transaction's changes of `kind` just before the commit, inside the
    transaction (`connection`): it gets them all at once, after the last change superseded the
    earlier ones, and returns what is to be written (a change it leaves out announces nothing).
    Resolvers record a change of such a kind with what identifies it, and the state goes in here:
    read once, when no later change can make it stale, however often the transaction touched it.
    The module that records a kind registers its completer when it is imported."""
    _completers[kind] = complete


@asynccontextmanager
async def transaction() -> AsyncIterator[BaseDBAsyncClient]:
    """`in_transaction()` whose recorded changes are written to the outbox before the commit and
    announced after, and only after, it."""
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
            committed = await _write(await _complete(_latest(pending), connection), connection)
    finally:
        _pending.reset(token)
    await announce(committed)


def record(change: Change) -> None:
    """Note a change made in the current transaction (outside one, it is announced by the caller)."""
    pending = _pending.get()
    if pending is None:
        raise RuntimeError("outbox.record() outside outbox.transaction()")
    pending.append(change)


def _latest(changes: list[Change]) -> list[Change]:
    """Later changes to the same object supersede earlier ones; objects keep the order in which
    they were last changed. An object created in the transaction is still new to whoever hears of
    it after it: a later update is announced as its creation (a deletion stays a deletion)."""
    latest: dict[tuple[str, Any], Change] = {}
    for change in changes:
        key = (change.kind, change.payload.get("id", id(change)))
        earlier = latest.pop(key, None)
        if earlier is not None and earlier.payload.get(EVENT) == CREATED and change.payload.get(EVENT) == UPDATED:
            change = replace(change, payload={**change.payload, EVENT: CREATED})
        latest[key] = change
    return list(latest.values())


async def _complete(changes: list[Change], connection: BaseDBAsyncClient) -> list[Change]:
    """The changes, those of kinds with a completer completed (or left out), in the same order.
    Such a change names its object by `id` (one per object after `_latest`)."""
    by_kind: dict[str, list[Change]] = {}
    for change in changes:
        if change.kind in _completers:
            by_kind.setdefault(change.kind, []).append(change)
    if not by_kind:
        return changes
    completed: dict[tuple[str, Any], Change] = {}
    for kind, recorded in by_kind.items():
        for change in await _completers[kind](recorded, connection):
            completed[(kind, change.payload["id"])] = change
    kept = [completed.get((c.kind, c.payload.get("id"))) if c.kind in by_kind else c for c in changes]
    return [change for change in kept if change is not None]


async def _write(changes: list[Change], connection: BaseDBAsyncClient) -> list[Change]:
    """One INSERT for all of a transaction's changes, inside it; the changes with their event ids."""
    if not changes:
        return []
    written = [replace(change, event_id=str(uuid.uuid4())) for change in changes]
    await OutboxEvent.bulk_create(
        [
            OutboxEvent(
                event_id=change.event_id,
                kind=change.kind,
                payload=change.payload,
                topics=list(change.topics),
                tags=sorted(change.tags),
            )
            for change in written
        ],
        using_db=connection,
    )
    return written


async def announce(changes: list[Change]) -> None:
    """Hand committed changes to the sink."""
    sink = _sink.get()
    if sink is None or not changes:
        return
    await sink(changes)


def _change(row: OutboxEvent) -> Change:
    return Change(row.kind, dict(row.payload), tuple(row.topics), frozenset(row.tags), str(row.event_id))


async def deliver(event_ids: Iterable[str]) -> list[datetime]:
    """Hand the named events that are not yet delivered to every consumer, then mark them
    delivered; when each delivered event was committed. A consumer that raises leaves them all
    undelivered (and raises)."""
    wanted = list(event_ids)
    rows = await OutboxEvent.filter(event_id__in=wanted, delivered_at=None).order_by("id")
    return await _deliver_rows(rows)


async def redeliver(older_than: timedelta, limit: int = BATCH) -> list[datetime]:
    """Deliver the oldest events still undelivered `older_than` after their commit (their process
    died before its delivery job was deferred, or the job gave up); when each was committed."""
    cutoff = datetime.now(UTC) - older_than
    rows = await OutboxEvent.filter(delivered_at=None, created_at__lt=cutoff).order_by("id").limit(limit)
    return await _deliver_rows(rows)


async def _deliver_rows(rows: list[OutboxEvent]) -> list[datetime]:
    if not rows:
        return []
    changes = [_change(row) for row in rows]
    for name, consumer in consumers().items():
        try:
            await consumer(changes)
        except Exception:
            log.warning("outbox: consumer %s failed for %d events; they stay undelivered", name, len(changes))
            raise
    marked = await OutboxEvent.filter(id__in=[row.id for row in rows], delivered_at=None).update(
        delivered_at=datetime.now(UTC)
    )
    # Another worker may have delivered some of them meanwhile: this run counts only if it marked any.
    return [row.created_at for row in rows] if marked else []


async def undelivered(older_than: timedelta) -> int:
    """How many events are still undelivered `older_than` after their commit."""
    return await OutboxEvent.filter(delivered_at=None, created_at__lt=datetime.now(UTC) - older_than).count()


async def prune(older_than: timedelta) -> int:
    """Delete events delivered longer than `older_than` ago; how many were."""
    return await OutboxEvent.filter(delivered_at__lt=datetime.now(UTC) - older_than).delete()
