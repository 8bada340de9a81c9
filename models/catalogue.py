"""The catalogue: a category tree, products, their variants, option values and images."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.indexes import Index
from tortoise.migrations.constraints import CheckConstraint
from tortoise.models import Model

# Column lengths that input is checked against before it is written or filtered on: the fields
# below and the validation in resolvers/ read the same number.
CATEGORY_NAME_LENGTH = 200
NAME_LENGTH = 255  # product and variant names
OPTION_NAME_LENGTH = 64
OPTION_VALUE_LENGTH = 128
SLUG_LENGTH = 200  # a category's column; a product's is wider (255), so a product's slug fits too
SKU_LENGTH = 64
MAX_LOW_STOCK_THRESHOLD = 1_000_000
IMAGE_URL_LENGTH = 1024
ALT_TEXT_LENGTH = 255
PATH_LENGTH = 255  # a category's ancestor path: it bounds how deep the tree can go
# What search engines show of a page: its title and its snippet. Saleor's SeoModel uses the same
# bounds; Google cuts titles near 60 characters and snippets near 160, so staff get some room, not more.
SEO_TITLE_LENGTH = 70
SEO_DESCRIPTION_LENGTH = 300
MEDIA_KEY_LENGTH = 200  # where an uploaded image is kept in the media storage (models/media.py)


class ProductStatus(StrEnum):
    DRAFT = "DRAFT"
    ACTIVE = "ACTIVE"
    ARCHIVED = "ARCHIVED"


class Category(Model):
    # A node of the category tree.
    #
    # `path` is the materialized chain of ancestor ids including this one ("/1/4/9/"), so
    # "this category and its descendants" is one indexed prefix match and breadcrumbs are one batch.

    id = fields.IntField(primary_key=True)
    parent: fields.ForeignKeyNullableRelation[Category] = fields.ForeignKeyField(
        "models.Category", related_name="children", null=True, on_delete=fields.RESTRICT
    )
    parent_id: int | None
    name = fields.CharField(max_length=CATEGORY_NAME_LENGTH)
    slug = fields.CharField(max_length=SLUG_LENGTH, unique=True)
    description = fields.TextField(default="")
    position = fields.IntField(default=0)
    path = fields.CharField(max_length=PATH_LENGTH, db_index=True)
    depth = fields.IntField(default=0)
    # Staff's words for search engines; null: the name and description stand in (resolvers/catalogue_seo.py).
    seo_title = fields.CharField(max_length=SEO_TITLE_LENGTH, null=True)
    seo_description = fields.CharField(max_length=SEO_DESCRIPTION_LENGTH, null=True)
    # The sitemap's <lastmod>; null for categories not changed since the column came (migration 0027).
    updated_at = fields.DatetimeField(auto_now=True, null=True)

    class Meta:
        table = "category"
        indexes = (Index(fields=("parent_id", "position"), name="category_parent_position_idx"),)

    @property
    def ancestor_ids(self) -> list[int]:
        # Ids from the root down to the parent (breadcrumb order).
        return [int(part) for part in self.path.strip("/").split("/")[:-1] if part]


class Product(Model):
    # Listings read products as rows (`models.rows.ProductRow`), this model's columns.

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=NAME_LENGTH)
    slug = fields.CharField(max_length=255, unique=True)
    description = fields.TextField(default="")
    category: fields.ForeignKeyNullableRelation[Category] = fields.ForeignKeyField(
        "models.Category", related_name="products", null=True, on_delete=fields.SET_NULL
    )
    category_id: int | None
    status = fields.CharEnumField(ProductStatus, max_length=16, default=ProductStatus.DRAFT)
    # Which attributes it and its variants carry (models/attributes.py); null: none yet.
    product_type: fields.ForeignKeyNullableRelation[Model] = fields.ForeignKeyField(
        "models.ProductType", related_name="products", null=True, on_delete=fields.SET_NULL
    )
    product_type_id: int | None
    # Lowest variant price, kept by resolvers.catalogue.refresh_price_ranges so that sorting and
    # filtering by price is an indexed column rather than an aggregate over every variant.
    min_price = fields.DecimalField(max_digits=12, decimal_places=2, null=True)
    # Staff's words for search engines; null: the name and description stand in (resolvers/catalogue_seo.py).
    seo_title = fields.CharField(max_length=SEO_TITLE_LENGTH, null=True)
    seo_description = fields.CharField(max_length=SEO_DESCRIPTION_LENGTH, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "product"
        indexes = (
            Index(fields=("status", "name", "id"), name="product_status_name_idx"),
            Index(fields=("status", "min_price", "id"), name="product_status_price_idx"),
            Index(fields=("status", "created_at", "id"), name="product_status_created_idx"),
            Index(fields=("category_id", "status"), name="product_category_status_idx"),
        )


class ProductRelated(Model):
    # A product staff chose to show beside another ("related products"), in their order.

    id = fields.IntField(primary_key=True)
    product: fields.ForeignKeyRelation[Product] = fields.ForeignKeyField(
        "models.Product", related_name="related_links", on_delete=fields.CASCADE
    )
    product_id: int
    related: fields.ForeignKeyRelation[Product] = fields.ForeignKeyField(
        "models.Product", related_name="related_from", on_delete=fields.CASCADE
    )
    related_id: int
    position = fields.IntField(default=0)

    class Meta:
        table = "product_related"
        unique_together = (("product_id", "related_id"),)
        indexes = (Index(fields=("product_id", "position"), name="product_related_position_idx"),)
        constraints = (CheckConstraint(check="product_id <> related_id", name="product_related_not_itself"),)


class ProductVariant(Model):
    # Read as rows (`models.rows.VariantRow`) wherever listings, carts and checkouts read it.

    id = fields.IntField(primary_key=True)
    product: fields.ForeignKeyRelation[Product] = fields.ForeignKeyField(
        "models.Product", related_name="variants", on_delete=fields.CASCADE
    )
    product_id: int
    sku = fields.CharField(max_length=SKU_LENGTH, unique=True)
    name = fields.CharField(max_length=NAME_LENGTH)
    price = fields.DecimalField(max_digits=12, decimal_places=2)
    compare_at_price = fields.DecimalField(max_digits=12, decimal_places=2, null=True)
    weight_grams = fields.IntField(default=0)
    position = fields.IntField(default=0)
    # Staff's low-stock threshold (null: no alerts) and when its STOCK_LOW alert went out: set when
    # the stock available falls to the threshold, cleared when it is back above (or the threshold
    # changes), so each fall is announced once (resolvers/stock_alerts.py). Migration 0017 indexes
    # the variants that have a threshold, the only ones the periodic check reads.
    low_stock_threshold = fields.IntField(null=True)
    low_stock_alerted_at = fields.DatetimeField(null=True)
    # No `created_at`: nothing read it, and decoding a timestamptz costs asyncpg ~1.4 us a row, the
    # dearest column of the listing's variants statement (~0.2 ms CPU per 50-product page).

    class Meta:
        table = "product_variant"
        indexes = (
            Index(fields=("product_id", "position"), name="variant_product_position_idx"),
            Index(fields=("price",), name="variant_price_idx"),
        )
        constraints = (
            CheckConstraint(check="price >= 0", name="variant_price_non_negative"),
            CheckConstraint(
                check="compare_at_price IS NULL OR compare_at_price >= 0",
                name="variant_compare_at_price_non_negative",
            ),
            CheckConstraint(check="weight_grams >= 0", name="variant_weight_non_negative"),
        )


class VariantOption(Model):
    # One option value of a variant ("Size" = "M"); a table so option filters and facets use an index.

    id = fields.IntField(primary_key=True)
    variant: fields.ForeignKeyRelation[ProductVariant] = fields.ForeignKeyField(
        "models.ProductVariant", related_name="options", on_delete=fields.CASCADE
    )
    variant_id: int
    name = fields.CharField(max_length=OPTION_NAME_LENGTH)
    value = fields.CharField(max_length=OPTION_VALUE_LENGTH)
    position = fields.IntField(default=0)

    class Meta:
        table = "variant_option"
        unique_together = (("variant_id", "name"),)
        indexes = (Index(fields=("name", "value"), name="variant_option_name_value_idx"),)


class ProductImage(Model):
    id = fields.IntField(primary_key=True)
    product: fields.ForeignKeyRelation[Product] = fields.ForeignKeyField(
        "models.Product", related_name="images", on_delete=fields.CASCADE
    )
    product_id: int
    # An image staff linked keeps their URL; an uploaded one (`productMediaUpload`) is kept in the
    # media storage under `storage_key` (its URL there is worked out when shown, `url` holds the one
    # it had when uploaded), with its size in pixels and format: thumbnails are made from it.
    url = fields.CharField(max_length=IMAGE_URL_LENGTH)
    alt_text = fields.CharField(max_length=ALT_TEXT_LENGTH, default="")
    position = fields.IntField(default=0)
    storage_key = fields.CharField(max_length=MEDIA_KEY_LENGTH, null=True)
    width = fields.IntField(null=True)
    height = fields.IntField(null=True)
    format = fields.CharField(max_length=8, null=True)  # models/media.py's ImageFormat

    class Meta:
        table = "product_image"
        indexes = (Index(fields=("product_id", "position"), name="image_product_position_idx"),)
