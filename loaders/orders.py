"""Order relations."""

from __future__ import annotations

from loaders.base import Loader, many_per_key
from models import OrderEvent, OrderLine
from models.sql import select_in


class OrderLinesByOrderIdLoader(Loader[int, list[OrderLine]]):
    async def batch_load_fn(self, keys: list[int]) -> list[list[OrderLine]]:
        rows = await select_in(OrderLine, "order_id", keys, order_by="t.order_id, t.id")
        return many_per_key(keys, rows, lambda line: line.order_id)


class OrderEventsByOrderIdLoader(Loader[int, list[OrderEvent]]):
    async def batch_load_fn(self, keys: list[int]) -> list[list[OrderEvent]]:
        rows = await select_in(OrderEvent, "order_id", keys, order_by="t.order_id, t.id")
        return many_per_key(keys, rows, lambda event: event.order_id)
