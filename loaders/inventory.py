"""Inventory relations."""

from __future__ import annotations

from loaders.base import Loader, one_per_key
from models import Warehouse
from models.sql import select_in


class WarehouseByIdLoader(Loader[int, Warehouse | None]):
    async def batch_load_fn(self, keys: list[int]) -> list[Warehouse | None]:
        return one_per_key(keys, await select_in(Warehouse, "id", keys), lambda w: w.id)
