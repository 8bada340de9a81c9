"""Staff's bulk catalogue files (MANAGE_PRODUCTS): `productImport`, `importJob`, `productExport`.

`productImport` stores the uploaded file (at most `MAX_FILE_BYTES`, UTF-8) as a PENDING
`ImportJob` and, in the same transaction, an outbox change of its own kind; once committed, the
outbox consumer (`plan`, registered by gateway/jobs.py) has an `imports.run` job deferred, which
runs the import (resolvers/imports.py). `productExport` records a PENDING `ProductExport` with its
filter the same way, and its job writes the file (resolvers/imports_export.py) onto the row,
READY; staff download it from `/exports/products/<key>.<signature>` (the key signed with
SECRET_KEY, as a customer's data export link is) until it expires, `EXPORT_LIFETIME` after the
request, when the periodic pruning deletes it.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta

from models import ExportStatus, ImportJob, ImportStatus, ProductExport, ProductFileFormat
from models.changes import Change
from models.imports import FILE_NAME_LENGTH, KEY_LENGTH
from models.meta import columns_of
from resolvers import batches, imports, imports_export, outbox, signed_keys
from resolvers.catalogue import ProductFilterInput
from resolvers.errors import DomainError, ErrorCode
from resolvers.uploads import UploadedFile

IMPORT_JOB = "import_job"  # the outbox change kinds: a job to defer
PRODUCT_EXPORT = "product_export"
# An uploaded file (UPLOAD_MAX_BYTES bounds the whole request before it is read, 20 MiB by
# default); 10,000 products of 3 variants take ~5 MB as CSV.
MAX_FILE_BYTES = 20 * 1024 * 1024
EXPORT_LIFETIME = timedelta(days=1)
DOWNLOAD_PATH = "/exports/products/"
_SIGNED = b"product-export:"  # what the signature is for: no other HMAC under SECRET_KEY passes for it
_JOB_FIELDS = tuple(sorted(name for name in columns_of(ImportJob) if name != "content"))
_EXPORT_FIELDS = tuple(sorted(name for name in columns_of(ProductExport) if name != "document"))


async def request_import(file: UploadedFile, file_format: ProductFileFormat, actor: str) -> ImportJob:
    """Store the file as an import whose job is deferred after the commit."""
    content = await asyncio.to_thread(file.stream.read, MAX_FILE_BYTES + 1)  # a spooled file: maybe on disk
    if len(content) > MAX_FILE_BYTES:
        raise DomainError(
            ErrorCode.TOO_LONG, f"The file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB: split it.", ["file"]
        )
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise DomainError(ErrorCode.INVALID, "The file is not UTF-8 text.", ["file"]) from None
    if "\x00" in text:
        raise DomainError(ErrorCode.INVALID, "The file holds NUL characters: it is not a text file.", ["file"])
    async with outbox.transaction():
        job = await imports.create_job(text, file_format, file.filename[:FILE_NAME_LENGTH], actor)
        outbox.record(Change(IMPORT_JOB, {"id": job.id, "status": ImportStatus.PENDING.value}))
    return job


async def import_job(job_id: int) -> ImportJob | None:
    # Not its file: a poll every second must not read megabytes.
    return await ImportJob.filter(id=job_id).only(*_JOB_FIELDS).first()


async def fail_import(job_id: int) -> None:
    """The job's last attempt failed: what it imported stays, the rest is given up."""
    await ImportJob.filter(id=job_id, status__in=[ImportStatus.PENDING, ImportStatus.RUNNING]).update(
        status=ImportStatus.FAILED, finished_at=datetime.now(UTC), content=""
    )


