"""Orders: what was bought, at what price, from which warehouse, and everything that happened to it."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.indexes import Index
from tortoise.migrations.constraints import CheckConstraint
from tortoise.models import Model

from models.accounts import EMAIL_LENGTH, Account
from models.cart import Cart
from models.catalogue import SKU_LENGTH, ProductVariant
from models.checkout import (
    CARRIER_LENGTH,
    DISCOUNT_CODE_LENGTH,
    SHIPPING_METHOD_NAME_LENGTH,
)
from models.inventory import Stock

# Column lengths that input is checked against before it is written (resolvers/orders.py and
# resolvers/checkout_complete.py).
IDEMPOTENCY_KEY_LENGTH = 128
EVENT_MESSAGE_LENGTH = 500  # an order event's message, such as a cancellation's reason


class OrderStatus(StrEnum):
    AWAITING_PAYMENT = "AWAITING_PAYMENT"  # placed, stock reserved, the payment waits for the shopper
    PLACED = "PLACED"
    PAID = "PAID"
    PARTIALLY_SHIPPED = "PARTIALLY_SHIPPED"
    SHIPPED = "SHIPPED"
    DELIVERED = "DELIVERED"
    CANCELLED = "CANCELLED"
    PARTIALLY_REFUNDED = "PARTIALLY_REFUNDED"  # part of the money taken was given back
    REFUNDED = "REFUNDED"


# The statuses whose money the shop has and keeps: what a customer's "total spent" adds up. A PLACED
# order is not paid yet; a CANCELLED or REFUNDED one gave its money back.
SPENT_STATUSES = (OrderStatus.PAID, OrderStatus.PARTIALLY_SHIPPED, OrderStatus.SHIPPED, OrderStatus.DELIVERED)


class OrderCounter(Model):
    # One row: the last order number handed out. Incremented inside the checkout transaction, so
    # numbers are sequential without gaps (a rolled-back checkout gives its number back).
    id = fields.IntField(primary_key=True)
    last_number = fields.IntField(default=1000)

    class Meta:
        table = "order_counter"


class Order(Model):
    # Prices, addresses and the shipping method are snapshots: later catalogue changes do not
    # rewrite history. `cart` is unique: one cart can never become two orders.
    id = fields.IntField(primary_key=True)
    number = fields.IntField(unique=True)
    token = fields.CharField(max_length=64, unique=True)
    cart: fields.ForeignKeyNullableRelation[Cart] = fields.ForeignKeyField(
        "models.Cart", related_name="orders", null=True, unique=True, on_delete=fields.SET_NULL
    )
    cart_id: int | None
    customer_id: int | None
    idempotency_key = fields.CharField(max_length=IDEMPOTENCY_KEY_LENGTH, null=True, unique=True)
    customer: fields.ForeignKeyNullableRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name="orders", null=True, on_delete=fields.SET_NULL
    )
    email = fields.CharField(max_length=EMAIL_LENGTH)
    status = fields.CharEnumField(OrderStatus, max_length=20, default=OrderStatus.PLACED)
    # Bumped with every change, under the row lock: subscribers drop an event older than what
    # they have already shown (events from two processes can arrive out of order).
    version = fields.IntField(default=1)
    currency = fields.CharField(max_length=3)
    subtotal = fields.DecimalField(max_digits=12, decimal_places=2)
    discount_total = fields.DecimalField(max_digits=12, decimal_places=2)
    shipping_total = fields.DecimalField(max_digits=12, decimal_places=2)
    tax_total = fields.DecimalField(max_digits=12, decimal_places=2)
    total = fields.DecimalField(max_digits=12, decimal_places=2)
    shipping_address: fields.JSONField[dict[str, str]] = fields.JSONField()  # a validated address, as on the cart
    # The cart's billing address, or its shipping address when none was given; null only on orders
    # placed before billing addresses were recorded (migration 0020), which bill to where they ship.
    billing_address: fields.JSONField[dict[str, str] | None] = fields.JSONField(null=True)
    shipping_method_name = fields.CharField(max_length=SHIPPING_METHOD_NAME_LENGTH)
    shipping_carrier = fields.CharField(max_length=CARRIER_LENGTH)
    discount_code = fields.CharField(max_length=DISCOUNT_CODE_LENGTH, default="")
    payment_provider = fields.CharField(max_length=32)
    payment_reference = fields.CharField(max_length=128, default="")
    paid_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "order"
        indexes = (
            Index(fields=("customer_id", "created_at"), name="order_customer_created_idx"),
            Index(fields=("status", "created_at"), name="order_status_created_idx"),
            Index(fields=("email",), name="order_email_idx"),
        )


class OrderLine(Model):
    id = fields.IntField(primary_key=True)
    order: fields.ForeignKeyRelation[Order] = fields.ForeignKeyField(
        "models.Order", related_name="lines", on_delete=fields.CASCADE
    )
    order_id: int
    variant: fields.ForeignKeyNullableRelation[ProductVariant] = fields.ForeignKeyField(
        "models.ProductVariant", related_name="order_lines", null=True, on_delete=fields.SET_NULL
    )
    variant_id: int | None
    sku = fields.CharField(max_length=SKU_LENGTH)
    product_name = fields.CharField(max_length=255)
    variant_name = fields.CharField(max_length=255)
    quantity = fields.IntField()
    quantity_shipped = fields.IntField(default=0)
    quantity_refunded = fields.IntField(default=0)  # units whose money was given back (models/refunds.py)
    quantity_returned = fields.IntField(default=0)  # units in a return not rejected (models/returns.py)
    unit_price = fields.DecimalField(max_digits=12, decimal_places=2)
    total = fields.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        table = "order_line"
        unique_together = (("order_id", "variant_id"),)
        constraints = (
            CheckConstraint(check="quantity > 0", name="order_line_quantity_positive"),
            CheckConstraint(
                check="quantity_shipped >= 0 AND quantity_shipped <= quantity", name="order_line_shipped_within"
            ),
            CheckConstraint(
                check="quantity_refunded >= 0 AND quantity_refunded <= quantity", name="order_line_refunded_within"
            ),
            CheckConstraint(
                check="quantity_returned >= 0 AND quantity_returned <= quantity", name="order_line_returned_within"
            ),
        )


class Allocation(Model):
    # Which stock row holds how much of a line (a line may be split over warehouses).
    id = fields.IntField(primary_key=True)
    order: fields.ForeignKeyRelation[Order] = fields.ForeignKeyField(
        "models.Order", related_name="allocations", on_delete=fields.CASCADE
    )
    order_id: int
    variant: fields.ForeignKeyNullableRelation[ProductVariant] = fields.ForeignKeyField(
        "models.ProductVariant", related_name="allocations", null=True, on_delete=fields.SET_NULL
    )
    variant_id: int | None
    stock: fields.ForeignKeyNullableRelation[Stock] = fields.ForeignKeyField(
        "models.Stock", related_name="allocations", null=True, on_delete=fields.SET_NULL
    )
    stock_id: int | None
    quantity = fields.IntField()

    class Meta:
        table = "allocation"
        indexes = (Index(fields=("order_id",), name="allocation_order_idx"),)


class OrderEvent(Model):
    id = fields.IntField(primary_key=True)
    order: fields.ForeignKeyRelation[Order] = fields.ForeignKeyField(
        "models.Order", related_name="events", on_delete=fields.CASCADE
    )
    order_id: int
    kind = fields.CharField(max_length=32)  # PLACED, PAID, CANCELLED, … or a note
    message = fields.CharField(max_length=EVENT_MESSAGE_LENGTH, default="")
    actor = fields.CharField(max_length=EMAIL_LENGTH, default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "order_event"
        indexes = (Index(fields=("order_id", "id"), name="order_event_order_idx"),)
