"""The outbox: changes reach the sink after the commit, and never from a rolled-back transaction."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from models import Warehouse
from resolvers import outbox


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
            outbox.record(outbox.Change("order", {"id": 7, "status": "PAID"}, ("order:7",)))
            async with outbox.transaction():
                outbox.record(outbox.Change("order", {"id": 7, "status": "SHIPPED"}, ("order:7",)))
                outbox.record(outbox.Change("order", {"id": 8, "status": "PAID"}, ("order:8",)))

    collector = await _in_own_task(work)
    assert len(collector.batches) == 1
    assert [(c.payload["id"], c.payload["status"]) for c in collector.batches[0]] == [(7, "SHIPPED"), (8, "PAID")]


async def test_recording_outside_a_transaction_is_a_bug(db):
    with pytest.raises(RuntimeError):
        outbox.record(outbox.Change("order", {"id": 1}))
