"""Uploaded media: the thumbnails made of uploaded product images (the images are models/catalogue.py's)."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from models.catalogue import MEDIA_KEY_LENGTH, ProductImage


class ImageFormat(StrEnum):
    JPEG = "JPEG"
    PNG = "PNG"
    WEBP = "WEBP"
    AVIF = "AVIF"


class ThumbnailStatus(StrEnum):
    PENDING = "PENDING"  # asked for: its job makes it
    READY = "READY"  # in the media storage under `storage_key`
    FAILED = "FAILED"  # its job gave up: the original is shown instead


class ImageThumbnail(Model):
    # One smaller (or converted) copy of an uploaded image, asked for by `Image.url(width, format)`:
    # one row per image, width and format, so asking twice makes it once. `width` 0 is the
    # original's size in another format. Deleting the image deletes these rows; its files go from
    # the storage through the outbox (resolvers/media.py).
    id = fields.IntField(primary_key=True)
    image: fields.ForeignKeyRelation[ProductImage] = fields.ForeignKeyField(
        "models.ProductImage", related_name="thumbnails", on_delete=fields.CASCADE
    )
    image_id: int
    width = fields.IntField()
    format = fields.CharField(max_length=8)  # ImageFormat
    status = fields.CharField(max_length=8, default=ThumbnailStatus.PENDING.value)  # ThumbnailStatus
    storage_key = fields.CharField(max_length=MEDIA_KEY_LENGTH, null=True)
    queued = fields.BooleanField(default=False)  # its job is deferred
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "image_thumbnail"
        unique_together = (("image_id", "width", "format"),)
