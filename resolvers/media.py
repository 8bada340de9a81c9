"""Uploaded product images: storing them, their thumbnails, and removing their files.

`productMediaUpload` checks the file (resolvers/media_images.py), stores its new encoding in the
media storage (one interface, `MediaStorage`: the local filesystem or an S3-compatible store,
gateway/media_storage.py) under a name never used before, so whatever serves it may cache it for
ever, then records the image.

Thumbnails: `Image.url(width, format)` for a width of `WIDTHS`. The first time one is asked for, a
PENDING row is recorded (one per image, width and format: asking twice, or from two requests at
once, records it once) with an outbox change of its own kind; once committed, this module's outbox
consumer (`plan_thumbnails`, registered by gateway/jobs.py) has one `media.thumbnail` job deferred per
row, which makes it (`make_thumbnail`), stores it and marks it READY, evicting the cached answers
of its product. Until then the original's URL is given (Shopify's CDN makes sizes on request too;
here the request only asks).

Files go when their image does: deleting an image or its product records, in the same
transaction, an outbox change naming the files (original and thumbnails); the consumer
(`delete_files`) removes them from the storage after the commit, again after a failure.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from loaders import Loaders
from models import ImageFormat, ImageThumbnail, ProductImage, ThumbnailStatus
from models.changes import Change
from resolvers import catalogue_changes as changes
from resolvers import outbox
from resolvers.errors import BadInput
from resolvers.media_images import EXTENSIONS, Encoded, Limits, available, encode, open_stored

log = logging.getLogger("gateway.media")

WIDTHS = (160, 320, 640, 1024, 2048)  # the thumbnail widths `Image.url(width)` takes
THUMBNAILS = "media_thumbnails"  # the outbox change kind of thumbnails asked for (`ids`)
FILES_DELETED = "media_files_deleted"  # the outbox change kind of files to remove (`keys`)


class MediaStorage(Protocol):
    """Where uploaded media are kept: the local filesystem or an S3-compatible store."""

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store `data` under `key` (a key is written once: its content never changes)."""

    async def get(self, key: str) -> bytes: ...

    async def delete(self, keys: Sequence[str]) -> None:
        """Remove the files; a key already gone is no error."""

    def url(self, key: str) -> str:
        """The absolute URL clients fetch the file at."""


# --- thumbnails ------------------------------------------------------------------------------


def thumbnail_spec(width: int | None, format: ImageFormat | None, original_key: str) -> tuple[int, ImageFormat]:
    """The thumbnail `url(width, format)` asks for: width 0 is the original's size; no format, the original's."""
    if width is not None and width not in WIDTHS:
        raise BadInput(f"`width` must be one of {', '.join(map(str, WIDTHS))}, got {width}.", "width")
    if format is not None and not available(format):
        raise BadInput(f"{format.value} images cannot be made on this server.", "format")
    return width or 0, format or _format_of(original_key)


@dataclass(frozen=True)
class Original:
    """An uploaded image: its id, its key in the storage and its width in pixels."""

    image_id: int
    key: str
    width: int | None


async def thumbnail_key(
    loaders: Loaders, original: Original, width: int | None, format: ImageFormat | None
) -> str | None:
    """The stored thumbnail of an uploaded image (the original's own key when it already is what is
    asked: its format, no wider), or None (the original stands in) while it is being made: then it
    is asked for, once."""
    size, kind = thumbnail_spec(width, format, original.key)
    image_id = original.image_id
    if kind == _format_of(original.key) and (size == 0 or (original.width is not None and size >= original.width)):
        return original.key
    for thumbnail in await loaders.thumbnails_by_image_id.load(image_id):
        if thumbnail.width == size and thumbnail.format == kind.value:
            return thumbnail.storage_key if thumbnail.status == ThumbnailStatus.READY else None
    await _ask_for(image_id, size, kind)
    return None


async def _ask_for(image_id: int, width: int, format: ImageFormat) -> None:
    async with outbox.transaction():
        await ImageThumbnail.bulk_create(
            [ImageThumbnail(image_id=image_id, width=width, format=format.value)], ignore_conflicts=True
        )
        outbox.record(Change(THUMBNAILS, {"image": image_id, "width": width, "format": format.value}))


