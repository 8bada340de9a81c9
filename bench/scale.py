"""Scenario `scale`: the storefront's listings at 10,000 and at 200,000 products, uncached.

Each query is executed in-process through the real schema against PostgreSQL, one request at a
time (warm-ups, then the median of the measured ones), as bench/sqlcount.py executes the listing
to count its statements. In-process rather than through a served gateway because what grows with
the catalogue is the listing's SQL and work, not the HTTP stack: the stack costs the same at both
sizes and would only blur the ratio, and on a shared two-core machine a server and a client
process add noise of their own. The response cache sits in the HTTP layer, in front of GraphQL
execution, so nothing here is answered from it; the settings say CACHE_ENABLED=0 all the same.

Target: each query's median at 200,000 products at most 3x its median at 10,000; the 200,000-product
seed (`python -m gateway seed`) under 5 minutes.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

from tortoise import connections

from bench import DB_NAME, PG_ADMIN_URL
from bench import database as bench_database
from bench.database import PreparedDatabase
from bench.load import LoadSpec
from bench.queries import SCALE_CATEGORY_PAGE, SCALE_DEEP_PAGE, SCALE_FILTERED_PAGE, SCALE_SEARCH
from bench.sqlcount import count_statements, tortoise
from gateway.settings import load_settings
from resolvers.pagination import encode_cursor
from schema import schema
from schema.context import Context
from schema.ids import encode_id

NAME = "scale"
SIZES = (10_000, 200_000)
TARGET_GROWTH = 3.0
SEED_TARGET_SECONDS = 300.0
WARMUPS = 5
REQUESTS = 30
DEEP_FRACTION = 0.8  # the deep page starts after this share of the catalogue
# label -> the query; the variables are made per database (`_variables`).
QUERIES = {
    "category first page": SCALE_CATEGORY_PAGE,
    "filtered, sorted, facets": SCALE_FILTERED_PAGE,
    "search with facets": SCALE_SEARCH,
    "deep page (80%)": SCALE_DEEP_PAGE,
}


@dataclass(frozen=True)
class Timing:
    median_ms: float
    p90_ms: float
    statements: int  # SQL statements one request executes
    total_count: int  # what the answer's totalCount said


@dataclass
class SizeResult:
    products: int
    seed_seconds: float
    timings: dict[str, Timing] = field(default_factory=dict)


@dataclass
class ScaleReport:
    sizes: list[SizeResult]
    requests: int
    warmups: int
    name: str = NAME

    def growth(self, label: str) -> float:
        small, large = self.sizes[0].timings[label], self.sizes[-1].timings[label]
        return large.median_ms / small.median_ms if small.median_ms else 0.0

    @property
    def seed_ok(self) -> bool:
        return self.sizes[-1].seed_seconds < SEED_TARGET_SECONDS

    def render(self) -> str:
        small, large = self.sizes[0], self.sizes[-1]
        header = f"{'query':<26} {f'{small.products:,} ms':>11} {f'{large.products:,} ms':>11} {'growth':>7} {'SQL':>4}"
        lines = [f"== {self.name} ==", header, "-" * len(header)]
        for label in QUERIES:
            growth = self.growth(label)
            verdict = "ok" if growth <= TARGET_GROWTH else "TARGET MISSED"
            lines.append(
                f"{label:<26} {small.timings[label].median_ms:>11.2f} {large.timings[label].median_ms:>11.2f} "
                f"{growth:>6.2f}x {large.timings[label].statements:>4}  {verdict}"
            )
        lines.append(
            f"medians of {self.requests} requests after {self.warmups} warm-ups; target growth <= {TARGET_GROWTH:g}x"
        )
        verdict = "ok" if self.seed_ok else "SEED TARGET MISSED"
        lines.append(
            f"seed of {large.products:,} products: {large.seed_seconds:.1f}s (target < {SEED_TARGET_SECONDS:.0f}s: {verdict})"
        )
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.name,
            "requests": self.requests,
            "warmups": self.warmups,
            "target_growth": TARGET_GROWTH,
            "sizes": [
                {
                    "products": size.products,
                    "seed_seconds": round(size.seed_seconds, 3),
                    "timings": {
                        label: {
                            "median_ms": round(t.median_ms, 3),
                            "p90_ms": round(t.p90_ms, 3),
                            "sql_statements": t.statements,
                            "total_count": t.total_count,
                        }
                        for label, t in size.timings.items()
                    },
                }
                for size in self.sizes
            ],
            "growth": {label: round(self.growth(label), 3) for label in QUERIES},
            "target_met": all(self.growth(label) <= TARGET_GROWTH for label in QUERIES) and self.seed_ok,
            "seed_target_seconds": SEED_TARGET_SECONDS,
        }


async def _deep_cursor() -> str:
    """The `after` cursor of the product DEEP_FRACTION of the way through the default order (by
    name, then id, active products only), encoded as the API encodes its cursors."""
    conn = connections.get("default")
    active = (await conn.execute_query_dict("SELECT COUNT(*) AS n FROM product WHERE status = 'ACTIVE'"))[0]["n"]
    offset = min(int(active * DEEP_FRACTION), max(active - 1, 0))
    rows = await conn.execute_query_dict(
        "SELECT name, id FROM product WHERE status = 'ACTIVE' ORDER BY name, id OFFSET $1 LIMIT 1", [offset]
    )
    if not rows:
        raise RuntimeError("no active product: was the database seeded?")
    return encode_cursor("NAME_ASC", (rows[0]["name"], rows[0]["id"]))


async def _variables() -> dict[str, dict[str, Any]]:
    conn = connections.get("default")
    # The first top-level category: a subtree holding about a quarter of the catalogue.
    top = await conn.execute_query_dict("SELECT id FROM category WHERE parent_id IS NULL ORDER BY position, id LIMIT 1")
    if not top:
        raise RuntimeError("no category: was the database seeded?")
    return {
        "category first page": {"category": encode_id("Category", top[0]["id"])},
        "filtered, sorted, facets": {},
        "search with facets": {},
        "deep page (80%)": {"after": await _deep_cursor()},
    }


async def _time(query: str, variables: dict[str, Any], currency: str, requests: int, warmups: int) -> Timing:
    data: dict[str, Any] | None = None
    samples: list[float] = []
    for n in range(warmups + requests):
        context = Context(currency=currency)  # a fresh context: fresh dataloaders, as per HTTP request
        started = time.perf_counter()
        result = await schema.execute(query, variable_values=variables, context_value=context)
        elapsed = time.perf_counter() - started
        if result.errors:
            raise RuntimeError(f"the query failed: {result.errors}")
        data = result.data
        if n >= warmups:
            samples.append(elapsed * 1000)
    assert data is not None
    counted = await count_statements(schema, query, currency, variables)
    quantiles = statistics.quantiles(samples, n=10) if len(samples) > 1 else samples * 9
    return Timing(statistics.median(samples), quantiles[-1], counted.count, int(data["products"]["totalCount"]))


async def measure(url: str, requests: int = REQUESTS, warmups: int = WARMUPS) -> dict[str, Timing]:
    """Each query's median latency on the database at `url`, one request at a time, uncached."""
    settings = load_settings({**bench_database.gateway_env(url), "CACHE_ENABLED": "0"})
    async with tortoise(url):
        variables = await _variables()
        return {
            label: await _time(query, variables[label], settings.store_currency, requests, warmups)
            for label, query in QUERIES.items()
        }


