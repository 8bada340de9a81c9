"""Shipment relations."""

from __future__ import annotations

from loaders.base import Loader, many_per_key, one_per_key
from models import Shipment, ShipmentEvent
from models.sql import select_in


class ShipmentByIdLoader(Loader[int, Shipment | None]):
    async def batch_load_fn(self, keys: list[int]) -> list[Shipment | None]:
        return one_per_key(keys, await select_in(Shipment, "id", keys), lambda s: s.id)


class ShipmentsByOrderIdLoader(Loader[int, list[Shipment]]):
    async def batch_load_fn(self, keys: list[int]) -> list[list[Shipment]]:
        rows = await select_in(Shipment, "order_id", keys, order_by="t.order_id, t.id")
        return many_per_key(keys, rows, lambda s: s.order_id)


class ShipmentEventsByShipmentIdLoader(Loader[int, list[ShipmentEvent]]):
    """In the order the events happened, whatever order they were reported in."""

    async def batch_load_fn(self, keys: list[int]) -> list[list[ShipmentEvent]]:
        rows = await select_in(ShipmentEvent, "shipment_id", keys, order_by="t.shipment_id, t.occurred_at, t.id")
        return many_per_key(keys, rows, lambda e: e.shipment_id)
