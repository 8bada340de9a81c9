"""Tortoise models: the tables and their constraints. Imports nothing else of the project.

Models carry comments, not docstrings: Tortoise 1.1 turns a model docstring into a table comment
that breaks its own SQLite DDL.
"""

from models.accounts import Account, AccountToken, AccountTokenPurpose, Address, AddressType, Permission, RefreshToken
from models.accounts_export import DataExport, DataExportStatus
from models.attributes import (
    Attribute,
    AttributeChoice,
    AttributeType,
    AttributeValue,
    ProductType,
    ProductTypeAttribute,
)
from models.audit import AuditEntry, AuditTarget
from models.cart import Cart, CartLine
from models.catalogue import (
    Category,
    Product,
    ProductImage,
    ProductRelated,
    ProductStatus,
    ProductVariant,
    VariantOption,
)
from models.checkout import DiscountCode, DiscountKind, ShippingMethod, TaxRate
from models.emails import SentEmail, SentEmailStatus
from models.imports import ExportStatus, ImportJob, ImportStatus, ProductExport, ProductFileFormat
from models.inventory import Stock, StockMovement, Warehouse
from models.media import ImageFormat, ImageThumbnail, ThumbnailStatus
from models.orders import Allocation, Order, OrderCounter, OrderEvent, OrderLine, OrderStatus
from models.outbox import OutboxEvent
from models.payments import Payment, PaymentEvent, PaymentStatus
from models.refunds import Refund, RefundLine, RefundStatus
from models.returns import Return, ReturnLine, ReturnStatus
from models.shipments import CarrierDelivery, Shipment, ShipmentEvent, ShipmentLine, ShipmentStatus
from models.webhooks_out import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEvent,
    WebhookSubscription,
)

__all__ = [
    "Account",
    "AccountToken",
    "AccountTokenPurpose",
    "Address",
    "AddressType",
    "Allocation",
    "Attribute",
    "AttributeChoice",
    "AttributeType",
    "AttributeValue",
    "AuditEntry",
    "AuditTarget",
    "CarrierDelivery",
    "Cart",
    "CartLine",
    "Category",
    "DataExport",
    "DataExportStatus",
    "DiscountCode",
    "DiscountKind",
    "ExportStatus",
    "ImageFormat",
    "ImageThumbnail",
    "ImportJob",
    "ImportStatus",
    "Order",
    "OrderCounter",
    "OrderEvent",
    "OrderLine",
    "OrderStatus",
    "OutboxEvent",
    "Payment",
    "PaymentEvent",
    "PaymentStatus",
    "Permission",
    "Product",
    "ProductExport",
    "ProductFileFormat",
    "ProductImage",
    "ProductRelated",
    "ProductStatus",
    "ProductType",
    "ProductTypeAttribute",
    "ProductVariant",
    "RefreshToken",
    "Refund",
    "RefundLine",
    "RefundStatus",
    "Return",
    "ReturnLine",
    "ReturnStatus",
    "SentEmail",
    "SentEmailStatus",
    "Shipment",
    "ShipmentEvent",
    "ShipmentLine",
    "ShipmentStatus",
    "ShippingMethod",
    "Stock",
    "StockMovement",
    "TaxRate",
    "ThumbnailStatus",
    "VariantOption",
    "Warehouse",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookDeliveryStatus",
    "WebhookEvent",
    "WebhookSubscription",
]
