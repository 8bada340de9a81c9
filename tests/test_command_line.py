"""The commands of the contract, run as a newcomer would run them, against fresh SQLite files."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT
from tests.live import free_port


def run(*args: str, database: Path, **env: str) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "DATABASE_URL": f"sqlite://{database}", **env}
    result = subprocess.run(
        [sys.executable, "-m", "gateway", *args], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result


def dump(database: Path) -> dict[str, list[tuple]]:
    with sqlite3.connect(database) as conn:
        return {
            table: conn.execute(f'SELECT * FROM "{table}" ORDER BY id').fetchall()
            for table in (
                "category",
                "product",
                "product_variant",
                "variant_option",
                "product_image",
                "warehouse",
                "stock",
                "shipping_method",
            )
        }


@pytest.mark.slow  # gateway CLI processes
def test_seed_is_deterministic_idempotent_and_realistic(tmp_path):
    first, second = tmp_path / "a.sqlite3", tmp_path / "b.sqlite3"
    for database in (first, second):
        run("migrate", database=database)
        assert "seeded 120 products" in run("seed", "--products", "120", "--seed", "5", database=database).stdout
    assert dump(first) == dump(second)
    assert "already seeded" in run("seed", "--products", "120", "--seed", "5", database=first).stdout
    assert dump(first) == dump(second)

    with sqlite3.connect(first) as conn:
        assert conn.execute("SELECT MAX(depth) FROM category").fetchone()[0] == 2
        per_product = [n for (n,) in conn.execute("SELECT COUNT(*) FROM product_variant GROUP BY product_id")]
        assert min(per_product) >= 1 and max(per_product) <= 5 and len(per_product) == 120
        assert conn.execute("SELECT COUNT(*) FROM product_image").fetchone()[0] >= 120
        assert [c for (c,) in conn.execute("SELECT code FROM warehouse ORDER BY code")] == ["central", "north"]
        assert [c for (c,) in conn.execute("SELECT countries FROM shipping_method WHERE name = 'Standard'")] == ["[]"]
        sold_out = conn.execute(
            "SELECT COUNT(*) FROM (SELECT variant_id FROM stock GROUP BY variant_id HAVING SUM(quantity - reserved) = 0)"
        ).fetchone()[0]
        assert sold_out > 0


@pytest.mark.slow  # a gateway process
def test_serve_brings_up_a_working_gateway(tmp_path):
    database = tmp_path / "serve.sqlite3"
    run("migrate", database=database)
    run("seed", "--products", "25", database=database)
    port = free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite://{database}", "PORT": str(port), "LOG_LEVEL": "WARNING"}
    server = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, "server did not start"
            time.sleep(0.2)
        body = httpx.post(
            f"{base}/graphql", json={"query": "{ products(first: 3) { totalCount edges { node { name } } } }"}
        ).json()
        assert len(body["data"]["products"]["edges"]) == 3
        assert "graphiql" in httpx.get(f"{base}/graphql", headers={"accept": "text/html"}).text.lower()
        assert httpx.get(f"{base}/readyz").status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=30)