async def request_export(spec: ProductFilterInput, file_format: ProductFileFormat, actor: str) -> ProductExport:
    """Record an export of the products `spec` matches; its job is deferred after the commit."""
    now = datetime.now(UTC)
    async with outbox.transaction():
        export = await ProductExport.create(
            key=secrets.token_urlsafe(24),
            format=file_format.value,
            product_filter=imports_export.filter_document(spec),
            actor=actor,
            requested_at=now,
            expires_at=now + EXPORT_LIFETIME,
        )
        outbox.record(Change(PRODUCT_EXPORT, {"id": export.id, "status": ExportStatus.PENDING.value}))
    return export


async def export_job(export_id: int) -> ProductExport | None:
    return await ProductExport.filter(id=export_id).only(*_EXPORT_FIELDS).first()


async def build_export(export_id: int) -> str:
    """Write the export's file onto it, READY; its status after (or `gone`)."""
    export = await ProductExport.filter(id=export_id).only(*_EXPORT_FIELDS).first()
    if export is None:
        return "gone"
    if export.status != ExportStatus.PENDING:
        return str(export.status)  # a repeated job: written already
    written = await imports_export.product_file(
        imports_export.filter_input(dict(export.product_filter)), ProductFileFormat(export.format)
    )
    await ProductExport.filter(id=export_id, status=ExportStatus.PENDING).update(
        status=ExportStatus.READY, document=written.text, products=written.products, ready_at=datetime.now(UTC)
    )
    return ExportStatus.READY.value


async def fail_export(export_id: int) -> None:
    await ProductExport.filter(id=export_id, status=ExportStatus.PENDING).update(status=ExportStatus.FAILED)


async def plan(changes: list[Change]) -> tuple[list[int], list[int]]:
    """The outbox consumer's part: the imports and the exports among these changes whose job is
    not deferred yet."""
    wanted = {
        kind: [c.payload["id"] for c in changes if c.kind == kind and c.payload.get("status") == "PENDING"]
        for kind in (IMPORT_JOB, PRODUCT_EXPORT)
    }
    runs = (
        await ImportJob.filter(id__in=wanted[IMPORT_JOB], status=ImportStatus.PENDING, queued=False)
        .order_by("id")
        .values_list("id", flat=True)
        if wanted[IMPORT_JOB]
        else []
    )
    builds = (
        await ProductExport.filter(id__in=wanted[PRODUCT_EXPORT], status=ExportStatus.PENDING, queued=False)
        .order_by("id")
        .values_list("id", flat=True)
        if wanted[PRODUCT_EXPORT]
        else []
    )
    return [int(i) for i in runs], [int(i) for i in builds]  # type: ignore[call-overload]


async def mark_imports_queued(job_ids: list[int]) -> None:
    await ImportJob.filter(id__in=job_ids).update(queued=True)


async def mark_exports_queued(export_ids: list[int]) -> None:
    await ProductExport.filter(id__in=export_ids).update(queued=True)


async def prune(size: int = batches.SIZE) -> int:
    """Delete the exports past their expiry, files and all; how many went."""
    cutoff = datetime.now(UTC)

    async def batch(limit: int) -> int:
        expired = (
            await ProductExport.filter(expires_at__lt=cutoff).order_by("id").limit(limit).values_list("id", flat=True)
        )
        return await ProductExport.filter(id__in=list(expired)).delete() if expired else 0

    return await batches.delete_in_batches(batch, size)


def download_path(export: ProductExport, secret_key: str) -> str | None:
    """Where a READY export downloads from, on this gateway; None before (or after) that."""
    if export.status != ExportStatus.READY or export.expires_at <= datetime.now(UTC):
        return None
    return DOWNLOAD_PATH + signed_keys.sign(_SIGNED, export.key, secret_key)


async def find_download(token: str, secret_key: str) -> ProductExport | None:
    """The READY export a link names, or None: unknown, forged, expired and not yet written alike."""
    key = signed_keys.verified_key(_SIGNED, token, KEY_LENGTH, secret_key)
    if key is None:
        return None  # a forged or mistyped link costs no query
    return await ProductExport.get_or_none(key=key, status=ExportStatus.READY, expires_at__gt=datetime.now(UTC))
