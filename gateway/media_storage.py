"""The media storage (resolvers/media.py's `MediaStorage`): the local filesystem or an S3-compatible store.

MEDIA_STORAGE_URL picks one: a directory (the default, `var/media`) or `s3://bucket/prefix`.

Local files are served by the gateway itself under `/media/` (`media_files`). Every key is written
once and never changed (resolvers/media.py names each upload and thumbnail anew), so responses
may be cached for ever (`Cache-Control: immutable`, a year); the ETag lets a client that still
asks get a 304 without the bytes.

S3: boto3, AWS's own SDK, called in a thread: it reads the standard AWS variables itself
(AWS_ENDPOINT_URL for another S3-compatible server, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_REGION / AWS_DEFAULT_REGION, profiles, instance roles), signs, retries and streams. aiobotocore
would save the thread, but it pins botocore to one release per version and brings aiohttp: an
upload is rare, and a thread per call costs nothing next to the network. Files are fetched from the
store directly, at MEDIA_PUBLIC_URL (a CDN or the bucket's website) or the bucket's own address.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response

from gateway.settings import Settings
from resolvers.errors import StorageUnavailable
from resolvers.media import MediaStorage
from resolvers.media_images import Limits

MEDIA_PATH = "/media/"
# A stored file never changes: a year, and `immutable` (no revalidation on reload).
CACHE_FOREVER = "public, max-age=31536000, immutable"
_DELETE_BATCH = 1000  # S3's DeleteObjects takes at most this many keys
_TIMEOUTS = {"connect_timeout": 5, "read_timeout": 30}


class LocalStorage:
    """Files under a directory, served by the gateway under /media/ at `public_url`."""

    def __init__(self, root: str | Path, public_url: str) -> None:
        self.root = Path(root).resolve()
        self.public_url = public_url.rstrip("/")

    def path(self, key: str) -> Path | None:
        """Where `key` is on disk; None for a key that would leave the directory."""
        if not key or "\x00" in key or key.startswith("/") or "\\" in key:
            return None
        path = (self.root / key).resolve()
        return path if path.is_relative_to(self.root) and path != self.root else None

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self.path(key)
        if path is None:
            raise ValueError(f"not a media key: {key!r}")
        try:
            await asyncio.to_thread(_write_atomically, path, data)
        except OSError as error:
            raise StorageUnavailable(f"cannot write {key}: {error}") from error

    async def get(self, key: str) -> bytes:
        path = self.path(key)
        if path is None:
            raise FileNotFoundError(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise
        except OSError as error:
            raise StorageUnavailable(f"cannot read {key}: {error}") from error

    async def delete(self, keys: Sequence[str]) -> None:
        def remove() -> None:
            for key in keys:
                path = self.path(key)
                if path is not None:
                    path.unlink(missing_ok=True)

        try:
            await asyncio.to_thread(remove)
        except OSError as error:
            raise StorageUnavailable(f"cannot delete: {error}") from error

    def url(self, key: str) -> str:
        return self.public_url + MEDIA_PATH + quote(key)


def _write_atomically(path: Path, data: bytes) -> None:
    """Written whole or not at all: a reader never sees half a file under its final name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, prefix=".upload-") as file:
        file.write(data)
    os.replace(file.name, path)


def media_files(storage: LocalStorage) -> Callable[[Request], Any]:
    """GET /media/{key}: a stored file, cacheable for ever, 304 for a client holding it already."""

    async def serve(request: Request) -> Response:
        key = request.path_params["key"]
        path = storage.path(key)
        if path is None or not path.is_file():
            return PlainTextResponse("Not found", 404, headers={"Cache-Control": "no-store"})
        # The key names one content for ever: its hash is the entity tag.
        etag = '"' + hashlib.sha256(key.encode()).hexdigest()[:32] + '"'
        headers = {"ETag": etag, "Cache-Control": CACHE_FOREVER, "X-Content-Type-Options": "nosniff"}
        if etag in [tag.strip().removeprefix("W/") for tag in request.headers.get("if-none-match", "").split(",")]:
            return Response(status_code=304, headers=headers)
        return FileResponse(path, headers=headers)

    return serve


