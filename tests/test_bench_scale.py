"""The scale scenario end to end on tiny catalogues: two sizes seeded through the CLI, each listing
measured, the growth and seed verdicts reported. The full run (`python -m bench scale`) seeds
200,000 products and takes minutes. The scenario runs in a process of its own, as under `python -m
bench`: it initialises and closes Tortoise itself, which must not touch this process's connection."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess

import asyncpg
import pytest

from bench import PG_ADMIN_URL, PYTHON, ROOT, scale
from tests.conftest import reachable_postgres_admin

SCENARIO = """
import json, sys
from bench import scale
report = scale.run_sizes((40, 160), requests=3, warmups=1, db_name=sys.argv[1])
print(json.dumps({"document": report.as_dict(), "table": report.render()}))
"""


def test_the_scale_scenario_measures_every_listing_at_two_sizes():
    asyncio.run(reachable_postgres_admin())
    name = f"gateway_bench_scale_test_{os.getpid()}"
    try:
        done = subprocess.run([PYTHON, "-c", SCENARIO, name], cwd=ROOT, capture_output=True, text=True, timeout=600)
    finally:
        asyncio.run(_drop(name))
    assert done.returncode == 0, done.stderr[-3000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    document = answer["document"]

    small, large = (size["timings"] for size in document["sizes"])
    assert [size["products"] for size in document["sizes"]] == [40, 160]
    for label in scale.QUERIES:
        assert small[label]["median_ms"] > 0 and large[label]["median_ms"] > 0
        assert small[label]["sql_statements"] >= 1
        # Each query finds something in the larger catalogue, and no less than in the smaller one.
        assert 0 <= small[label]["total_count"] <= large[label]["total_count"], label
        assert large[label]["total_count"] > 0, label
        growth = large[label]["median_ms"] / small[label]["median_ms"]
        assert document["growth"][label] == pytest.approx(growth, rel=0.01, abs=0.002)
    assert small["deep page (80%)"]["total_count"] < large["deep page (80%)"]["total_count"]
    assert "seed of 160 products" in answer["table"]


async def _drop(name: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_URL.replace("postgres://", "postgresql://"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
