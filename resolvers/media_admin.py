"""Staff uploading product images (`productMediaUpload`, MANAGE_PRODUCTS): resolvers/media.py says the rest.

The file is checked and encoded again first (resolvers/media_images.py), then stored under a name
never used before, then the image recorded; a failure after the file is stored removes it again.
"""

from __future__ import annotations

import asyncio
import logging
import secrets

from models import Product, ProductImage
from models.catalogue import ALT_TEXT_LENGTH
from resolvers import catalogue_changes as changes
from resolvers import catalogue_events, outbox
from resolvers.errors import DomainError, ErrorCode, StorageUnavailable
from resolvers.media import MediaStorage
from resolvers.media_images import EXTENSIONS, Limits, prepare
from resolvers.uploads import UploadedFile

log = logging.getLogger(__name__)

# --- upload ----------------------------------------------------------------------------------


async def upload(
    storage: MediaStorage, limits: Limits, product_id: int, file: UploadedFile, alt_text: str | None
) -> ProductImage:
    """Check, clean and store an uploaded image of a product, after its other images."""
    if not await Product.filter(id=product_id).exists():
        raise DomainError(ErrorCode.NOT_FOUND, "The product does not exist.", ["productId"])
    alt_text = (alt_text or "").strip()
    if len(alt_text) > ALT_TEXT_LENGTH:
        raise DomainError(ErrorCode.TOO_LONG, f"Alt text may have at most {ALT_TEXT_LENGTH} characters.", ["altText"])
    encoded = await asyncio.to_thread(prepare, file.stream, limits)
    key = f"products/{product_id}/{secrets.token_hex(16)}.{EXTENSIONS[encoded.format]}"
    await storage.put(key, encoded.data, encoded.content_type)
    try:
        async with outbox.transaction():
            # Under the product's row lock: a product deleted meanwhile is not given an image.
            if await Product.filter(id=product_id).select_for_update().first() is None:
                raise DomainError(ErrorCode.NOT_FOUND, "The product does not exist.", ["productId"])
            position = await ProductImage.filter(product_id=product_id).count()
            image = await ProductImage.create(
                product_id=product_id,
                url=storage.url(key),
                alt_text=alt_text,
                position=position,
                storage_key=key,
                width=encoded.width,
                height=encoded.height,
                format=encoded.format.value,
            )
            changes.record([changes.product(product_id)])
            catalogue_events.updated(product_id)
    except BaseException:
        try:
            await storage.delete([key])  # nothing refers to it
        except StorageUnavailable:
            log.warning("could not remove the unused upload %s; it stays in the storage", key)
        raise
    return image
