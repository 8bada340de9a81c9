"""Order relations."""

from __future__ import annotations

from loaders.base import Loader, many_per_key, one_per_key
from models import Order, OrderEvent, OrderLine
from models.sql import select_in


class OrderByIdLoader(Loader[int, Order | None]):
    async def batch_load_fn(self, keys: list[int]) -> list[Order | None]:
        return one_per_key(keys, await select_in(Order, "id", keys), lambda order: order.id)


class OrderLinesByOrderIdLoader(Loader[int, list[OrderLine]]):
    async def batch_load_fn(self, keys: list[int]) -> list[list[OrderLine]]:
        rows = await select_in(OrderLine, "order_id", keys, order_by="t.order_id, t.id")
        return many_per_key(keys, rows, lambda line: line.order_id)


class OrderEventsByOrderIdLoader(Loader[int, list[OrderEvent]]):
    async def batch_load_fn(self, keys: list[int]) -> list[list[OrderEvent]]:
        rows = await select_in(OrderEvent, "order_id", keys, order_by="t.order_id, t.id")
        return many_per_key(keys, rows, lambda event: event.order_id)
