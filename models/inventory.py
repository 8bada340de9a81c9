"""Warehouses and the stock each holds of each variant."""

from __future__ import annotations

from tortoise import fields
from tortoise.indexes import Index
from tortoise.migrations.constraints import CheckConstraint
from tortoise.models import Model

from models.accounts import EMAIL_LENGTH
from models.catalogue import ProductVariant

# Column lengths that input is checked against before it is written (resolvers/inventory.py).
WAREHOUSE_CODE_LENGTH = 32
WAREHOUSE_NAME_LENGTH = 200
REASON_LENGTH = 255


class Warehouse(Model):
    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=WAREHOUSE_CODE_LENGTH, unique=True)
    name = fields.CharField(max_length=WAREHOUSE_NAME_LENGTH)

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
    variant_id: int
    warehouse: fields.ForeignKeyRelation[Warehouse] = fields.ForeignKeyField(
        "models.Warehouse", related_name="stocks", on_delete=fields.RESTRICT
    )
    warehouse_id: int
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


class StockMovement(Model):
    # The ledger: every change of a stock row, written in the same transaction as the change.
    # `kind` says why (ADJUSTMENT, SET, and later RESERVATION, SALE, RELEASE); `delta` and
    # `reserved_delta` are the changes to quantity on hand and to quantity reserved.
    id = fields.IntField(primary_key=True)
    stock: fields.ForeignKeyRelation[Stock] = fields.ForeignKeyField(
        "models.Stock", related_name="movements", on_delete=fields.CASCADE
    )
    stock_id: int
    variant: fields.ForeignKeyRelation[ProductVariant] = fields.ForeignKeyField(
        "models.ProductVariant", related_name="stock_movements", on_delete=fields.CASCADE
    )
    variant_id: int
    kind = fields.CharField(max_length=16)
    delta = fields.IntField(default=0)
    reserved_delta = fields.IntField(default=0)
    quantity_after = fields.IntField()
    reason = fields.CharField(max_length=REASON_LENGTH, default="")
    actor = fields.CharField(max_length=EMAIL_LENGTH, default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "stock_movement"
        indexes = (Index(fields=("variant_id", "created_at", "id"), name="stock_movement_variant_idx"),)
