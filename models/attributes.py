"""Typed attributes: what staff define (material, weight in g, waterproof), the product types that
group them, and the values products and variants carry.

A value is a row with one typed column set (`value_text`, `value_number`, `value_bool` or
`value_date`), a multi-select one row per choice: filters and facets then compare a column of the
attribute's own type through an index on (attribute, value), on PostgreSQL as on SQLite.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

# Column lengths that input is checked against (resolvers/attributes_admin.py reads the same numbers).
ATTRIBUTE_NAME_LENGTH = 200
ATTRIBUTE_SLUG_LENGTH = 200
ATTRIBUTE_UNIT_LENGTH = 16
ATTRIBUTE_VALUE_LENGTH = 255  # a TEXT value and a SELECT choice
# A NUMBER value: up to 14 digits before the point and 6 after it.
NUMBER_DIGITS = 20
NUMBER_PLACES = 6


class AttributeType(StrEnum):
    TEXT = "TEXT"
    NUMBER = "NUMBER"
    BOOLEAN = "BOOLEAN"
    SELECT = "SELECT"
    MULTI_SELECT = "MULTI_SELECT"
    DATE = "DATE"


class Attribute(Model):
    # One property staff define once and give values to on many products.

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=ATTRIBUTE_NAME_LENGTH)
    slug = fields.CharField(max_length=ATTRIBUTE_SLUG_LENGTH, unique=True)
    type = fields.CharEnumField(AttributeType, max_length=16)
    unit = fields.CharField(max_length=ATTRIBUTE_UNIT_LENGTH, default="")  # NUMBER only, such as "g"
    # Offered as a filter and counted in the listing's facets.
    filterable = fields.BooleanField(default=True)
    # Shown on the storefront's products (`Product.attributes`); staff-only data otherwise.
    visible_in_storefront = fields.BooleanField(default=True)

    class Meta:
        table = "attribute"


class AttributeChoice(Model):
    # One of the values a SELECT or MULTI_SELECT attribute allows, in the order staff gave them.

    id = fields.IntField(primary_key=True)
    attribute: fields.ForeignKeyRelation[Attribute] = fields.ForeignKeyField(
        "models.Attribute", related_name="choices", on_delete=fields.CASCADE
    )
    attribute_id: int
    value = fields.CharField(max_length=ATTRIBUTE_VALUE_LENGTH)
    position = fields.IntField(default=0)

    class Meta:
        table = "attribute_choice"
        unique_together = (("attribute_id", "value"),)


class ProductType(Model):
    # A kind of product (T-shirt, tent): which attributes its products carry, and its variants.

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=ATTRIBUTE_NAME_LENGTH)
    slug = fields.CharField(max_length=ATTRIBUTE_SLUG_LENGTH, unique=True)

    class Meta:
        table = "product_type"


class ProductTypeAttribute(Model):
    # An attribute of a product type: a product's own (`variant_selection` false) or one each
    # variant has a value of, which tells its variants apart.

    id = fields.IntField(primary_key=True)
    product_type: fields.ForeignKeyRelation[ProductType] = fields.ForeignKeyField(
        "models.ProductType", related_name="assignments", on_delete=fields.CASCADE
    )
    product_type_id: int
    attribute: fields.ForeignKeyRelation[Attribute] = fields.ForeignKeyField(
        "models.Attribute", related_name="assignments", on_delete=fields.CASCADE
    )
    attribute_id: int
    variant_selection = fields.BooleanField(default=False)
    position = fields.IntField(default=0)

    class Meta:
        table = "product_type_attribute"
        unique_together = (("product_type_id", "attribute_id"),)


class AttributeValue(Model):
    # One value of an attribute on a product (`variant_id` null) or on one of its variants.
    # `product_id` is set on a variant's values too, so "products having this value" is one
    # indexed lookup whichever carries it.

    id = fields.IntField(primary_key=True)
    attribute: fields.ForeignKeyRelation[Attribute] = fields.ForeignKeyField(
        "models.Attribute", related_name="values", on_delete=fields.CASCADE
    )
    attribute_id: int
    product: fields.ForeignKeyRelation[Model] = fields.ForeignKeyField(
        "models.Product", related_name="attribute_values", on_delete=fields.CASCADE
    )
    product_id: int
    variant: fields.ForeignKeyNullableRelation[Model] = fields.ForeignKeyField(
        "models.ProductVariant", related_name="attribute_values", null=True, on_delete=fields.CASCADE
    )
    variant_id: int | None
    value_text = fields.CharField(max_length=ATTRIBUTE_VALUE_LENGTH, null=True)
    value_number = fields.DecimalField(max_digits=NUMBER_DIGITS, decimal_places=NUMBER_PLACES, null=True)
    value_bool = fields.BooleanField(null=True)
    value_date = fields.DateField(null=True)
    position = fields.IntField(default=0)  # a multi-select's values in the order they were given

    class Meta:
        table = "attribute_value"
        indexes = (
            Index(fields=("attribute_id", "value_text"), name="attribute_value_text_idx"),
            Index(fields=("attribute_id", "value_number"), name="attribute_value_number_idx"),
            Index(fields=("attribute_id", "value_bool"), name="attribute_value_bool_idx"),
            Index(fields=("attribute_id", "value_date"), name="attribute_value_date_idx"),
            Index(fields=("product_id", "variant_id"), name="attribute_value_product_idx"),
            Index(fields=("variant_id",), name="attribute_value_variant_idx"),
        )


class ShownValue(NamedTuple):
    # One stored value of a product or a variant (`owner_id`), with what the storefront shows of
    # its attribute: read in one statement for a whole page (loaders/attributes.py).
    owner_id: int
    attribute_id: int
    name: str
    slug: str
    type: AttributeType
    unit: str
    filterable: bool
    value: str | Decimal | bool | date
