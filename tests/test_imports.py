"""Product import and export (issue 19, point 2), through the GraphQL API as an admin app uses it
(`productImport`, `importJob`, `productExport`, `exportJob`, the download link) with the jobs run
as a worker runs them, and through `python -m gateway import/export`; on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.job_stats import JobStats
from gateway.jobs import IMPORTS_CONSUMER, Housekeeping, Jobs
from gateway.progress import Bar
from models import ImportJob, OutboxEvent, Permission, Product, Stock, StockMovement
from models.changes import CATALOGUE, PRODUCT
from resolvers import attributes_admin, catalogue_admin, outbox
from tests.staff import bearer, token_for
from tests.uploads import post_files

ROOT = Path(__file__).resolve().parent.parent
IMPORT = """mutation($file: Upload!, $format: ProductFileFormat!) { productImport(file: $file, format: $format) {
  importJob { id status } userErrors { field code message } } }"""
JOB = """query($id: ID!) { importJob(id: $id) { status format fileName total processed failed errors { row message } } }"""
EXPORT = """mutation($f: ProductFilter, $format: ProductFileFormat!) { productExport(filter: $f, format: $format) {
  exportJob { id status } userErrors { code } } }"""
EXPORT_JOB = """query($id: ID!) { exportJob(id: $id) { status format products downloadUrl } }"""
PRODUCT_QUERY = """query($slug: String) { product(slug: $slug) { name description status category { slug }
  priceRange { min { amount } max { amount } }
  attributes { attribute { slug } values }
  variants { sku name price { amount } compareAtPrice { amount } quantityAvailable
    selectedOptions { name value } attributes { attribute { slug } values } } } }"""
HEADER = (
    "handle,name,description,category,status,product_type,sku,variant_name,price,compare_at_price,weight_grams,"
    "option:Size,option:Colour,attribute:material,attribute:weight,stock:central,stock:north"
)


class Admin:
    """A staff member's admin app: files as multipart requests (the GraphQL multipart request
    spec, as apollo-upload-client sends them), everything else as JSON."""

    def __init__(self, gql: Any, token: str) -> None:
        self.gql, self.token, self.headers = gql, token, bearer(token)

    @classmethod
    async def with_permissions(cls, gql: Any, *permissions: Permission) -> Admin:
        return cls(gql, await token_for(*permissions))

    async def upload(
        self, content: str | bytes, file_format: str = "CSV", name: str = "products.csv"
    ) -> httpx.Response:
        data = content.encode() if isinstance(content, str) else content
        return await post_files(
            self.gql.http, IMPORT, {"format": file_format}, {"file": (name, data, "text/csv")}, headers=self.headers
        )

    async def call(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.gql.http.post(
            "/graphql", headers=self.headers, json={"query": query, "variables": variables or {}}
        )
        body = response.json()
        assert not body.get("errors"), body
        return dict(body["data"])


class Worker:
    """The outbox delivered to the `imports` consumer, and the jobs it defers run, as a worker does."""

    def __init__(self, jobs: Jobs) -> None:
        self.jobs = jobs

    async def run(self) -> None:
        for _ in range(3):
            waiting = await OutboxEvent.filter(delivered_at=None).order_by("id").values_list("event_id", flat=True)
            if not waiting:
                return
            await outbox.deliver([str(event_id) for event_id in waiting])
            await self.jobs.app.run_worker_async(wait=False, install_signal_handlers=False, listen_notify=False)


@pytest.fixture
async def worker(db: Any) -> AsyncIterator[Worker]:
    await OutboxEvent.filter(delivered_at=None).update(delivered_at=datetime.now(UTC))
    jobs = Jobs(
        "sqlite://:memory:",
        Housekeeping(timedelta(seconds=1), timedelta(days=1), timedelta(days=30), timedelta(days=30)),
        JobStats(),
    )
    await jobs.open()
    outbox.register(IMPORTS_CONSUMER, jobs.plan_imports)
    try:
        yield Worker(jobs)
    finally:
        outbox.unregister(IMPORTS_CONSUMER)
        await jobs.close()


async def imported(admin: Admin, worker: Worker, text: str, file_format: str = "CSV") -> dict[str, Any]:
    """Upload, let the worker run the import, and what `importJob` says after."""
    response = await admin.upload(text, file_format)
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body.get("errors"), body
    payload = body["data"]["productImport"]
    assert payload["userErrors"] == [] and payload["importJob"]["status"] == "PENDING", payload
    await worker.run()
    return dict((await admin.call(JOB, {"id": payload["importJob"]["id"]}))["importJob"])


async def a_category() -> str:
    slug = f"imports-{uuid.uuid4().hex[:8]}"
    await catalogue_admin.create_category(catalogue_admin.CategoryInput(name=slug, slug=slug))
    return slug


def tag() -> str:
    return uuid.uuid4().hex[:6]


async def catalogue_events() -> tuple[int, int]:
    """Outbox rows so far: catalogue changes (cache invalidations) and product events."""
    return await OutboxEvent.filter(kind=CATALOGUE).count(), await OutboxEvent.filter(kind=PRODUCT).count()


async def test_an_import_creates_then_updates_by_sku_and_the_same_file_changes_nothing(db, gql, worker):
    admin = await Admin.with_permissions(gql, Permission.MANAGE_PRODUCTS, Permission.MANAGE_INVENTORY)
    t, category = tag(), await a_category()
    rows = [
        f"tee-{t},Tee {t},A tee,{category},ACTIVE,goods,T{t}-S,S / Black,19.99,,200,S,Black,Cotton,200,5,3",
        f"tee-{t},Tee {t},A tee,{category},ACTIVE,goods,T{t}-M,M / Black,21.99,25.00,210,M,Black,Cotton,200,4,",
        f"mug-{t},Mug {t},,,DRAFT,,M{t},,9.50,,,,,,,1,",
    ]
    text = "\n".join([HEADER, *rows]) + "\n"
    before = await catalogue_events()
    job = await imported(admin, worker, text)
    assert job == {
        "status": "DONE",
        "format": "CSV",
        "fileName": "products.csv",
        "total": 3,
        "processed": 3,
        "failed": 0,
        "errors": [],
    }
    product = (await admin.call(PRODUCT_QUERY, {"slug": f"tee-{t}"}))["product"]
    assert product["name"] == f"Tee {t}" and product["status"] == "ACTIVE"
    assert product["category"] == {"slug": category}
    assert product["priceRange"] == {"min": {"amount": "19.99"}, "max": {"amount": "21.99"}}
    assert {a["attribute"]["slug"]: a["values"] for a in product["attributes"]} == {
        "material": ["Cotton"],
        "weight": ["200"],
    }
    small, medium = product["variants"]
    assert small["sku"] == f"T{t}-S" and small["quantityAvailable"] == 8 and small["compareAtPrice"] is None
    assert small["selectedOptions"] == [{"name": "Size", "value": "S"}, {"name": "Colour", "value": "Black"}]
    assert medium["compareAtPrice"] == {"amount": "25.00"} and medium["quantityAvailable"] == 4
    # One catalogue change (the batch's cache invalidation) and one event per product created.
    after = await catalogue_events()
    assert (after[0] - before[0], after[1] - before[1]) == (1, 2)
    movements = await StockMovement.filter(variant__sku__in=[f"T{t}-S", f"T{t}-M"]).count()
    stamped = (await Product.get(slug=f"tee-{t}")).updated_at

    again = await imported(admin, worker, text)
    assert again["status"] == "DONE" and again["failed"] == 0 and again["processed"] == 3
    assert await catalogue_events() == after  # nothing evicted, nothing announced
    assert await StockMovement.filter(variant__sku__in=[f"T{t}-S", f"T{t}-M"]).count() == movements
    assert (await Product.get(slug=f"tee-{t}")).updated_at == stamped

    # A file of only some columns: the price and stock of one variant, by its SKU; stock is set.
    changed = await imported(admin, worker, f"handle,sku,price,stock:central\ntee-{t},T{t}-M,18.00,10\n")
    assert changed["failed"] == 0
    product = (await admin.call(PRODUCT_QUERY, {"slug": f"tee-{t}"}))["product"]
    assert product["priceRange"] == {"min": {"amount": "18.00"}, "max": {"amount": "19.99"}}
    medium = product["variants"][1]
    assert medium["price"] == {"amount": "18.00"} and medium["quantityAvailable"] == 10
    assert medium["compareAtPrice"] == {"amount": "25.00"}  # a column left out stays as it is
    last = await StockMovement.filter(variant__sku=f"T{t}-M").order_by("-id").first()
    assert last is not None and (last.kind, last.delta, last.quantity_after, last.reason) == ("SET", 6, 10, "import")
    # The product's own columns, on a row without a SKU: renamed, drafted, out of its category.
    renamed = await imported(admin, worker, f"handle,name,status,category\ntee-{t},Tee renamed,DRAFT,\n")
    assert renamed["failed"] == 0
    product = (await admin.call(PRODUCT_QUERY, {"slug": f"tee-{t}"}))["product"]
    assert (product["name"], product["status"], product["category"]) == ("Tee renamed", "DRAFT", None)
    assert len(product["variants"]) == 2


async def test_bad_rows_are_reported_by_line_and_the_good_ones_land(db, gql, worker):
    admin = await Admin.with_permissions(gql, Permission.MANAGE_PRODUCTS, Permission.MANAGE_INVENTORY)
    t = tag()
    lines = [
        {"handle": f"good-{t}", "name": "Good", "sku": f"G{t}-1", "price": 5, "stock:north": 2},
        "{not json",
        {"handle": f"bad-{t}", "name": "Bad", "sku": f"B{t}-1", "price": "1.234"},
        {"handle": f"cat-{t}", "name": "Cat", "category": "no-such-category", "sku": f"C{t}-1", "price": "1"},
        {"handle": f"good-{t}", "sku": f"G{t}-1", "price": "6.00"},  # the SKU again
        {"handle": f"noname-{t}", "sku": f"N{t}-1", "price": "1.00"},
        {"handle": "zephyr-linen-shirt", "sku": f"G{t}-1"},  # another product's SKU... once it is created
        {"handle": f"good-{t}", "name": "Good", "sku": f"G{t}-2", "price": "7.50", "stock:nowhere": 1},
        {"handle": f"good-{t}", "sku": f"G{t}-3", "price": "8.00", "attribute:material": "Cotton"},
        {"handle": f"good-{t}", "sku": f"G{t}-4", "price": "9.00", "weight_grams": "heavy"},
        {"handle": f"good-{t}", "sku": f"G{t}-5", "price": "3.00", "option:Size": "XL"},
        {"handle": "zephyr-linen-shirt", "sku": "ZEP-M", "stock:central": 1},
    ]
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n"
    job = await imported(admin, worker, text, "JSONL")
    assert job["status"] == "DONE" and job["total"] == len(lines) and job["processed"] == len(lines)
    errors = {error["row"]: error["message"] for error in job["errors"]}
    assert sorted(errors) == [2, 3, 4, 5, 6, 7, 8, 9, 10, 12], errors
    assert "not JSON" in errors[2]
    assert "`price`" in errors[3] and "two decimal places" in errors[3]
    assert "no-such-category" in errors[4]
    assert errors[5] == f"The SKU 'G{t}-1' is on line 1 already."
    assert "`name` is required" in errors[6]
    assert errors[7] == f"The SKU 'G{t}-1' is on line 1 already."
    assert "nowhere" in errors[8]
    assert "product's type" in errors[9]  # `good` has no product type, so no attributes
    assert "weight_grams" in errors[10]
    assert "reserved" in errors[12]
    assert job["failed"] == 10
    product = (await admin.call(PRODUCT_QUERY, {"slug": f"good-{t}"}))["product"]
    assert [(v["sku"], v["price"]["amount"]) for v in product["variants"]] == [(f"G{t}-1", "5.00"), (f"G{t}-5", "3.00")]
    assert product["variants"][0]["quantityAvailable"] == 2


async def test_values_of_variant_attributes_and_multi_select_and_clearing(db, gql, worker):
    admin = await Admin.with_permissions(gql, Permission.MANAGE_PRODUCTS)
    t = tag()
    await attributes_admin.create_attribute(
        attributes_admin.AttributeInput(
            name=f"Features {t}",
            slug=f"features-{t}",
            type=attributes_admin.AttributeType.MULTI_SELECT,
            choices=["Vegan", "Recycled", "Handmade"],
        )
    )
    await attributes_admin.create_attribute(
        attributes_admin.AttributeInput(
            name=f"Length {t}", slug=f"length-{t}", type=attributes_admin.AttributeType.NUMBER
        )
    )
    await attributes_admin.create_product_type(
        attributes_admin.ProductTypeInput(
            name=f"Type {t}", slug=f"type-{t}", product_attributes=[f"features-{t}"], variant_attributes=[f"length-{t}"]
        )
    )
    header = f"handle,name,product_type,sku,price,attribute:features-{t},variant_attribute:length-{t}"
    text = f"{header}\nbelt-{t},Belt,type-{t},BELT-{t}-1,30.00,Vegan|Handmade,90\nbelt-{t},Belt,type-{t},BELT-{t}-2,30.00,Vegan|Handmade,105.5\n"
    job = await imported(admin, worker, text)
    assert job["failed"] == 0, job
    product = (await admin.call(PRODUCT_QUERY, {"slug": f"belt-{t}"}))["product"]
    assert product["attributes"] == [{"attribute": {"slug": f"features-{t}"}, "values": ["Vegan", "Handmade"]}]
    assert [v["attributes"][0]["values"] for v in product["variants"]] == [["90"], ["105.5"]]
    # An empty cell clears the values; a value outside the choices is refused with its line.
    cleared = await imported(
        admin, worker, f"handle,sku,attribute:features-{t}\nbelt-{t},BELT-{t}-1,\nbelt-{t},BELT-{t}-2,Leather\n"
    )
    assert [e["row"] for e in cleared["errors"]] == [3] and "choices" in cleared["errors"][0]["message"]
    product = (await admin.call(PRODUCT_QUERY, {"slug": f"belt-{t}"}))["product"]
    assert product["attributes"] == []


async def export_file(admin: Admin, worker: Worker, category: str, file_format: str) -> str:
    category_id = (await admin.call("query($s: String) { category(slug: $s) { id } }", {"s": category}))["category"][
        "id"
    ]
    payload = (await admin.call(EXPORT, {"f": {"category": category_id}, "format": file_format}))["productExport"]
    assert payload["userErrors"] == [] and payload["exportJob"]["status"] == "PENDING"
    await worker.run()
    job = (await admin.call(EXPORT_JOB, {"id": payload["exportJob"]["id"]}))["exportJob"]
    assert job["status"] == "READY" and job["downloadUrl"].startswith("/exports/products/"), job
    response = await admin.gql.http.get(job["downloadUrl"])  # the link alone opens it
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    return str(response.text)


@pytest.mark.parametrize("file_format", ["CSV", "JSONL"])
async def test_an_export_is_the_file_the_import_reads(db, gql, worker, file_format):
    admin = await Admin.with_permissions(gql, Permission.MANAGE_PRODUCTS, Permission.MANAGE_INVENTORY)
    t, category = tag(), await a_category()
    text = "\n".join(
        [
            HEADER,
            f"one-{t},One {t},First,{category},ACTIVE,goods,O{t}-S,S,10.00,12.00,100,S,Red,Wool,150,1,2",
            f"one-{t},One {t},First,{category},ACTIVE,goods,O{t}-M,M,11.00,,100,M,Red,Wool,150,0,",
            f'two-{t},Two {t},"Second, with a comma",{category},DRAFT,,W{t},Two,5.00,,0,,,,,,',
        ]
    )
    assert (await imported(admin, worker, text + "\n"))["failed"] == 0
    exported = await export_file(admin, worker, category, file_format)
    lines = exported.splitlines()
    if file_format == "CSV":
        assert lines[0] == HEADER.replace("attribute:material,attribute:weight", "attribute:material,attribute:weight")
        assert lines[1] == f"one-{t},One {t},First,{category},ACTIVE,goods,O{t}-S,S,10.00,12.00,100,S,Red,Wool,150,1,2"
        assert lines[3] == f'two-{t},Two {t},"Second, with a comma",{category},DRAFT,,W{t},Two,5.00,,0,,,,,,'
    else:
        first = json.loads(lines[0])
        assert first["sku"] == f"O{t}-S" and first["stock:north"] == "2" and first["attribute:weight"] == "150"
    assert len(lines) == 3 + (file_format == "CSV")
    # Imported again: nothing changes; exported again: the same file.
    before = await catalogue_events()
    again = await imported(admin, worker, exported, file_format)
    assert again["failed"] == 0 and again["processed"] == 3
    assert await catalogue_events() == before
    assert await export_file(admin, worker, category, file_format) == exported


async def test_without_the_permission_nothing_is_stored(db, gql, worker):
    stored = await ImportJob.all().count()
    anonymous = Admin(gql, "")
    anonymous.headers = {}
    for admin, status in (
        (anonymous, 401),
        (await Admin.with_permissions(gql), 403),
        (await Admin.with_permissions(gql, Permission.MANAGE_INVENTORY), 403),
    ):
        response = await admin.upload("handle,name\nnope,Nope\n")
        assert response.status_code == status, response.text
    # Over JSON (no file part can come that way), the field itself refuses them alike.
    refused = await gql.post(IMPORT, {"file": "handle,name", "format": "CSV"})
    assert [e["extensions"]["code"] for e in refused["errors"]] == ["UNAUTHENTICATED"]
    assert await ImportJob.all().count() == stored
    # Stock columns need MANAGE_INVENTORY besides: the rows setting stock are refused.
    admin = await Admin.with_permissions(gql, Permission.MANAGE_PRODUCTS)
    t = tag()
    job = await imported(
        admin, worker, f"handle,name,sku,price,stock:central\ns-{t},S,S{t}-1,1.00,5\ns-{t},S,S{t}-2,1.00,\n"
    )
    assert [e["row"] for e in job["errors"]] == [2] and "MANAGE_INVENTORY" in job["errors"][0]["message"]
    assert await Stock.filter(variant__sku__startswith=f"S{t}").count() == 0


async def test_a_file_that_cannot_be_read_fails_with_its_reason(db, gql, worker):
    admin = await Admin.with_permissions(gql, Permission.MANAGE_PRODUCTS)
    job = await imported(admin, worker, "handle,colour\nx,red\n")
    assert job["status"] == "FAILED" and job["errors"] == [{"row": 1, "message": "Unknown column 'colour'."}]
    refused = (await admin.upload(b"\xff\xfe")).json()["data"]["productImport"]
    assert refused["importJob"] is None
    assert [(e["code"], e["field"]) for e in refused["userErrors"]] == [("INVALID", ["file"])]
    as_json = await admin.gql.http.post(
        "/graphql", headers=admin.headers, json={"query": IMPORT, "variables": {"file": "a,b", "format": "CSV"}}
    )
    assert [e["extensions"]["code"] for e in as_json.json()["errors"]] == ["BAD_USER_INPUT"]


def test_the_progress_bar_draws_only_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal, pipe = Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        bar = Bar(stream, "rows")
        bar.update(0, 10)
        bar.update(10, 10)
        bar.close()
    assert "10/10 rows" in terminal.getvalue() and terminal.getvalue().endswith("\n")
    assert pipe.getvalue() == ""


# Runs `python -m gateway` commands one after the other in one process (one interpreter start-up
# rather than one per command): each step's exit status, standard output and standard error.
STEPS = """
import contextlib, io, json, os, sys
from gateway.cli import main
done = []
for url, args in json.loads(sys.argv[1]):
    os.environ["DATABASE_URL"] = url
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(args)
    done.append([status, out.getvalue(), err.getvalue()])
