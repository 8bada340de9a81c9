"""Uploaded media as the storefront sees them: an image's URL, in a thumbnail's width and format."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, Protocol

from strawberry.types import Info

from models import ImageFormat
from resolvers import media
from schema.context import Context
from schema.shared import described_enum

described_enum(
    ImageFormat,
    "A format an image can be asked for in (`Image.url(format:)`).",
    {
        ImageFormat.JPEG: "JPEG: photographs, no transparency (a white background stands in).",
        ImageFormat.PNG: "PNG: lossless, with transparency.",
        ImageFormat.WEBP: "WebP: smaller than JPEG for the same look, with transparency.",
        ImageFormat.AVIF: "AVIF: smaller still; refused by servers whose image library cannot write it.",
    },
)

WIDTHS_TEXT = ", ".join(map(str, media.WIDTHS))


class Shown(Protocol):
    """An image as `Image` holds it (schema/catalogue.py)."""

    image_id: int
    link: str
    storage_key: str | None
    width: int | None


def image_url(
    info: Info[Context, Any], image: Shown, width: int | None, format: ImageFormat | None
) -> str | Awaitable[str]:
    """An image's URL: a linked one's as staff gave it (whatever is asked), an uploaded one's in
    the media storage, or its thumbnail's once made. Only a thumbnail costs a wait."""
    storage = info.context.media
    if image.storage_key is None or storage is None:
        if width is not None or format is not None:
            media.thumbnail_spec(width, format, "x.jpg")  # the same checks
        return image.link
    if width is None and format is None:
        return storage.url(image.storage_key)
    return _thumbnail_url(info, image, image.storage_key, width, format)


async def _thumbnail_url(
    info: Info[Context, Any], image: Shown, storage_key: str, width: int | None, format: ImageFormat | None
) -> str:
    storage = info.context.media
    assert storage is not None  # image_url checked
    key = await media.thumbnail_key(
        info.context.loaders, media.Original(image.image_id, storage_key, image.width), width, format
    )
    return storage.url(key or storage_key)
