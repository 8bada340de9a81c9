"""Uploaded media: the thumbnails made (or asked for) of each image."""

from __future__ import annotations

from loaders.base import Loader, many_per_key
from models import ImageThumbnail


class ThumbnailsByImageIdLoader(Loader[int, list[ImageThumbnail]]):
    async def batch_load_fn(self, keys: list[int]) -> list[list[ImageThumbnail]]:
        thumbnails = await ImageThumbnail.filter(image_id__in=keys).order_by("id")
        return many_per_key(keys, thumbnails, lambda t: t.image_id)
