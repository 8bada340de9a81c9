"""Cached answers follow the database: a database re-created and reseeded behind the same
`DATABASE_URL` and the same Redis is never answered from the entries of the one it replaced,
while restarts on an unchanged database keep sharing them."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests import databases
from tests.conftest import ROOT, reachable_postgres_admin
from tests.live import uvicorn_workers

pytestmark = pytest.mark.slow  # gateway CLI processes and uvicorn workers

PRICE = "{ products(first: 1, sort: NAME_ASC) { edges { node { slug variants { sku price { amount } } } } } }"
HIT = "gateway; hit"
NEW_PRICE = "1234.50"


def gateway_command(database_url: str, *args: str) -> None:
    env = {**os.environ, "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"}
    result = subprocess.run(
        [sys.executable, "-m", "gateway", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]


async def ask(database_url: str, redis_url: str) -> tuple[str, str]:
    """(Cache-Status, first variant's price) of one catalogue query to a freshly started gateway."""
    async with (
        uvicorn_workers({"DATABASE_URL": database_url, "REDIS_URL": redis_url}, workers=2) as (base, _),
        httpx.AsyncClient(base_url=base, timeout=30) as client,
    ):
        response = await client.post("/graphql", json={"query": PRICE})
        assert response.status_code == 200 and not response.json().get("errors"), response.text
        # Once more, so that the first answer is certainly stored before the process stops.
        await client.post("/graphql", json={"query": PRICE})
    variant = response.json()["data"]["products"]["edges"][0]["node"]["variants"][0]
    return response.headers["cache-status"], variant["price"]["amount"]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_a_reseeded_database_is_not_answered_from_the_old_ones_entries(backend, redis_url, tmp_path: Path):
    if backend == "sqlite":
        path = tmp_path / "gateway.sqlite3"
        url = f"sqlite://{path}"
        dropped = None
    else:
        admin = await reachable_postgres_admin()
        url, name = await databases.create_postgres_database(admin)
        dropped = (admin, name)
    try:
        gateway_command(url, "migrate")
        gateway_command(url, "seed", "--products", "3")
        status, old_price = await ask(url, redis_url)
        assert status != HIT
        # Restarted on the same database: the same identity, so the entry in Redis is shared.
        assert await ask(url, redis_url) == (HIT, old_price)

        # The database is replaced by another with the same URL (as a restore or a reseed
        # does), whose prices differ; nothing told the cache.
        if dropped is None:
            path.unlink()
        else:
            await databases.drop_postgres_database(*dropped)
            url, _ = await _recreate_postgres_database(*dropped)
        gateway_command(url, "migrate")
        gateway_command(url, "seed", "--products", "3")
        await _set_every_price(url, NEW_PRICE)

        status, price = await ask(url, redis_url)
        assert status != HIT and price == NEW_PRICE
    finally:
        if dropped is not None:
            await databases.drop_postgres_database(*dropped)


async def _recreate_postgres_database(admin: str, name: str) -> tuple[str, str]:
    conn = await asyncpg.connect(admin.replace("postgres://", "postgresql://", 1))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return admin.rsplit("/", 1)[0] + f"/{name}", name


async def _set_every_price(url: str, amount: str) -> None:
    if url.startswith("sqlite://"):
        with sqlite3.connect(url.removeprefix("sqlite://")) as conn:
            conn.execute("UPDATE product_variant SET price = ?", (amount,))
        return
    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        await conn.execute(f"UPDATE product_variant SET price = {amount}")
    finally:
        await conn.close()
