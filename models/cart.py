"""Carts: a guest's (addressed by an unguessable token) or a signed-in customer's, and their lines."""

from __future__ import annotations

from tortoise import fields
from tortoise.migrations.constraints import CheckConstraint
from tortoise.models import Model

from models.accounts import EMAIL_LENGTH, Account
from models.catalogue import ProductVariant
from models.checkout import DiscountCode, ShippingMethod


class Cart(Model):
    # `completed_at` is set when checkout turns the cart into an order; a completed cart is frozen.
    id = fields.IntField(primary_key=True)
    token = fields.CharField(max_length=64, unique=True)
    customer: fields.ForeignKeyNullableRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name="carts", null=True, on_delete=fields.SET_NULL
    )
    customer_id: int | None
    email = fields.CharField(max_length=EMAIL_LENGTH, default="")
    currency = fields.CharField(max_length=3)
    shipping_address: fields.JSONField[dict[str, str] | None] = fields.JSONField(
        null=True
    )  # validated by resolvers.addresses.validate_address
    # Null: bill to the shipping address (what checkout copies onto the order then).
    billing_address: fields.JSONField[dict[str, str] | None] = fields.JSONField(null=True)
    shipping_method: fields.ForeignKeyNullableRelation[ShippingMethod] = fields.ForeignKeyField(
        "models.ShippingMethod", related_name="carts", null=True, on_delete=fields.SET_NULL
    )
    shipping_method_id: int | None
    discount_code: fields.ForeignKeyNullableRelation[DiscountCode] = fields.ForeignKeyField(
        "models.DiscountCode", related_name="carts", null=True, on_delete=fields.SET_NULL
    )
    discount_code_id: int | None
    completed_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "cart"


class CartLine(Model):
    id = fields.IntField(primary_key=True)
    cart: fields.ForeignKeyRelation[Cart] = fields.ForeignKeyField(
        "models.Cart", related_name="lines", on_delete=fields.CASCADE
    )
    cart_id: int
    variant: fields.ForeignKeyRelation[ProductVariant] = fields.ForeignKeyField(
        "models.ProductVariant", related_name="cart_lines", on_delete=fields.CASCADE
    )
    variant_id: int
    quantity = fields.IntField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "cart_line"
        unique_together = (("cart_id", "variant_id"),)
        constraints = (CheckConstraint(check="quantity > 0", name="cart_line_quantity_positive"),)
