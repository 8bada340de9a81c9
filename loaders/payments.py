"""Payment relations: an order's payments and each payment's events."""

from __future__ import annotations

from loaders.base import Loader, many_per_key, one_per_key
from models import Payment, PaymentEvent
from models.sql import select_in


class PaymentByIdLoader(Loader[int, Payment | None]):
    async def batch_load_fn(self, keys: list[int]) -> list[Payment | None]:
        return one_per_key(keys, await select_in(Payment, "id", keys), lambda p: p.id)


class PaymentsByOrderIdLoader(Loader[int, list[Payment]]):
    """Oldest first: the one that paid is the last."""

    async def batch_load_fn(self, keys: list[int]) -> list[list[Payment]]:
        rows = await select_in(Payment, "order_id", keys, order_by="t.order_id, t.id")
        return many_per_key(keys, rows, lambda p: p.order_id)


class EventsByPaymentIdLoader(Loader[int, list[PaymentEvent]]):
    """In the order they were recorded."""

    async def batch_load_fn(self, keys: list[int]) -> list[list[PaymentEvent]]:
        rows = await select_in(PaymentEvent, "payment_id", keys, order_by="t.payment_id, t.id")
        return many_per_key(keys, rows, lambda e: e.payment_id)