def prepare(products: int, name: str, seed: int = bench_database.SEED) -> PreparedDatabase:
    """A database of its own, migrated and seeded with `products` products through the CLI."""
    url = f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    asyncio.run(bench_database.recreate(name))
    migrate_seconds = bench_database.gateway_cli("migrate", url=url)
    seed_seconds = bench_database.gateway_cli("seed", "--products", str(products), "--seed", str(seed), url=url)
    asyncio.run(bench_database.settle(url))
    return PreparedDatabase(url, migrate_seconds, seed_seconds, products)


def run_sizes(
    sizes: tuple[int, ...] = SIZES,
    *,
    requests: int = REQUESTS,
    warmups: int = WARMUPS,
    prepared: PreparedDatabase | None = None,
    db_name: str = f"{DB_NAME}_scale",
) -> ScaleReport:
    """Seed and measure each size in turn, in one database recreated per size (`prepared` is used
    instead for the size it already holds)."""
    results = []
    for products in sizes:
        if prepared is not None and prepared.products == products:
            database = prepared
        else:
            print(f"  preparing {db_name}: seed {products:,} products…", flush=True)
            database = prepare(products, db_name)
        print(f"  {products:,} products: seed {database.seed_seconds:.1f}s; measuring…", flush=True)
        timings = asyncio.run(measure(database.url, requests, warmups))
        for label, timing in timings.items():
            print(f"    {label:<26} median {timing.median_ms:8.2f} ms  ({timing.total_count} matching)", flush=True)
        results.append(SizeResult(products, database.seed_seconds, timings))
    return ScaleReport(results, requests, warmups)


def run(database: PreparedDatabase, spec: LoadSpec, rounds: int) -> ScaleReport:
    # The load spec and rounds size throughput runs; this scenario's requests are single and serial.
    return run_sizes(prepared=database)
