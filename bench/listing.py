"""Scenario `listing`: the storefront's first product page, (a) the gateway vs (b) its floor.

(b) runs the same HTTP stack and GraphQL execution over objects already in memory, so a/b is the
share of the floor's throughput the gateway keeps once it also reads the database. Target: 0.8.
"""

from __future__ import annotations

import asyncio
import json
from contextlib import ExitStack
from typing import Any

from bench.database import PreparedDatabase, gateway_env
from bench.floor_schema import build_schema, capture_listing
from bench.load import LoadSpec, Result
from bench.load import run as run_load
from bench.queries import request_body
from bench.report import Row, ScenarioReport
from bench.sqlcount import Counted, count_statements, tortoise
from gateway.settings import load_settings
from schema import schema
from testbed import servers
from testbed.storefront import LISTING

NAME = "listing"
TARGET = 0.8
GATEWAY_APP = "gateway.app:app"
FLOOR_APP = "bench.floor:app"


async def _count_sql(database_url: str, currency: str) -> tuple[Counted, Counted]:
    """Statements per request for the real schema and, as a check that it reads nothing, the floor."""
    async with tortoise(database_url):
        real = await count_statements(schema, LISTING, currency)
        page = await capture_listing(currency)
        floor = await count_statements(build_schema(lambda: page), LISTING, currency)
    return real, floor


def _fetch(server: servers.Server, body: bytes) -> tuple[bytes, dict[str, Any]]:
    status, _, raw = servers.request(server, "POST", "/graphql", body)
    if status != 200:
        raise RuntimeError(f"{server.name}: POST /graphql answered {status}: {raw[:500]!r}")
    document = json.loads(raw)
    if document.get("errors"):
        raise RuntimeError(f"{server.name}: the listing returned errors: {document['errors']}")
    return raw, document


def _first_difference(a: Any, b: Any, path: str = "$") -> str:
    """Where two JSON values first differ, to make a mismatch readable."""
    if type(a) is not type(b):
        return f"{path}: {type(a).__name__} vs {type(b).__name__}"
    if isinstance(a, dict):
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                return _first_difference(a.get(key), b.get(key), f"{path}.{key}")
    elif isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} items vs {len(b)}"
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                return _first_difference(x, y, f"{path}[{index}]")
    return f"{path}: {a!r:.80} vs {b!r:.80}"


def check_same_response(gateway: servers.Server, floor: servers.Server, body: bytes) -> dict[str, Any]:
    """Both servers must answer the listing with the same JSON; returns the gateway's document."""
    raw_a, doc_a = _fetch(gateway, body)
    raw_b, doc_b = _fetch(floor, body)
    if doc_a != doc_b:
        raise RuntimeError("the floor's listing differs from the gateway's: " + _first_difference(doc_a, doc_b))
    edges = doc_a["data"]["products"]["edges"]
    if not edges:
        raise RuntimeError("the listing is empty: was the database seeded?")
    return {"document": doc_a, "byte_identical": raw_a == raw_b, "bytes": len(raw_a), "edges": len(edges)}


def run(database: PreparedDatabase, spec: LoadSpec, rounds: int) -> ScenarioReport:
    # The response cache off: this scenario measures executing the listing (a cache hit would
    # answer both servers from the same stored bytes); scenario `cache` measures the cache.
    env = {**gateway_env(database.url), "CACHE_ENABLED": "0"}
    currency = load_settings(env).store_currency
    body = request_body(LISTING)

    # Counted first: a broken query fails here, before any server starts.
    sql_real, sql_floor = asyncio.run(_count_sql(database.url, currency))
    if sql_floor.count:
        raise RuntimeError(f"the floor executed {sql_floor.count} SQL statements; it must execute none")
    if sql_real.data != sql_floor.data:
        raise RuntimeError(
            "in-process, the floor schema's listing differs from the real schema's: "
            + _first_difference(sql_real.data, sql_floor.data)
        )

    runs_a: list[Result] = []
    runs_b: list[Result] = []
    with ExitStack() as stack:
        gateway = servers.start("gateway", GATEWAY_APP, env)
        stack.callback(gateway.stop)
        floor = servers.start("floor", FLOOR_APP, env)
        stack.callback(floor.stop)
        servers.wait_healthy(gateway)
        servers.wait_healthy(floor)

        before = check_same_response(gateway, floor, body)
        if before["document"]["data"] != sql_real.data:
            raise RuntimeError(
                "the served listing differs from the one executed for the SQL count: "
                + _first_difference(before["document"]["data"], sql_real.data)
            )
        # Alternating a, b, a, b: a slow spell on the shared machine hits both sides, not one.
        for round_number in range(1, rounds + 1):
            for server, runs in ((gateway, runs_a), (floor, runs_b)):
                result = run_load(server.name, server.host, server.port, body, spec)
                runs.append(result)
                print(
                    f"  round {round_number}: {server.name:<8} {result.rps:9.1f} req/s  "
                    f"p50 {result.p50_ms:7.2f} ms  p99 {result.p99_ms:7.2f} ms  errors {result.errors}",
                    flush=True,
                )
        # Still the same answer under and after load (wrk does not read bodies).
        after = check_same_response(gateway, floor, body)
        for server in (gateway, floor):
            if server.process.poll() is not None:
                raise RuntimeError(f"{server.name} server died during the run:\n{server.log_tail()}")

    row_a = Row("(a) gateway", runs_a, sql_real.count)
    row_b = Row("(b) floor (in-memory page)", runs_b, sql_floor.count)
    round_ratios = [a.rps / b.rps if b.rps else 0.0 for a, b in zip(runs_a, runs_b, strict=True)]
    return ScenarioReport(
        name=NAME,
        rows=[row_a, row_b],
        ratio=row_a.best.rps / row_b.best.rps if row_b.best.rps else 0.0,
        ratio_label="a/b (best requests/s)",
        target=TARGET,
        details={
            "query": LISTING,
            "load": {
                "connections": spec.connections,
                "duration_s": spec.duration,
                "warmup_s": spec.warmup,
                "rounds": rounds,
                "order": "a, b alternating",
            },
            "round_ratios": [round(r, 4) for r in round_ratios],
            "response": {
                "bytes": before["bytes"],
                "edges": before["edges"],
                "byte_identical": before["byte_identical"] and after["byte_identical"],
            },
            "sql_statements": sql_real.statements,
            "database": {
                "url": database.url,
                "products": database.products,
                "migrate_seconds": round(database.migrate_seconds, 3),
                "seed_seconds": round(database.seed_seconds, 3),
            },
        },
    )
