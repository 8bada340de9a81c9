"""Staff's bulk catalogue files (MANAGE_PRODUCTS): `productImport` and `importJob`, `productExport`
and `exportJob` (resolvers/imports_admin.py; the columns are the README's "Product import and
export")."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.file_uploads import Upload
from strawberry.types import Info

from models import ExportStatus, ImportStatus, Permission, ProductFileFormat
from models import ImportJob as ImportJobModel
from models import ProductExport as ProductExportModel
from resolvers import imports_admin
from resolvers.imports import MAX_ERRORS
from schema.catalogue import FilterArgument, product_filter_input
from schema.context import Context
from schema.ids import decode_id_of, encode_id
from schema.permissions import require_permission, requires
from schema.shared import UserError, attempt, described_enum
from schema.uploads import uploaded_file

described_enum(
    ProductFileFormat,
    "The format of a product file: one row per variant, the same columns in both.",
    {
        ProductFileFormat.CSV: "Comma-separated values, UTF-8, the first line naming the columns.",
        ProductFileFormat.JSONL: "One JSON object per line, its keys the columns' names.",
    },
)
described_enum(
    ImportStatus,
    "Where a product import stands.",
    {
        ImportStatus.PENDING: "The file is stored; its job has not started.",
        ImportStatus.RUNNING: "Its job is going through the rows: `processed` of `total`.",
        ImportStatus.DONE: "Every row was tried: the good ones landed, the refused ones are in `errors`.",
        ImportStatus.FAILED: "The file could not be read (`errors` says why), or the job gave up.",
    },
)
described_enum(
    ExportStatus,
    "Where a product export stands.",
    {
        ExportStatus.PENDING: "Requested: its job is writing the file.",
        ExportStatus.READY: "Written: `downloadUrl` serves it until `expiresAt`.",
        ExportStatus.FAILED: "It could not be written: request another.",
    },
)


@strawberry.type(description="A row of an import that was refused, and why; nothing of it was stored.")
class ImportRowError:
    row: int = strawberry.field(description="Its line in the file, the first line being 1 (a CSV's header).")
    message: str = strawberry.field(description="What is wrong with it.")


@strawberry.type(description="An uploaded product file and what its job made of it.")
class ImportJob:
    id: strawberry.ID = strawberry.field(description="The import's ID, for `importJob(id)`.")
    status: ImportStatus = strawberry.field(description="Where it stands.")
    format: ProductFileFormat = strawberry.field(description="The file's format.")
    file_name: str = strawberry.field(description="The uploaded file's name.")
    total: int = strawberry.field(description="Rows in the file (0 until its job has read it).")
    processed: int = strawberry.field(description="Rows tried so far, refused ones included.")
    failed: int = strawberry.field(description="Rows refused so far.")
    errors: list[ImportRowError] = strawberry.field(
        description=f"The refused rows in file order: the first {MAX_ERRORS} (`failed` counts them all)."
    )
    created_at: datetime = strawberry.field(description="When the file was uploaded.")
    started_at: datetime | None = strawberry.field(description="When its job started.")
    finished_at: datetime | None = strawberry.field(description="When its job finished.")


def build_import_job(job: ImportJobModel) -> ImportJob:
    return ImportJob(
        id=encode_id("ImportJob", job.id),
        status=ImportStatus(job.status),
        format=ProductFileFormat(job.format),
        file_name=job.file_name,
        total=job.total,
        processed=job.processed,
        failed=job.failed,
        errors=[ImportRowError(row=int(str(e["row"])), message=str(e["message"])) for e in job.errors],
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


@strawberry.type(description="A requested product file of the catalogue (`productExport`).")
class ExportJob:
    id: strawberry.ID = strawberry.field(description="The export's ID, for `exportJob(id)`.")
    status: ExportStatus = strawberry.field(description="Where it stands.")
    format: ProductFileFormat = strawberry.field(description="The file's format.")
    products: int = strawberry.field(description="How many products the file holds (0 until it is written).")
    download_url: str | None = strawberry.field(
        description="Once READY: the file's address on this gateway (a path: prefix the gateway's origin), which "
        "works without a token until `expiresAt`, so keep it to yourself; null before."
    )
    requested_at: datetime = strawberry.field(description="When it was requested.")
    ready_at: datetime | None = strawberry.field(description="When its file was written.")
    expires_at: datetime = strawberry.field(
        description=f"When its link stops working and the file is deleted: {imports_admin.EXPORT_LIFETIME} after "
        "the request."
    )


def build_export_job(export: ProductExportModel, secret_key: str) -> ExportJob:
    return ExportJob(
        id=encode_id("ExportJob", export.id),
        status=ExportStatus(export.status),
        format=ProductFileFormat(export.format),
        products=export.products,
        download_url=imports_admin.download_path(export, secret_key),
        requested_at=export.requested_at,
        ready_at=export.ready_at,
        expires_at=export.expires_at,
    )


@strawberry.type(description="What `productImport` did.")
class ProductImportPayload:
    import_job: ImportJob | None = strawberry.field(
        description="The import, PENDING: follow it with `importJob(id)`; null when refused."
    )
    user_errors: list[UserError] = strawberry.field(
        description="Why the file was not taken (TOO_LONG: over the size limit; INVALID: not UTF-8 text)."
    )


@strawberry.type(description="What `productExport` did.")
class ProductExportPayload:
    export_job: ExportJob | None = strawberry.field(
        description="The export, PENDING: follow it with `exportJob(id)` until READY."
    )
    user_errors: list[UserError] = strawberry.field(description="Always empty: a filter matching nothing is a file.")


FormatArgument = Annotated[ProductFileFormat, strawberry.argument(description="The file's format.")]


@strawberry.type
class ImportsAdminQuery:
    @strawberry.field(
        extensions=requires(Permission.MANAGE_PRODUCTS),
        description="A product import: where it stands and the rows it refused; null when none has the ID.",
    )
    async def import_job(
        self, id: Annotated[strawberry.ID, strawberry.argument(description="The import's ID.")]
    ) -> ImportJob | None:
        job = await imports_admin.import_job(decode_id_of(id, "ImportJob"))
        return None if job is None else build_import_job(job)

    @strawberry.field(
        extensions=requires(Permission.MANAGE_PRODUCTS),
        description="A product export: where it stands and, once READY, where to download it; null when none "
        "has the ID (or it expired).",
    )
    async def export_job(
        self,
        info: Info[Context, None],
        id: Annotated[strawberry.ID, strawberry.argument(description="The export's ID.")],
    ) -> ExportJob | None:
        export = await imports_admin.export_job(decode_id_of(id, "ExportJob"))
        return None if export is None else build_export_job(export, info.context.secret_key)


@strawberry.type
class ImportsAdminMutation:
    @strawberry.mutation(
        extensions=requires(Permission.MANAGE_PRODUCTS),
        description="Create or update products, variants, option and attribute values, prices and stock from a "
        "file (one row per variant, matched by SKU; the columns are in the README), in the background: follow "
        "it with `importJob`. Refused rows are reported with their line and stop no other; importing the same "
        f"file again changes nothing. At most {imports_admin.MAX_FILE_BYTES // (1024 * 1024)} MiB; stock columns "
        "need MANAGE_INVENTORY too.",
    )
    async def product_import(
        self,
        info: Info[Context, None],
        file: Annotated[Upload, strawberry.argument(description="The file, as a multipart request's part.")],
        format: FormatArgument,
    ) -> ProductImportPayload:
        account = require_permission(await info.context.viewer(), Permission.MANAGE_PRODUCTS)
        job, errors = await attempt(imports_admin.request_import(uploaded_file(file, "file"), format, account.email))
        return ProductImportPayload(import_job=None if job is None else build_import_job(job), user_errors=errors)

    @strawberry.mutation(
        extensions=requires(Permission.MANAGE_PRODUCTS),
        description="Write the products the filter matches (every status, unless it says which) to a file in the "
        "format `productImport` reads, in the background: follow it with `exportJob`.",
    )
    async def product_export(
        self, info: Info[Context, None], format: FormatArgument, filter: FilterArgument = None
    ) -> ProductExportPayload:
        account = require_permission(await info.context.viewer(), Permission.MANAGE_PRODUCTS)
        spec = product_filter_input(filter, include_hidden=True)
        export = await imports_admin.request_export(spec, format, account.email)
        return ProductExportPayload(export_job=build_export_job(export, info.context.secret_key), user_errors=[])
