"""Concurrent full refunds against a real server, uvicorn with 2 worker processes on PostgreSQL:
the money goes back exactly once, whichever process each request lands in."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from models import Order, Payment, Permission, Refund, RefundStatus
from resolvers import card_books
from tests.live import uvicorn_workers
from tests.staff import bearer, token_for
from tests.test_checkout_workers import _checkout, _ready_cart, _variant_with
from tests.test_refunds import REFUND

pytestmark = pytest.mark.slow  # real uvicorn workers: `make test-fast` skips them


async def test_ten_full_refunds_across_two_processes_give_the_money_back_once(db, tmp_path: Path):
    if db.name != "postgres":
        pytest.skip("SQLite serializes every transaction: concurrency is proven on PostgreSQL")
    ledger = tmp_path / "ledger.jsonl"
    env = {"DATABASE_URL": db.url, "TEST_CARD_LEDGER": str(ledger)}
    async with (
        uvicorn_workers(env) as (base, _),
        httpx.AsyncClient(base_url=base, timeout=60) as client,
    ):
        variant = await _variant_with(3)
        placed = await _checkout(client, await _ready_cart([variant]))
        order = placed["order"]
        headers = bearer(await token_for(Permission.MANAGE_ORDERS))
        everything = {"query": REFUND, "variables": {"o": order["id"], "a": order["total"]["amount"]}}

        async def refund() -> dict:
            body = (await client.post("/graphql", json=everything, headers=headers)).json()
            assert not body.get("errors"), body  # a deadlock or any server error would show here
            return body["data"]["orderRefundCreate"]

        results = await asyncio.gather(*(refund() for _ in range(10)))
    given = [r["refund"] for r in results if r["refund"] is not None]
    assert [g["status"] for g in given] == ["SUCCEEDED"]
    assert sum(len(r["userErrors"]) for r in results) == 9
    model = await Order.get(token=order["token"])
    assert model.status == "REFUNDED"
    payment = await Payment.get(order_id=model.id)
    assert payment.refunded == payment.captured == Decimal(order["total"]["amount"])
    assert await Refund.filter(order_id=model.id, status=RefundStatus.SUCCEEDED).count() == 1
    refunds_in_books = [
        e for e in card_books.read(ledger) if e.kind == "REFUND" and e.reference == model.payment_reference
    ]
    assert [e.amount for e in refunds_in_books] == [payment.captured]
