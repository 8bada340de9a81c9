"""Staff uploading product images (MANAGE_PRODUCTS): `productMediaUpload`, a multipart request."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.file_uploads import Upload
from strawberry.types import Info

from models import Permission
from models.catalogue import ALT_TEXT_LENGTH
from models.rows import image_row
from resolvers import media_admin
from resolvers.media_images import ACCEPTED
from schema.catalogue import Image, build_image
from schema.context import Context
from schema.ids import decode_id_of
from schema.permissions import requires
from schema.shared import UserError, attempt
from schema.uploads import uploaded_file


@strawberry.type(description="What `productMediaUpload` did.")
class ProductMediaUploadPayload:
    image: Image | None = strawberry.field(description="The new image; null when nothing changed.")
    user_errors: list[UserError] = strawberry.field(
        description="Why nothing changed (`INVALID_IMAGE`, `FILE_TOO_LARGE`, `NOT_FOUND`); empty on success."
    )


@strawberry.type
class MediaAdminMutation:
    @strawberry.mutation(
        extensions=requires(Permission.MANAGE_PRODUCTS),
        description=f"Upload an image of a product ({ACCEPTED}), placed after its other images. Sent as a "
        "multipart request (the `Upload` scalar). Its content decides what it is, not its name; it is stored "
        "encoded anew, without its metadata (EXIF, GPS position, XMP): MEDIA_MAX_BYTES and MEDIA_MAX_PIXELS "
        "bound it.",
    )
    async def product_media_upload(
        self,
        info: Info[Context, None],
        product_id: Annotated[strawberry.ID, strawberry.argument(description="The product the image shows.")],
        file: Annotated[Upload, strawberry.argument(description="The image file.")],
        alt_text: Annotated[
            str | None,
            strawberry.argument(
                description=f"What the image shows, for those who cannot see it: at most {ALT_TEXT_LENGTH} characters."
            ),
        ] = None,
    ) -> ProductMediaUploadPayload:
        context = info.context
        if context.media is None:
            raise RuntimeError("no media storage configured")  # the app always gives one
        image, errors = await attempt(
            media_admin.upload(
                context.media,
                context.media_limits,
                decode_id_of(product_id, "Product", "productId"),
                uploaded_file(file, "file"),
                alt_text,
            )
        )
        return ProductMediaUploadPayload(
            image=None if image is None else build_image(image_row(image)), user_errors=errors
        )
