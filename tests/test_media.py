"""productMediaUpload: images uploaded as a client uploads them (multipart), checked, cleaned,
stored (the local filesystem, served under /media/; an S3-compatible store, moto's server), their
thumbnails made once by a job, and their files removed with them."""

from __future__ import annotations

import asyncio
import io
import json
import socket
import struct
import subprocess
import time
import uuid
import zlib
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import httpx
import pytest
from PIL import Image, features

from gateway.app import create_app
from gateway.job_stats import JobStats
from gateway.jobs import MEDIA_CONSUMER, Housekeeping, Jobs
from gateway.media_storage import LocalStorage, Media
from gateway.settings import load_settings
from models import ImageThumbnail, OutboxEvent, Permission, ProductImage
from resolvers import outbox
from tests.live import job_worker
from tests.staff import bearer, token_for
from tests.uploads import multipart_parts, post_files, serve_counting_reads

UPLOAD = (
    "mutation($p: ID!, $f: Upload!, $a: String) { productMediaUpload(productId: $p, file: $f, altText: $a) "
    "{ image { id url altText } userErrors { field code message } } }"
)
IMAGES = "query($id: ID!) { product(id: $id) { images { id url altText } } }"
THUMB = "query($id: ID!, $w: Int, $f: ImageFormat) { product(id: $id) { images { url(width: $w, format: $f) } } }"


def picture(format: str, size: tuple[int, int] = (800, 600), gps: bool = False) -> bytes:
    mode = "RGBA" if format in ("PNG", "WEBP") else "RGB"
    image = Image.new(mode, size, (200, 40, 40, 255) if mode == "RGBA" else (200, 40, 40))
    out = io.BytesIO()
    options: dict[str, Any] = {}
    if gps:
        exif = Image.Exif()
        exif[0x010F] = "Camera maker"
        exif.get_ifd(0x8825).update({1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 0.0)})
        options["exif"] = exif.tobytes()
    image.save(out, format, **options)
    return out.getvalue()


def huge_png(width: int, height: int) -> bytes:
    """A PNG whose header says `width` by `height`: a decompression bomb's shape, tiny on the wire."""
    data = bytearray(picture("PNG", (1, 1)))
    ihdr = data.index(b"IHDR")
    data[ihdr + 4 : ihdr + 12] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr : ihdr + 17]))
    data[ihdr + 17 : ihdr + 21] = struct.pack(">I", crc)
    return bytes(data)


@pytest.fixture
async def staff_headers(db: Any) -> dict[str, str]:
    return bearer(await token_for(Permission.MANAGE_PRODUCTS))


