"""Scenario `import`: 10,000 products of 3 variants each imported from a CSV file on PostgreSQL.

The database is recreated, migrated and given the seed's categories, attributes and warehouses
without products (`seed --products 0`); the file (one row per variant: product columns, option
values, three attributes, stock in both warehouses) is generated deterministically. The import
runs in-process, as its job or `python -m gateway import` runs it, timed end to end (file read
and parsed, every batch committed), with the statements it sends counted on Tortoise's logger
and the catalogue changes it recorded (the cache invalidations) counted in the outbox. Then the
same file again: the idempotent re-import, which should write nothing and invalidate nothing.

Target: the first import under 60 s, one cache invalidation per batch.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bench import DB_NAME, PG_ADMIN_URL
from bench import database as bench_database
from bench.database import PreparedDatabase
from bench.load import LoadSpec
from bench.sqlcount import _counting, tortoise
from models import OutboxEvent, ProductFileFormat
from models.changes import CATALOGUE
from resolvers import imports, imports_rows

NAME = "import"
PRODUCTS = 10_000
VARIANTS = 3
TARGET_SECONDS = 60.0
SIZES = ("S", "M", "L")
COLOURS = ("Black", "White", "Navy", "Olive")
CATEGORIES = ("t-shirts", "shirts", "hoodies", "jeans", "mugs", "tents")
MATERIALS = ("Cotton", "Linen", "Wool", "Canvas")


def product_file(products: int, variants: int = VARIANTS) -> str:
    """The CSV of `products` products with `variants` variants each, the same every time."""
    columns = [
        *imports_rows.PRODUCT_COLUMNS,
        *imports_rows.VARIANT_COLUMNS,
        "option:Size",
        "option:Colour",
        "attribute:material",
        "attribute:waterproof",
        "attribute:weight",
        "stock:central",
        "stock:north",
    ]
    rows = []
    for n in range(products):
        colour = COLOURS[n % len(COLOURS)]
        for v in range(variants):
            size = SIZES[v % len(SIZES)] + ("" if v < len(SIZES) else str(v))
            rows.append(
                {
                    "handle": f"bench-product-{n + 1}",
                    "name": f"Bench Product {n + 1}",
                    "description": f"Product {n + 1} of the import benchmark, in {colour.lower()}.",
                    "category": CATEGORIES[n % len(CATEGORIES)],
                    "status": "ACTIVE",
                    "product_type": "goods",
                    "sku": f"BENCH-{n + 1:06d}-{size}",
                    "variant_name": f"{size} / {colour}",
                    "price": str(Decimal("9.99") + n % 50 + v),
                    "compare_at_price": "" if n % 5 else str(Decimal("59.99") + v),
                    "weight_grams": str(100 + n % 900),
                    "option:Size": size,
                    "option:Colour": colour,
                    "attribute:material": MATERIALS[n % len(MATERIALS)],
                    "attribute:waterproof": "true" if n % 3 == 0 else "false",
                    "attribute:weight": str(100 + n % 900),
                    "stock:central": str((n + v) % 40),
                    "stock:north": str((n * 7 + v) % 25),
                }
            )
    return imports_rows.write(columns, rows, ProductFileFormat.CSV)


@dataclass(frozen=True)
class Run:
    seconds: float
    rows: int
    batches: int
    statements: int
    invalidations: int  # catalogue changes recorded in the outbox
    created: int
    updated: int
    failed: int


@dataclass
class ImportReport:
    products: int
    variants: int
    file_bytes: int
    first: Run
    again: Run
    batch_size: int = imports.BATCH_SIZE
    name: str = NAME

    @property
    def target_met(self) -> bool:
        return self.first.seconds < TARGET_SECONDS and self.first.invalidations <= self.first.batches

    def render(self) -> str:
        header = f"{'run':<22} {'s':>7} {'rows':>7} {'batches':>8} {'SQL':>6} {'SQL/batch':>9} {'evictions':>9}"
        lines = [f"== {self.name} ==", header, "-" * len(header)]
        for label, run in (("first import", self.first), ("same file again", self.again)):
            per_batch = run.statements / run.batches if run.batches else 0.0
            lines.append(
                f"{label:<22} {run.seconds:>7.1f} {run.rows:>7,} {run.batches:>8} {run.statements:>6,} "
                f"{per_batch:>9.1f} {run.invalidations:>9}"
            )
        verdict = "ok" if self.target_met else "TARGET MISSED"
        lines.append(
            f"{self.products:,} products x {self.variants} variants ({self.file_bytes / 1e6:.1f} MB CSV): "
            f"{self.first.created:,} created, {self.first.failed} refused; again: {self.again.created} created, "
            f"{self.again.updated} changed"
        )
        lines.append(
            f"target: first import < {TARGET_SECONDS:.0f}s with at most one cache invalidation per batch: {verdict}"
        )
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        def run(r: Run) -> dict[str, Any]:
            return {
                "seconds": round(r.seconds, 3),
                "rows": r.rows,
                "batches": r.batches,
                "sql_statements": r.statements,
                "cache_invalidations": r.invalidations,
                "products_created": r.created,
                "products_changed": r.updated,
                "rows_refused": r.failed,
            }

        return {
            "scenario": self.name,
            "products": self.products,
            "variants_per_product": self.variants,
            "file_bytes": self.file_bytes,
            "batch_size": self.batch_size,
            "first_import": run(self.first),
            "same_file_again": run(self.again),
            "target_seconds": TARGET_SECONDS,
            "target_met": self.target_met,
        }


async def _import(text: str, batch_size: int) -> Run:
    invalidations_before = await OutboxEvent.filter(kind=CATALOGUE).count()
    started = time.perf_counter()
    with _counting() as counter:
        job = await imports.create_job(text, ProductFileFormat.CSV, "bench.csv", "")
        result = await imports.run(job.id, batch_size=batch_size)
    seconds = time.perf_counter() - started
    assert result is not None
    invalidations = await OutboxEvent.filter(kind=CATALOGUE).count() - invalidations_before
    return Run(
        seconds,
        result.job.total,
        result.batches,
        len(counter.statements),
        invalidations,
        result.created,
        result.updated,
        result.job.failed,
    )


async def measure(url: str, text: str, batch_size: int = imports.BATCH_SIZE) -> tuple[Run, Run]:
    async with tortoise(url):
        first = await _import(text, batch_size)
        again = await _import(text, batch_size)
    return first, again


def prepare(name: str) -> str:
    """A database of its own, migrated, with the seed's categories, attributes and warehouses only."""
    url = f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    asyncio.run(bench_database.recreate(name))
    bench_database.gateway_cli("migrate", url=url)
    bench_database.gateway_cli("seed", "--products", "0", url=url)
    return url


def run_import(
    products: int = PRODUCTS,
    *,
    batch_size: int = imports.BATCH_SIZE,
    db_name: str = f"{DB_NAME}_import",
    url: str | None = None,
) -> ImportReport:
    """Import `products` products into a database prepared for it (or the one at `url`, migrated
    and holding the seed's categories, attributes and warehouses, with or without products)."""
    url = url or prepare(db_name)
    text = product_file(products)
    print(f"  importing {products:,} products x {VARIANTS} variants ({len(text) / 1e6:.1f} MB)…", flush=True)
    first, again = asyncio.run(measure(url, text, batch_size))
    return ImportReport(products, VARIANTS, len(text.encode()), first, again, batch_size)


def run(database: PreparedDatabase, spec: LoadSpec, rounds: int) -> ImportReport:
    # A database of its own: the shared one holds the seeded catalogue the other scenarios read.
    return run_import()
