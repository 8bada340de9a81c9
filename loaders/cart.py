"""Cart relations."""

from __future__ import annotations

from loaders.base import Loader, many_per_key, one_per_key
from models import Cart, CartLine
from models.sql import select_in


class CartByIdLoader(Loader[int, Cart | None]):
    async def batch_load_fn(self, keys: list[int]) -> list[Cart | None]:
        return one_per_key(keys, await select_in(Cart, "id", keys), lambda cart: cart.id)


class CartLinesByCartIdLoader(Loader[int, list[CartLine]]):
    async def batch_load_fn(self, keys: list[int]) -> list[list[CartLine]]:
        rows = await select_in(CartLine, "cart_id", keys, order_by="t.cart_id, t.id")
        return many_per_key(keys, rows, lambda line: line.cart_id)
