"""`make bench`: the gateway under load, next to a floor that does the same HTTP and GraphQL work
without touching the database, so the ratio says how much the data layer costs.

Run with `.venv/bin/python -m bench` from the repository root. Each scenario is one module
(`bench.listing`, later checkout, cache hit, fan-out…) returning rows for the shared report.
"""

from __future__ import annotations

import os
from pathlib import Path

from testbed import PYTHON as PYTHON
from testbed import ROOT as ROOT

RESULTS_DIR = Path(__file__).resolve().parent / "results"

# BENCH_DB_NAME lets two checkouts of the project bench on one server without dropping each other's.
DB_NAME = os.environ.get("BENCH_DB_NAME") or "gateway_bench"
PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