async def new_product(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    query = "mutation($i: ProductCreateInput!) { productCreate(input: $i) { product { id } } }"
    body = (
        await client.post(
            "/graphql",
            json={"query": query, "variables": {"i": {"name": f"Kite {uuid.uuid4().hex[:6]}"}}},
            headers=headers,
        )
    ).json()
    return str(body["data"]["productCreate"]["product"]["id"])


async def upload(client, headers, product_id, data, name="a.jpg", content_type="image/jpeg", alt=None) -> dict:
    response = await post_files(
        client, UPLOAD, {"p": product_id, "a": alt}, {"f": (name, data, content_type)}, headers=headers
    )
    assert response.status_code == 200, response.text
    return dict(response.json()["data"]["productMediaUpload"])


async def query(client, headers, document, variables) -> dict:
    return dict(
        (await client.post("/graphql", json={"query": document, "variables": variables}, headers=headers)).json()
    )


def stored_files(app: Any) -> set[Path]:
    root = app.state.media.storage.root
    return {path for path in root.rglob("*") if path.is_file()}


async def test_an_upload_is_stored_clean_and_served_for_ever(app, client, staff_headers):
    product = await new_product(client, staff_headers)
    result = await upload(client, staff_headers, product, picture("JPEG", gps=True), alt="A red kite")
    assert result["userErrors"] == []
    url = result["image"]["url"]
    assert url.startswith("http://127.0.0.1:8000/media/products/") and url.endswith(".jpg")
    images = (await query(client, staff_headers, IMAGES, {"id": product}))["data"]["product"]["images"]
    assert images == [result["image"]] and images[0]["altText"] == "A red kite"

    served = await client.get(urlsplit(url).path)
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
    kept = Image.open(io.BytesIO(served.content))
    assert kept.format == "JPEG" and kept.size == (800, 600)
    assert not kept.getexif() and "exif" not in kept.info  # the camera and its GPS position are gone
    again = await client.get(urlsplit(url).path, headers={"if-none-match": served.headers["etag"]})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == served.headers["etag"]
    assert (await client.get("/media/products/../../etc/passwd")).status_code == 404
    assert (await client.get("/media/products/nothing.jpg")).status_code == 404


@pytest.mark.parametrize("format", ["PNG", "WEBP", *(["AVIF"] if features.check("avif") else [])])
async def test_png_webp_and_avif_keep_their_format(app, client, staff_headers, format):
    product = await new_product(client, staff_headers)
    result = await upload(client, staff_headers, product, picture(format, (64, 48)), f"x.{format.lower()}", "image/x")
    assert result["userErrors"] == [], result
    served = await client.get(urlsplit(result["image"]["url"]).path)
    assert Image.open(io.BytesIO(served.content)).format == format


async def test_what_is_not_a_usable_image_is_refused_and_nothing_is_stored(app, client, staff_headers):
    product = await new_product(client, staff_headers)
    before = stored_files(app)
    jpeg = picture("JPEG")
    cases = [
        (b"just some text, named like a photo\n" * 10, "INVALID_IMAGE"),  # a text file renamed .jpg
        (jpeg[: len(jpeg) // 2], "INVALID_IMAGE"),  # cut short
        (b"GIF89a" + jpeg[6:], "INVALID_IMAGE"),  # a format the gateway does not take
        (huge_png(10_000, 10_000), "FILE_TOO_LARGE"),  # 100 million pixels: refused before decoding
    ]
    for data, code in cases:
        result = await upload(client, staff_headers, product, data)
        assert result["image"] is None and [e["code"] for e in result["userErrors"]] == [code], result
        assert result["userErrors"][0]["field"] == ["file"]
    unknown = await upload(client, staff_headers, "UHJvZHVjdDo5OTk5OTk5", jpeg)  # Product:9999999
    assert [e["code"] for e in unknown["userErrors"]] == ["NOT_FOUND"]
    assert stored_files(app) == before
    assert (await query(client, staff_headers, IMAGES, {"id": product}))["data"]["product"]["images"] == []


async def test_no_upload_without_the_permission_and_nothing_stored(app, client, db):
    product = await new_product(client, bearer(await token_for(Permission.MANAGE_PRODUCTS)))
    before, images = stored_files(app), await ProductImage.all().count()
    for headers, status, code in [
        ({}, 401, "UNAUTHENTICATED"),
        (bearer(await token_for(staff=False)), 403, "FORBIDDEN"),
        (bearer(await token_for(Permission.MANAGE_ORDERS)), 403, "FORBIDDEN"),
    ]:
        response = await post_files(
            client, UPLOAD, {"p": product}, {"f": ("a.jpg", picture("JPEG"), "image/jpeg")}, headers
        )
        assert response.status_code == status and response.json()["errors"][0]["extensions"]["code"] == code
    assert stored_files(app) == before and await ProductImage.all().count() == images


async def test_an_upload_over_the_limit_is_answered_413_unread(app, db):
    headers = bearer(await token_for(Permission.MANAGE_PRODUCTS))
    fields, parts = multipart_parts(UPLOAD, {"p": "x"}, {"f": ("a.jpg", b"x" * 1024, "image/jpeg")})
    request = httpx.Request("POST", "http://gateway.test/graphql", data=fields, files=parts, headers=headers)
    request.headers["content-length"] = str(20 * 1024 * 1024 + 1)  # what a 20 MB upload declares
    status, read = await serve_counting_reads(app, request)
    assert status == 413 and read == 0


class Worker:
    """The media jobs as a worker runs them: the outbox's `media` consumer plans, the jobs make."""

    def __init__(self, jobs: Jobs) -> None:
        self.jobs = jobs

    async def run(self) -> None:
        waiting = await OutboxEvent.filter(delivered_at=None).order_by("id").values_list("event_id", flat=True)
        await outbox.deliver([str(event_id) for event_id in waiting])
        await self.jobs.app.run_worker_async(wait=False, install_signal_handlers=False, listen_notify=False)


@asynccontextmanager
async def media_worker(uploads: Media) -> AsyncIterator[Worker]:
    """A job engine of uploaded media on `uploads`, as a worker process has it (events earlier tests
    left undelivered are marked delivered: they are theirs)."""
    await OutboxEvent.filter(delivered_at=None).update(delivered_at=datetime.now(UTC))
    jobs = Jobs(
        "sqlite://:memory:",
        Housekeeping(timedelta(seconds=1), timedelta(days=1), timedelta(days=30), timedelta(days=30)),
        JobStats(),
        uploads=uploads,
    )
    await jobs.open()
    outbox.register(MEDIA_CONSUMER, jobs.plan_media)
    try:
        yield Worker(jobs)
    finally:
        outbox.unregister(MEDIA_CONSUMER)
        await jobs.close()


@pytest.fixture
async def worker(app: Any) -> AsyncIterator[Worker]:
    async with media_worker(app.state.media) as running:
        yield running


async def test_thumbnails_are_made_once_by_a_job_and_files_go_with_their_image(app, client, staff_headers, worker):
    product = await new_product(client, staff_headers)
    original = (await upload(client, staff_headers, product, picture("JPEG")))["image"]
    wanted = {"id": product, "w": 320, "f": "WEBP"}
    for _ in range(2):  # asked for twice before it is made: one row, one job
        body = await query(client, staff_headers, THUMB, wanted)
        assert body["data"]["product"]["images"] == [{"url": original["url"]}]  # the original meanwhile
    image_id = (await ProductImage.get(url=original["url"])).id
    assert await ImageThumbnail.filter(image_id=image_id).count() == 1
    await worker.run()
    await worker.run()  # nothing left to do: a second run makes nothing
    thumbnail = await ImageThumbnail.get(image_id=image_id)
    assert thumbnail.status == "READY" and thumbnail.queued
    url = (await query(client, staff_headers, THUMB, wanted))["data"]["product"]["images"][0]["url"]
    assert url != original["url"] and url.endswith("-320.webp")
    made = Image.open(io.BytesIO((await client.get(urlsplit(url).path)).content))
    assert made.format == "WEBP" and made.size == (320, 240)
    # Any width of the set, and the original's URL for the original's format at full size.
    for same in ({"f": "JPEG"}, {"w": 2048}, {"w": 1024, "f": "JPEG"}):  # nothing to make: the original is that
        answer = await query(client, staff_headers, THUMB, {"id": product, **same})
        assert answer["data"]["product"]["images"] == [{"url": original["url"]}], same
    assert await ImageThumbnail.filter(image_id=image_id).count() == 1
    bad = await query(client, staff_headers, THUMB, {"id": product, "w": 300})
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT" and "160, 320" in bad["errors"][0]["message"]

    files = stored_files(app)
    names = {path.name for path in files}
    assert urlsplit(url).path.rsplit("/", 1)[1] in names
    deleted = "mutation($id: ID!) { productImageDelete(id: $id) { userErrors { code } } }"
    assert (await query(client, staff_headers, deleted, {"id": original["id"]}))["data"]["productImageDelete"] == {
        "userErrors": []
    }
    await worker.run()
    left = {path.name for path in stored_files(app)}
    assert not {urlsplit(url).path.rsplit("/", 1)[1], urlsplit(original["url"]).path.rsplit("/", 1)[1]} & left

    # A product deleted with its uploaded images: their files go too.
    second = (await upload(client, staff_headers, product, picture("PNG", (32, 32)), "b.png"))["image"]
    removed = "mutation($id: ID!) { productDelete(id: $id) { deletedId } }"
    assert (await query(client, staff_headers, removed, {"id": product}))["data"]["productDelete"]["deletedId"]
    await worker.run()
    assert urlsplit(second["url"]).path.rsplit("/", 1)[1] not in {path.name for path in stored_files(app)}


# --- S3, against moto's S3-compatible server ---------------------------------------------------


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's server, once per test process, on a free port."""
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def public_read(bucket: str, prefix: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/{prefix}*",
            }
        ],
    }


@pytest.fixture
def s3_app(db: Any, s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    bucket = f"media-{uuid.uuid4().hex[:8]}"
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    # What README asks of a real bucket: its media prefix readable by anyone (browsers fetch there).
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(public_read(bucket, "shop/")))
    settings = load_settings(
        {"DATABASE_URL": db.url, "RATE_LIMIT_PER_SECOND": "0", "MEDIA_STORAGE_URL": f"s3://{bucket}/shop"}
    )
    return create_app(settings)


async def test_s3_stores_serves_thumbnails_and_deletes(s3_app, s3_endpoint):
    storage = s3_app.state.media.storage
    assert not isinstance(storage, LocalStorage)
    transport = httpx.ASGITransport(app=s3_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
        headers = bearer(await token_for(Permission.MANAGE_PRODUCTS))
        product = await new_product(client, headers)
        image = (await upload(client, headers, product, picture("JPEG", gps=True)))["image"]
        assert image["url"].startswith(f"{s3_endpoint}/{storage.bucket}/shop/products/")
        async with httpx.AsyncClient() as outside:  # fetched from the store, as a browser would
            fetched = await outside.get(image["url"])
        assert fetched.status_code == 200 and fetched.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert not Image.open(io.BytesIO(fetched.content)).getexif()

        async with media_worker(s3_app.state.media) as worker:
            await query(client, headers, THUMB, {"id": product, "w": 160})
            await worker.run()
            thumb = (await query(client, headers, THUMB, {"id": product, "w": 160}))["data"]["product"]["images"][0][
                "url"
            ]
            assert thumb.endswith("-160.jpg")
            async with httpx.AsyncClient() as outside:
                assert Image.open(io.BytesIO((await outside.get(thumb)).content)).size == (160, 120)
            deleted = "mutation($id: ID!) { productImageDelete(id: $id) { userErrors { code } } }"
            await query(client, headers, deleted, {"id": image["id"]})
            await worker.run()
        listed = storage.client.list_objects_v2(Bucket=storage.bucket, Prefix="shop/")
        assert listed.get("KeyCount", 0) == 0


@pytest.fixture
def worker_process(db: Any, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], dict[str, str]]]:
    """On PostgreSQL, `python -m gateway worker` with a media directory of its own: its environment."""
    if db.name != "postgres":
        pytest.skip("on SQLite the serving process runs the jobs (the thumbnail tests above run them as it does)")
    environment = {"DATABASE_URL": db.url, "LOG_LEVEL": "WARNING", "REDIS_URL": "", "MEDIA_STORAGE_URL": str(tmp_path)}
    with job_worker(environment) as process:
        yield process, environment