async def plan_thumbnails(changes_: list[Change]) -> list[int]:
    """The outbox consumer's part: the thumbnails asked for whose job is not deferred yet."""
    asked = [c.payload for c in changes_ if c.kind == THUMBNAILS]
    if not asked:
        return []
    waiting = await ImageThumbnail.filter(
        image_id__in={a["image"] for a in asked}, status=ThumbnailStatus.PENDING, queued=False
    ).order_by("id")
    wanted = {(a["image"], a["width"], a["format"]) for a in asked}
    return [t.id for t in waiting if (t.image_id, t.width, t.format) in wanted]


async def mark_queued(thumbnail_ids: list[int]) -> None:
    await ImageThumbnail.filter(id__in=thumbnail_ids).update(queued=True)


async def make_thumbnail(storage: MediaStorage, limits: Limits, thumbnail_id: int) -> str:
    """Make, store and record one thumbnail; what became of it (a repeated job makes nothing)."""
    thumbnail = await ImageThumbnail.get_or_none(id=thumbnail_id)
    if thumbnail is None:
        return "gone"
    if thumbnail.status != ThumbnailStatus.PENDING:
        return thumbnail.status
    image = await ProductImage.get_or_none(id=thumbnail.image_id)
    if image is None or image.storage_key is None:
        return "gone"
    format = ImageFormat(thumbnail.format)
    original = await storage.get(image.storage_key)
    encoded: Encoded = await asyncio.to_thread(
        lambda: encode(open_stored(original, limits), format, thumbnail.width or None)
    )
    stem = image.storage_key.rsplit(".", 1)[0]
    key = f"{stem}-{thumbnail.width or 'full'}.{EXTENSIONS[format]}"
    await storage.put(key, encoded.data, encoded.content_type)
    async with outbox.transaction():
        done = await ImageThumbnail.filter(id=thumbnail_id, status=ThumbnailStatus.PENDING).update(
            status=ThumbnailStatus.READY, storage_key=key
        )
        if done:
            changes.record([changes.product(image.product_id)])  # answers showing the original go
    return ThumbnailStatus.READY.value if done else (await ImageThumbnail.get(id=thumbnail_id)).status


async def give_up_thumbnail(thumbnail_id: int) -> None:
    """Its job's last attempt failed: the original is shown for good (asking again changes nothing)."""
    await ImageThumbnail.filter(id=thumbnail_id, status=ThumbnailStatus.PENDING).update(status=ThumbnailStatus.FAILED)


# --- removing files --------------------------------------------------------------------------


async def forget_files(image_ids: Iterable[int] | None = None, product_id: int | None = None) -> None:
    """In the transaction deleting these images (or the product's), note their files for removal
    after the commit: the originals and every thumbnail."""
    images = ProductImage.filter(storage_key__not_isnull=True)
    images = (
        images.filter(product_id=product_id) if product_id is not None else images.filter(id__in=list(image_ids or ()))
    )
    originals = await images.values_list("id", "storage_key")
    if not originals:
        return
    ids = [image_id for image_id, _ in originals]
    thumbnails = await ImageThumbnail.filter(image_id__in=ids, storage_key__not_isnull=True).values_list(
        "storage_key", flat=True
    )
    keys = sorted({str(key) for _, key in originals} | {str(key) for key in thumbnails})
    outbox.record(Change(FILES_DELETED, {"keys": keys, "at": datetime.now(UTC).isoformat()}))


async def delete_files(storage: MediaStorage, changes_: list[Change]) -> None:
    """The outbox consumer of removed images: their files go from the storage (raises, to be handed
    the changes again, while the storage cannot be reached)."""
    keys = sorted({key for c in changes_ if c.kind == FILES_DELETED for key in c.payload["keys"]})
    if keys:
        await storage.delete(keys)
        log.info("media: removed %d files of deleted images", len(keys))


def _format_of(key: str) -> ImageFormat:
    extension = key.rsplit(".", 1)[-1]
    return next(f for f, e in EXTENSIONS.items() if e == extension)
