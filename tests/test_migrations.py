"""The committed migrations match the models, and the database enforces the stock rules."""

from __future__ import annotations

import pytest
from tortoise import Tortoise
from tortoise.exceptions import IntegrityError, OperationalError
from tortoise.migrations.autodetector import MigrationAutodetector

from gateway.db import tortoise_config
from models import ProductVariant, Stock, Warehouse


async def test_models_and_migrations_agree(db):
    config = tortoise_config(db.url)
    detector = MigrationAutodetector(Tortoise.apps, config["apps"])
    writers = await detector.changes()
    assert writers == [], "models changed without a migration: run makemigrations (see README)"


@pytest.mark.parametrize("quantity,reserved", [(-1, 0), (5, -1), (3, 4)])
async def test_stock_constraints(db, quantity, reserved):
    variant = await ProductVariant.first()
    warehouse = await Warehouse.create(code=f"tmp{quantity}{reserved}".replace("-", "m"), name="Temporary")
    try:
        with pytest.raises((IntegrityError, OperationalError)):
            await Stock.create(variant=variant, warehouse=warehouse, quantity=quantity, reserved=reserved)
        assert await Stock.filter(warehouse=warehouse).count() == 0
    finally:
        await warehouse.delete()


async def test_one_stock_row_per_variant_and_warehouse(db):
    stock = await Stock.first()
    with pytest.raises(IntegrityError):
        await Stock.create(variant_id=stock.variant_id, warehouse_id=stock.warehouse_id, quantity=1)


async def test_negative_price_is_refused(db):
    variant = await ProductVariant.first()
    with pytest.raises((IntegrityError, OperationalError)):
        await ProductVariant.filter(id=variant.id).update(price=-1)
