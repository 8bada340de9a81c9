"""Reading and writing image files with Pillow: what an upload is, within limits, without its metadata.

An upload is trusted for nothing: its name and declared type are ignored, and its bytes are opened
only by the decoders of the formats the gateway takes (JPEG, PNG, WebP, and AVIF where this Pillow
reads it). The size in pixels is read from the header and checked before anything is decoded, so a
small file that would decode into gigabytes (a decompression bomb) is refused unread. What is kept
is a new encoding of the pixels: EXIF (camera, GPS position, orientation, applied first), XMP,
comments and text chunks are left behind; the ICC colour profile is kept, as colours depend on it.

CPU work: callers run these functions in a thread (`asyncio.to_thread`).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import BinaryIO

from PIL import Image, ImageOps, UnidentifiedImageError, features

from models.media import ImageFormat
from resolvers.errors import DomainError, ErrorCode

# What Pillow calls each format, and how each is written.
PILLOW_NAMES = {ImageFormat.JPEG: "JPEG", ImageFormat.PNG: "PNG", ImageFormat.WEBP: "WEBP", ImageFormat.AVIF: "AVIF"}
CONTENT_TYPES = {
    ImageFormat.JPEG: "image/jpeg",
    ImageFormat.PNG: "image/png",
    ImageFormat.WEBP: "image/webp",
    ImageFormat.AVIF: "image/avif",
}
EXTENSIONS = {ImageFormat.JPEG: "jpg", ImageFormat.PNG: "png", ImageFormat.WEBP: "webp", ImageFormat.AVIF: "avif"}
_SAVE_OPTIONS: dict[ImageFormat, dict[str, object]] = {
    ImageFormat.JPEG: {"quality": 88, "optimize": True, "progressive": True},
    ImageFormat.PNG: {"optimize": True},
    ImageFormat.WEBP: {"quality": 85, "method": 4},
    ImageFormat.AVIF: {"quality": 60},
}
ACCEPTED = "JPEG, PNG, WebP" + (" or AVIF" if features.check("avif") else "")


def available(format: ImageFormat) -> bool:
    """Whether this Pillow can write (and read) the format: AVIF needs a build with libavif."""
    return format is not ImageFormat.AVIF or bool(features.check("avif"))


@dataclass(frozen=True)
class Limits:
    max_bytes: int  # MEDIA_MAX_BYTES
    max_pixels: int  # MEDIA_MAX_PIXELS


@dataclass(frozen=True)
class Encoded:
    data: bytes
    format: ImageFormat
    width: int
    height: int

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]


def prepare(stream: BinaryIO, limits: Limits) -> Encoded:
    """The upload, checked and encoded again in its own format without metadata; DomainError
    (FILE_TOO_LARGE, INVALID_IMAGE) when it is too large or not an image of an accepted format."""
    stream.seek(0, io.SEEK_END)
    size = stream.tell()
    stream.seek(0)
    if size > limits.max_bytes:
        raise DomainError(
            ErrorCode.FILE_TOO_LARGE, f"The file has {size} bytes: at most {limits.max_bytes} are taken.", ["file"]
        )
    image = _open(stream, limits)
    format = next(f for f, name in PILLOW_NAMES.items() if name == image.format)
    return encode(image, format, None)


def open_stored(data: bytes, limits: Limits) -> Image.Image:
    """A stored original, opened for a thumbnail (checked as on upload: it passed then)."""
    return _open(io.BytesIO(data), limits)


def encode(image: Image.Image, format: ImageFormat, width: int | None) -> Encoded:
    """The pixels (no wider than `width`, proportions kept, never enlarged) in `format`, without metadata."""
    icc = image.info.get("icc_profile")
    image = ImageOps.exif_transpose(image)  # orientation applied: the EXIF that said it is not written
    if width is not None and image.width > width:
        image = image.resize((width, max(1, round(image.height * width / image.width))), Image.Resampling.LANCZOS)
    image = _mode_for(image, format)
    image.info = {}  # nothing read from the upload is written back but what is passed below
    out = io.BytesIO()
    options = dict(_SAVE_OPTIONS[format])
    if icc:
        options["icc_profile"] = icc
    image.save(out, PILLOW_NAMES[format], **options)
    return Encoded(out.getvalue(), format, image.width, image.height)


def _open(stream: BinaryIO, limits: Limits) -> Image.Image:
    formats = [PILLOW_NAMES[f] for f in ImageFormat if available(f)]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(stream, formats=formats)
            width, height = image.size
            if width * height > limits.max_pixels:
                raise DomainError(
                    ErrorCode.FILE_TOO_LARGE,
                    f"The image has {width} by {height} pixels: at most {limits.max_pixels} pixels are taken.",
                    ["file"],
                )
            image.load()  # decodes the first frame (an animation's others are not kept)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DomainError(
            ErrorCode.FILE_TOO_LARGE, f"The image has more than {limits.max_pixels} pixels.", ["file"]
        ) from None
    except UnidentifiedImageError:
        raise DomainError(
            ErrorCode.INVALID_IMAGE, f"The file is not an image Pillow can read as {ACCEPTED}.", ["file"]
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError):
        raise DomainError(
            ErrorCode.INVALID_IMAGE, "The image is damaged or cut short: it cannot be read.", ["file"]
        ) from None
    return image


def _mode_for(image: Image.Image, format: ImageFormat) -> Image.Image:
    """The image in a mode `format` can hold: JPEG has no transparency (white behind it)."""
    transparent = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    if format is ImageFormat.JPEG:
        if transparent:
            rgba = image.convert("RGBA")
            background = Image.new("RGB", rgba.size, (255, 255, 255))
            background.paste(rgba, mask=rgba.getchannel("A"))
            return background
        return image if image.mode in ("RGB", "L") else image.convert("RGB")
    if format is ImageFormat.PNG:
        return (
            image if image.mode in ("RGB", "RGBA", "L", "LA", "P") else image.convert("RGBA" if transparent else "RGB")
        )
    return image if image.mode in ("RGB", "RGBA") else image.convert("RGBA" if transparent else "RGB")
