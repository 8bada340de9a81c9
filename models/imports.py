"""Bulk catalogue files (issue 19, point 2): a product import waiting for or run by its job, and a
product export built by its job until its download link expires."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

from models.accounts import EMAIL_LENGTH

KEY_LENGTH = 32  # characters of an export's random key (24 bytes, URL-safe base64)
FILE_NAME_LENGTH = 255


class ProductFileFormat(StrEnum):
    CSV = "CSV"
    JSONL = "JSONL"


class ImportStatus(StrEnum):
    PENDING = "PENDING"  # stored; its job has not started
    RUNNING = "RUNNING"  # its job is going through the rows (`processed` of `total`)
    DONE = "DONE"  # every row was tried: the good ones landed, the bad ones are in `errors`
    FAILED = "FAILED"  # the file could not be read (its header), or the job gave up


class ExportStatus(StrEnum):
    PENDING = "PENDING"  # requested; its job writes the file
    READY = "READY"  # written: its download link works until `expires_at`
    FAILED = "FAILED"  # its job gave up


class ImportJob(Model):
    # One uploaded file of products and what its job made of it. The file is kept here, not on a
    # disk, so a worker on any host reads it; it is bounded (resolvers/imports.py MAX_FILE_BYTES)
    # and emptied once the job is done. `processed` rows (good and bad) commit with each batch,
    # so a retried job goes on after them; `errors` holds the first rows refused, each
    # {"row": line number, "message": why}, and `failed` counts them all.
    id = fields.IntField(primary_key=True)
    status = fields.CharField(max_length=16, default=ImportStatus.PENDING.value)  # ImportStatus
    format = fields.CharField(max_length=8)  # ProductFileFormat
    file_name = fields.CharField(max_length=FILE_NAME_LENGTH, default="")
    content = fields.TextField()
    actor = fields.CharField(max_length=EMAIL_LENGTH, default="")  # who uploaded it ("" from the command line)
    total = fields.IntField(default=0)
    processed = fields.IntField(default=0)
    failed = fields.IntField(default=0)
    errors: fields.JSONField[list[dict[str, object]]] = fields.JSONField(default=list)
    queued = fields.BooleanField(default=False)  # its job is deferred
    created_at = fields.DatetimeField(auto_now_add=True)
    started_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "import_job"


class ProductExport(Model):
    # One requested file of products: the filter as given (`products(filter)`'s, ids decoded), and
    # the file its job wrote, kept here until `expires_at` like a customer's data export. `key`
    # names it in its download link, which carries it signed with SECRET_KEY.
    id = fields.IntField(primary_key=True)
    key = fields.CharField(max_length=KEY_LENGTH, unique=True)
    status = fields.CharField(max_length=16, default=ExportStatus.PENDING.value)  # ExportStatus
    format = fields.CharField(max_length=8)  # ProductFileFormat
    product_filter: fields.JSONField[dict[str, object]] = fields.JSONField(default=dict)
    actor = fields.CharField(max_length=EMAIL_LENGTH, default="")
    products = fields.IntField(default=0)  # how many the file holds
    document = fields.TextField(null=True)
    queued = fields.BooleanField(default=False)
    requested_at = fields.DatetimeField(auto_now_add=True)
    ready_at = fields.DatetimeField(null=True)
    expires_at = fields.DatetimeField()

    class Meta:
        table = "product_export"
        indexes = (Index(fields=("expires_at",), name="product_export_expires_idx"),)