class S3Storage:
    """Objects under `prefix` in an S3 bucket (any S3-compatible server), fetched at `public_url`."""

    def __init__(self, bucket: str, prefix: str, public_url: str | None, client: Any = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.client = client if client is not None else s3_client()
        if public_url:
            self.public_url = public_url.rstrip("/")
        else:
            # The bucket's own address: path-style on the endpoint boto3 was given (another
            # S3-compatible server), else AWS's virtual-hosted style.
            endpoint = self.client.meta.endpoint_url.rstrip("/")
            if os.environ.get("AWS_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL_S3"):
                self.public_url = f"{endpoint}/{bucket}"
            else:
                self.public_url = f"https://{bucket}.s3.{self.client.meta.region_name}.amazonaws.com"

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        with _unavailable_on_failure(f"cannot write {key}"):
            await asyncio.to_thread(
                self.client.put_object,
                Bucket=self.bucket,
                Key=self.prefix + key,
                Body=data,
                ContentType=content_type,
                CacheControl=CACHE_FOREVER,
            )

    async def get(self, key: str) -> bytes:
        def read() -> bytes:
            body = self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)["Body"]
            with body:
                return bytes(body.read())

        with _unavailable_on_failure(f"cannot read {key}", refused_too=False):
            return await asyncio.to_thread(read)

    async def delete(self, keys: Sequence[str]) -> None:
        for start in range(0, len(keys), _DELETE_BATCH):
            objects = [{"Key": self.prefix + key} for key in keys[start : start + _DELETE_BATCH]]
            with _unavailable_on_failure("cannot delete"):
                await asyncio.to_thread(
                    self.client.delete_objects, Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True}
                )

    def url(self, key: str) -> str:
        return f"{self.public_url}/{quote(self.prefix + key)}"


@contextmanager
def _unavailable_on_failure(what: str, *, refused_too: bool = True) -> Iterator[None]:
    """S3 errors as StorageUnavailable: the store not answering (botocore's own errors: connection,
    timeouts, credentials) and, with `refused_too`, refusing the request (an S3 error answer: no
    such bucket, access denied), which a write or a delete can only meet by misconfiguration."""
    from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

    try:
        yield
    except BotoCoreError as error:
        raise StorageUnavailable(f"{what}: {error}") from error
    except ClientError as error:
        if refused_too:
            raise StorageUnavailable(f"{what}: {error}") from error
        raise


def s3_client() -> Any:
    """A boto3 S3 client configured by the standard AWS variables, with bounded waits."""
    import boto3  # type: ignore[import-untyped]  # only a gateway storing media in S3 loads it
    from botocore.config import Config  # type: ignore[import-untyped]

    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None
    config = Config(**_TIMEOUTS, retries={"max_attempts": 3, "mode": "standard"})
    return boto3.session.Session().client("s3", region_name=region, config=config)


def media_storage(storage_url: str, media_public_url: str | None, public_url: str) -> MediaStorage:
    """The storage MEDIA_STORAGE_URL names. Clients fetch its files at MEDIA_PUBLIC_URL when set;
    else local files at the gateway's PUBLIC_URL, S3 objects at the bucket's own address."""
    parts = urlsplit(storage_url)
    if parts.scheme == "s3":
        return S3Storage(parts.netloc, parts.path, media_public_url)
    return LocalStorage(storage_url.removeprefix("file://"), media_public_url or public_url)


@dataclass(frozen=True)
class Media:
    """Where uploaded media are kept, and what an upload (and so a stored original) may be."""

    storage: MediaStorage
    limits: Limits


def media_uploads(settings: Settings) -> Media:
    """The media storage MEDIA_STORAGE_URL names, and the limits MEDIA_MAX_BYTES and MEDIA_MAX_PIXELS set."""
    return Media(
        media_storage(settings.media_storage_url, settings.media_public_url, settings.public_url),
        Limits(settings.media_max_bytes, settings.media_max_pixels),
    )
