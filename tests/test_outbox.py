"""The outbox: changes reach the sink after the commit, and never from a rolled-back transaction."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from models import OutboxEvent, Warehouse
from resolvers import outbox

# A kind of change no consumer acts on: the outbox's own tests write rows no order, email or
# webhook test on the same database must mistake for theirs.
NOTE = "note"


class Collector:
    def __init__(self) -> None:
        self.batches: list[list[outbox.Change]] = []
        self.visible: list[bool] = []

    async def __call__(self, changes: list[outbox.Change]) -> None:
        # By the time the sink runs, the change must be committed: readable outside the transaction.
        code = changes[0].payload.get("code")
        self.visible.append(code is None or await Warehouse.filter(code=code).exists())
        self.batches.append(changes)


async def _in_own_task(work):
    """Run with a sink installed, in a task of its own (as each request is)."""
    collector = Collector()

    async def run():
        outbox.use_sink(collector)
        await work()

    await asyncio.create_task(run())
    return collector


async def test_committed_changes_are_announced_after_the_commit(db):
    code = f"w-{uuid.uuid4().hex[:8]}"

    async def work():
        async with outbox.transaction():
            await Warehouse.create(code=code, name="Outbox")
            outbox.record(outbox.Change("warehouse", {"id": 1, "code": code}, ("warehouses",)))

    collector = await _in_own_task(work)
    assert [[c.kind for c in batch] for batch in collector.batches] == [["warehouse"]]
    assert collector.visible == [True]


async def test_a_rolled_back_transaction_announces_nothing(db):
    code = f"w-{uuid.uuid4().hex[:8]}"

    async def work():
        with pytest.raises(RuntimeError):
            async with outbox.transaction():
                await Warehouse.create(code=code, name="Outbox")
                outbox.record(outbox.Change("warehouse", {"id": 1, "code": code}, ("warehouses",)))
                raise RuntimeError("the business rule said no")

    collector = await _in_own_task(work)
    assert collector.batches == []
    assert not await Warehouse.filter(code=code).exists()


async def test_nested_transactions_announce_once_with_the_latest_state(db):
    async def work():
        async with outbox.transaction():
            outbox.record(outbox.Change(NOTE, {"id": 7, "status": "PAID"}, ("note:7",)))
            async with outbox.transaction():
                outbox.record(outbox.Change(NOTE, {"id": 7, "status": "SHIPPED"}, ("note:7",)))
                outbox.record(outbox.Change(NOTE, {"id": 8, "status": "PAID"}, ("note:8",)))

    collector = await _in_own_task(work)
    assert len(collector.batches) == 1
    assert [(c.payload["id"], c.payload["status"]) for c in collector.batches[0]] == [(7, "SHIPPED"), (8, "PAID")]


async def test_recording_outside_a_transaction_is_a_bug(db):
    with pytest.raises(RuntimeError):
        outbox.record(outbox.Change(NOTE, {"id": 1}))


# --- the outbox table: durable changes, delivered at least once ------------------------------


async def test_a_committed_change_is_written_with_the_event_id_the_sink_announces(db):
    code = f"w-{uuid.uuid4().hex[:8]}"

    async def work():
        async with outbox.transaction():
            await Warehouse.create(code=code, name="Outbox")
            outbox.record(outbox.Change("warehouse", {"id": 1, "code": code}, ("warehouses",), frozenset({"w"})))

    collector = await _in_own_task(work)
    [announced] = collector.batches[0]
    row = await OutboxEvent.get(event_id=announced.event_id)
    assert (row.kind, row.payload, row.topics, row.tags, row.delivered_at) == (
        "warehouse",
        {"id": 1, "code": code},
        ["warehouses"],
        ["w"],
        None,
    )


async def test_a_rolled_back_transaction_writes_no_outbox_row(db):
    code = f"w-{uuid.uuid4().hex[:8]}"
    before = await OutboxEvent.all().count()

    async def work():
        with pytest.raises(RuntimeError):
            async with outbox.transaction():
                outbox.record(outbox.Change("warehouse", {"id": 1, "code": code}, ("warehouses",)))
                raise RuntimeError("the business rule said no")

    await _in_own_task(work)
    assert await OutboxEvent.all().count() == before


class Consumer:
    """A consumer as the registry calls it; `fail` makes it raise (its peer is away)."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.fail = False

    async def __call__(self, changes: list[outbox.Change]) -> None:
        if self.fail:
            raise ConnectionError("the peer is away")
        self.seen += [change.event_id for change in changes]


async def _committed(count: int) -> list[str]:
    """`count` changes committed with no sink (as the command line does): written, not announced."""
    ids: list[str] = []

    async def work():
        async with outbox.transaction():
            for number in range(count):
                outbox.record(outbox.Change("drill", {"id": uuid.uuid4().hex, "n": number}, ("drill",)))
        latest = await OutboxEvent.filter(kind="drill").order_by("-id").limit(count)
        ids.extend(str(row.event_id) for row in reversed(latest))

    await asyncio.create_task(work())
    return ids


@pytest.fixture
def consumer():
    registered = Consumer()
    outbox.register("test", registered)
    yield registered
    outbox.unregister("test")


async def test_delivery_hands_each_event_to_every_consumer_once_and_marks_it(db, consumer):
    ids = await _committed(3)
    delivered = await outbox.deliver(ids)
    assert len(delivered) == 3 and consumer.seen == ids
    assert await OutboxEvent.filter(event_id__in=ids, delivered_at=None).count() == 0
    # A retried job, or the same event deferred twice: nothing is handed over again.
    assert await outbox.deliver(ids) == []
    assert consumer.seen == ids


async def test_a_failing_consumer_leaves_the_events_for_the_redelivery(db, consumer):
    ids = await _committed(2)
    consumer.fail = True
    with pytest.raises(ConnectionError):
        await outbox.deliver(ids)
    assert await OutboxEvent.filter(event_id__in=ids, delivered_at=None).count() == 2
    consumer.fail = False
    while await outbox.redeliver(timedelta(0)):
        pass
    assert set(ids) <= set(consumer.seen)
    assert await OutboxEvent.filter(event_id__in=ids, delivered_at=None).count() == 0


async def test_delivered_events_are_pruned_once_old_enough(db, consumer):
    ids = await _committed(2)
    await outbox.deliver(ids)
    await outbox.prune(timedelta(hours=1))
    assert await OutboxEvent.filter(event_id__in=ids).count() == 2  # delivered just now: kept
    await OutboxEvent.filter(event_id__in=ids).update(delivered_at=datetime.now(UTC) - timedelta(hours=2))
    undelivered = await _committed(1)
    assert await outbox.prune(timedelta(hours=1)) >= 2
    assert await OutboxEvent.filter(event_id__in=ids).count() == 0
    assert await OutboxEvent.filter(event_id__in=undelivered).count() == 1  # never before its delivery