print(json.dumps(done))
"""
CATALOGUE_TABLES = (
    "stock_movement",
    "stock",
    "attribute_value",
    "variant_option",
    "product_image",
    "product_related",
    "product_variant",
    "product",
)


def _commands(*steps: tuple[str, list[str]]) -> list[tuple[int, str, str]]:
    env = {**os.environ, "LOG_LEVEL": "WARNING"}
    ran = subprocess.run(
        [sys.executable, "-c", STEPS, json.dumps(steps)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    return [tuple(step) for step in json.loads(ran.stdout.strip().splitlines()[-1])]  # type: ignore[misc]


async def test_the_command_line_round_trip_into_an_empty_catalogue(db, tmp_path):
    """The whole catalogue exported, imported into an empty one (the same categories, attributes
    and warehouses), exported again: the same file; a file with a bad row exits 1, naming its line."""
    if db.name != "sqlite":
        pytest.skip("the command line's round trip once is enough; the API's runs on both backends")
    source = db.url.removeprefix("sqlite://")
    target = tmp_path / "empty.sqlite3"
    with sqlite3.connect(source) as original, sqlite3.connect(target) as copy:
        original.backup(copy)
        for table in CATALOGUE_TABLES:
            copy.execute(f"DELETE FROM {table}")
    products = await Product.all().count()
    first, second, bad = tmp_path / "first.csv", tmp_path / "second.csv", tmp_path / "bad.jsonl"
    bad.write_text('{"handle": "x", "sku": "X-1", "price": "1.00"}\n')
    empty = f"sqlite://{target}"
    exported, imported_, again, refused = _commands(
        (db.url, ["export", str(first)]),
        (empty, ["import", str(first)]),
        (empty, ["export", str(second)]),
        (empty, ["import", str(bad)]),
    )
    assert exported[0] == 0 and f"exported {products} products" in exported[1]
    assert imported_[0] == 0, imported_
    assert f"{products} products created" in imported_[1] and "0 rows refused" in imported_[1]
    assert "\r[" not in imported_[2]  # no terminal, no bar
    assert again[0] == 0
    assert second.read_text() == first.read_text()
    assert refused[0] == 1
    assert "bad.jsonl:1: `name` is required" in refused[2] and "1 rows refused" in refused[1]
