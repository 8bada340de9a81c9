"""The scale scenario end to end on tiny catalogues: two sizes seeded through the CLI, each listing
measured, the growth and seed verdicts reported. The full run (`python -m bench scale`) seeds
200,000 products and takes minutes."""

from __future__ import annotations

import asyncio
import os

import asyncpg

from bench import PG_ADMIN_URL, scale
from tests.conftest import reachable_postgres_admin


def test_the_scale_scenario_measures_every_listing_at_two_sizes():
    asyncio.run(reachable_postgres_admin())
    name = f"gateway_bench_scale_test_{os.getpid()}"
    try:
        report = scale.run_sizes((40, 160), requests=3, warmups=1, db_name=name)
    finally:
        asyncio.run(_drop(name))

    small, large = report.sizes
    assert (small.products, large.products) == (40, 160)
    for label in scale.QUERIES:
        assert small.timings[label].median_ms > 0 and large.timings[label].median_ms > 0
        assert small.timings[label].statements >= 1
    # Each query finds something in the larger catalogue, and no less than in the smaller one.
    for label in scale.QUERIES:
        assert 0 <= small.timings[label].total_count <= large.timings[label].total_count, label
        assert large.timings[label].total_count > 0, label
    assert small.timings["deep page (80%)"].total_count < large.timings["deep page (80%)"].total_count
    document = report.as_dict()
    assert set(document["growth"]) == set(scale.QUERIES)
    assert document["growth"]["deep page (80%)"] == round(report.growth("deep page (80%)"), 3)
    assert "seed of 160 products" in report.render()


async def _drop(name: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_URL.replace("postgres://", "postgresql://"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
