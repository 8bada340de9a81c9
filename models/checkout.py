"""What checkout offers a cart: shipping methods (and, next, discount codes)."""

from __future__ import annotations

from tortoise import fields
from tortoise.migrations.constraints import CheckConstraint
from tortoise.models import Model


class ShippingMethod(Model):
    # `countries` lists ISO 3166-1 alpha-2 codes; empty means every country. Weight bounds are
    # inclusive, in grams; `free_over` makes shipping free from that cart subtotal on.
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100)
    carrier = fields.CharField(max_length=50)
    price = fields.DecimalField(max_digits=12, decimal_places=2)
    free_over = fields.DecimalField(max_digits=12, decimal_places=2, null=True)
    countries = fields.JSONField(default=list)
    min_weight_grams = fields.IntField(default=0)
    max_weight_grams = fields.IntField(null=True)
    min_days = fields.IntField(default=1)
    max_days = fields.IntField(default=5)
    active = fields.BooleanField(default=True)

    class Meta:
        table = "shipping_method"
        constraints = (
            CheckConstraint(check="price >= 0", name="shipping_method_price_non_negative"),
            CheckConstraint(check="min_days <= max_days", name="shipping_method_days_ordered"),
        )
