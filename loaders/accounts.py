"""Account relations."""

from __future__ import annotations

from loaders.base import Loader, many_per_key, one_per_key
from models import Account, Address
from models.sql import select_in


class AccountByIdLoader(Loader[int, Account | None]):
    async def batch_load_fn(self, keys: list[int]) -> list[Account | None]:
        return one_per_key(keys, await select_in(Account, "id", keys), lambda a: a.id)


class AddressesByAccountIdLoader(Loader[int, list[Address]]):
    async def batch_load_fn(self, keys: list[int]) -> list[list[Address]]:
        rows = await select_in(Address, "account_id", keys, order_by="t.account_id, t.id")
        return many_per_key(keys, rows, lambda a: a.account_id)