@pytest.mark.slow  # a worker process of its own
async def test_a_worker_process_makes_the_thumbnails_on_postgres(worker_process):
    """On PostgreSQL the web process defers and `python -m gateway worker` makes the thumbnail, in
    the media storage both share (on SQLite the serving process makes it: the tests above)."""
    process, environment = worker_process
    app = create_app(load_settings({**environment, "RATE_LIMIT_PER_SECOND": "0"}))
    await app.state.jobs.start()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway.test") as client:
            headers = bearer(await token_for(Permission.MANAGE_PRODUCTS))
            product = await new_product(client, headers)
            await upload(client, headers, product, picture("PNG", (400, 300)), "a.png")
            wanted = {"id": product, "w": 160, "f": "JPEG"}
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                url = (await query(client, headers, THUMB, wanted))["data"]["product"]["images"][0]["url"]
                if url.endswith("-160.jpg"):
                    break
                await asyncio.sleep(0.2)
            else:
                raise AssertionError(process.stderr.read1().decode()[-2000:] if process.stderr else "no thumbnail")
            made = await client.get(urlsplit(url).path)
            assert Image.open(io.BytesIO(made.content)).size == (160, 120)
    finally:
        await app.state.jobs.stop()


async def test_a_storage_that_cannot_keep_the_file_is_an_outage_and_nothing_is_recorded(
    app, client, staff_headers, tmp_path
):
    # The media directory is gone (here: a file stands where it should be): 503 with Retry-After
    # and SERVICE_UNAVAILABLE, as a database outage is answered, and no image row refers to nothing.
    product = await new_product(client, staff_headers)
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    storage = app.state.media.storage
    images = await ProductImage.all().count()
    kept, storage.root = storage.root, (blocker / "media").resolve()
    try:
        response = await post_files(
            client,
            UPLOAD,
            {"p": product, "a": None},
            {"f": ("a.jpg", picture("JPEG"), "image/jpeg")},
            headers=staff_headers,
        )
    finally:
        storage.root = kept
    assert response.status_code == 503 and response.headers["retry-after"], response.text
    body = response.json()
    assert [e["extensions"]["code"] for e in body["errors"]] == ["SERVICE_UNAVAILABLE"], body
    assert body["errors"][0]["message"] == "The media storage is unavailable; try again shortly."
    assert await ProductImage.all().count() == images


async def test_an_s3_store_refusing_the_write_is_an_outage(s3_app):
    s3_app.state.media.storage.bucket = f"missing-{uuid.uuid4().hex[:8]}"  # S3 answers NoSuchBucket
    transport = httpx.ASGITransport(app=s3_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
        headers = bearer(await token_for(Permission.MANAGE_PRODUCTS))
        product = await new_product(client, headers)
        response = await post_files(
            client, UPLOAD, {"p": product, "a": None}, {"f": ("a.png", picture("PNG"), "image/png")}, headers=headers
        )
    assert response.status_code == 503, response.text
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["SERVICE_UNAVAILABLE"]
