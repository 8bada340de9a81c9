"""Checkout relations."""

from __future__ import annotations

from loaders.base import Loader, one_per_key
from models import ShippingMethod
from models.sql import select_in


class ShippingMethodByIdLoader(Loader[int, ShippingMethod | None]):
    async def batch_load_fn(self, keys: list[int]) -> list[ShippingMethod | None]:
        return one_per_key(keys, await select_in(ShippingMethod, "id", keys), lambda m: m.id)
