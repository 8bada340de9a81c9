"""What checkout offers a cart: shipping methods, discount codes, and the tax rates it charges."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.migrations.constraints import CheckConstraint
from tortoise.models import Model

# Column lengths that input is checked against before it is written (resolvers/checkout.py): the
# fields below, and the order and shipment columns that copy them, read these numbers.
SHIPPING_METHOD_NAME_LENGTH = 100
CARRIER_LENGTH = 50
DISCOUNT_CODE_LENGTH = 64


class ShippingMethod(Model):
    # `countries` lists ISO 3166-1 alpha-2 codes; empty means every country. Weight bounds are
    # inclusive, in grams; `free_over` makes shipping free from that cart subtotal on. `active`
    # false: not offered to carts. `archived_at`: deleted by staff while open carts still named it,
    # so kept (inactive) for them and for history instead of removed.
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=SHIPPING_METHOD_NAME_LENGTH)
    carrier = fields.CharField(max_length=CARRIER_LENGTH)
    price = fields.DecimalField(max_digits=12, decimal_places=2)
    free_over = fields.DecimalField(max_digits=12, decimal_places=2, null=True)
    countries: fields.JSONField[list[str]] = fields.JSONField(default=list)
    min_weight_grams = fields.IntField(default=0)
    max_weight_grams = fields.IntField(null=True)
    min_days = fields.IntField(default=1)
    max_days = fields.IntField(default=5)
    active = fields.BooleanField(default=True)
    archived_at = fields.DatetimeField(null=True)

    class Meta:
        table = "shipping_method"
        constraints = (
            CheckConstraint(check="price >= 0", name="shipping_method_price_non_negative"),
            CheckConstraint(check="min_days <= max_days", name="shipping_method_days_ordered"),
        )


class DiscountKind(StrEnum):
    PERCENTAGE = "PERCENTAGE"  # `value` percent off the subtotal
    FIXED_AMOUNT = "FIXED_AMOUNT"  # `value` off the subtotal, never below zero
    FREE_SHIPPING = "FREE_SHIPPING"


class DiscountCode(Model):
    # `code` is stored upper-cased: codes match case-insensitively. `used_count` counts completed
    # checkouts; `usage_limit` and `per_customer_limit` cap them (null: no cap).
    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=DISCOUNT_CODE_LENGTH, unique=True)
    kind = fields.CharEnumField(DiscountKind, max_length=16)
    value = fields.DecimalField(max_digits=12, decimal_places=2, default=0)
    min_subtotal = fields.DecimalField(max_digits=12, decimal_places=2, null=True)
    starts_at = fields.DatetimeField(null=True)
    ends_at = fields.DatetimeField(null=True)
    usage_limit = fields.IntField(null=True)
    per_customer_limit = fields.IntField(null=True)
    used_count = fields.IntField(default=0)
    active = fields.BooleanField(default=True)

    class Meta:
        table = "discount_code"
        constraints = (
            CheckConstraint(check="value >= 0", name="discount_code_value_non_negative"),
            CheckConstraint(check="used_count >= 0", name="discount_code_used_non_negative"),
        )


class TaxRate(Model):
    # One rate per destination country, e.g. 0.1900 for 19 %. No row: no tax charged there.
    id = fields.IntField(primary_key=True)
    country = fields.CharField(max_length=2, unique=True)
    rate = fields.DecimalField(max_digits=6, decimal_places=4)

    class Meta:
        table = "tax_rate"
        constraints = (CheckConstraint(check="rate >= 0 AND rate < 1", name="tax_rate_in_range"),)
