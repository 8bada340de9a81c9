"""Return relations."""

from __future__ import annotations

from loaders.base import Loader, many_per_key
from models import Return, ReturnLine
from models.sql import select_in


class ReturnsByOrderIdLoader(Loader[int, list[Return]]):
    """Oldest first."""

    async def batch_load_fn(self, keys: list[int]) -> list[list[Return]]:
        rows = await select_in(Return, "order_id", keys, order_by="t.order_id, t.id")
        return many_per_key(keys, rows, lambda ret: ret.order_id)


class ReturnLinesByReturnIdLoader(Loader[int, list[ReturnLine]]):
    async def batch_load_fn(self, keys: list[int]) -> list[list[ReturnLine]]:
        rows = await select_in(ReturnLine, "return_request_id", keys, order_by="t.return_request_id, t.id")
        return many_per_key(keys, rows, lambda line: line.return_request_id)
