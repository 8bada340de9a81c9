"""Refund relations."""

from __future__ import annotations

from loaders.base import Loader, many_per_key, one_per_key
from models import Refund, RefundLine
from models.sql import select_in


class RefundByIdLoader(Loader[int, Refund | None]):
    async def batch_load_fn(self, keys: list[int]) -> list[Refund | None]:
        return one_per_key(keys, await select_in(Refund, "id", keys), lambda refund: refund.id)


class RefundsByOrderIdLoader(Loader[int, list[Refund]]):
    """Oldest first."""

    async def batch_load_fn(self, keys: list[int]) -> list[list[Refund]]:
        rows = await select_in(Refund, "order_id", keys, order_by="t.order_id, t.id")
        return many_per_key(keys, rows, lambda refund: refund.order_id)


class RefundLinesByRefundIdLoader(Loader[int, list[RefundLine]]):
    async def batch_load_fn(self, keys: list[int]) -> list[list[RefundLine]]:
        rows = await select_in(RefundLine, "refund_id", keys, order_by="t.refund_id, t.id")
        return many_per_key(keys, rows, lambda line: line.refund_id)
