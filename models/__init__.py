"""Tortoise models: the tables and their constraints. Imports nothing else of the project.

Models carry comments, not docstrings: Tortoise 1.1 turns a model docstring into a table comment
that breaks its own SQLite DDL.
"""

from models.cart import Cart, CartLine
from models.checkout import DiscountCode, DiscountKind, ShippingMethod, TaxRate
from models.catalogue import Category, Product, ProductImage, ProductStatus, ProductVariant, VariantOption
from models.accounts import Account, Address, Permission, RefreshToken
from models.orders import Allocation, Order, OrderCounter, OrderEvent, OrderLine, OrderStatus
from models.shipments import CarrierDelivery, Shipment, ShipmentEvent, ShipmentLine, ShipmentStatus
from models.inventory import Stock, StockMovement, Warehouse
from models.payments import PaymentAttempt, PaymentAttemptStatus

__all__ = [
    "PaymentAttempt",
    "PaymentAttemptStatus",
    "CarrierDelivery",
    "Shipment",
    "ShipmentEvent",
    "ShipmentLine",
    "ShipmentStatus",
    "Allocation",
    "Order",
    "OrderCounter",
    "OrderEvent",
    "OrderLine",
    "OrderStatus",
    "Cart",
    "CartLine",
    "Account",
    "Address",
    "Permission",
    "RefreshToken",
    "StockMovement",
    "Category",
    "Product",
    "ProductImage",
    "ProductStatus",
    "ProductVariant",
    "ShippingMethod",
    "TaxRate",
    "DiscountCode",
    "DiscountKind",
    "Stock",
    "VariantOption",
    "Warehouse",
]
