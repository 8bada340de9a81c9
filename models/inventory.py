"""Warehouses and the stock each holds of each variant."""

from __future__ import annotations

from tortoise import fields
from tortoise.migrations.constraints import CheckConstraint
from tortoise.models import Model

from models.catalogue import ProductVariant


class Warehouse(Model):
    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=32, unique=True)
    name = fields.CharField(max_length=200)

    class Meta:
        table = "warehouse"


class Stock(Model):
    # Quantity on hand and quantity reserved by placed orders, per variant and warehouse.
    #
    # The database itself keeps 0 <= reserved <= quantity, so no code path can oversell even if it
    # forgets to check: a conditional UPDATE that would break it affects no row or fails.

    id = fields.IntField(primary_key=True)
    variant: fields.ForeignKeyRelation[ProductVariant] = fields.ForeignKeyField(
        "models.ProductVariant", related_name="stocks", on_delete=fields.CASCADE
    )
    warehouse: fields.ForeignKeyRelation[Warehouse] = fields.ForeignKeyField(
        "models.Warehouse", related_name="stocks", on_delete=fields.RESTRICT
    )
    quantity = fields.IntField(default=0)
    reserved = fields.IntField(default=0)

    class Meta:
        table = "stock"
        unique_together = (("variant_id", "warehouse_id"),)
        constraints = (
            CheckConstraint(check="quantity >= 0", name="stock_quantity_non_negative"),
            CheckConstraint(check="reserved >= 0", name="stock_reserved_non_negative"),
            CheckConstraint(check="reserved <= quantity", name="stock_reserved_within_quantity"),
        )
