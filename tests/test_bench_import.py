"""The import scenario end to end at a tiny scale (40 products, batches of 50 rows), so that it
cannot rot: the full run (`python -m bench import`) imports 10,000 products into a database of its
own. Here into a copy of the test catalogue (its categories, attributes and warehouses are the
seed's), in a process of its own as under `python -m bench`: it initialises Tortoise itself."""

from __future__ import annotations

import asyncio
import json
import subprocess

from bench import PYTHON, ROOT
from tests import databases
from tests.conftest import reachable_postgres_admin

SCENARIO = """
import json, sys
from bench import imports
report = imports.run_import(40, batch_size=50, url=sys.argv[1])
print(json.dumps({"document": report.as_dict(), "table": report.render()}))
"""


async def test_the_import_scenario_imports_and_counts_one_invalidation_per_batch():
    async with databases.postgres_copy(await reachable_postgres_admin()) as (url, _):
        done = await asyncio.to_thread(
            subprocess.run, [PYTHON, "-c", SCENARIO, url], cwd=ROOT, capture_output=True, text=True, timeout=600
        )
    assert done.returncode == 0, done.stderr[-3000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    document = answer["document"]
    first, again = document["first_import"], document["same_file_again"]
    assert document["products"] == 40 and document["batch_size"] == 50
    assert first["rows"] == 120 and first["batches"] == 3 and first["rows_refused"] == 0
    assert first["products_created"] == 40
    assert first["cache_invalidations"] == first["batches"]  # one per batch, not one per row
    assert first["sql_statements"] > 0 and first["seconds"] > 0
    assert again["products_created"] == 0 and again["products_changed"] == 0 and again["cache_invalidations"] == 0
    assert document["target_met"] is True
    assert "first import" in answer["table"]
