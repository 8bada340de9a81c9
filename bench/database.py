"""The bench database: dropped and recreated every run, migrated and seeded through the real CLI.

Going through `python -m gateway migrate/seed` (not calling the functions) measures what an
operator would run and keeps the harness process free of a second Tortoise initialisation.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from dataclasses import dataclass

import asyncpg

from bench import DATABASE_URL, DB_NAME, PG_ADMIN_URL, PYTHON, ROOT

PRODUCTS = 10_000
SEED = 1
SEED_TARGET_SECONDS = 60.0


@dataclass(frozen=True)
class PreparedDatabase:
    url: str
    migrate_seconds: float
    seed_seconds: float  # wall time of `python -m gateway seed`, interpreter start-up included
    products: int


def gateway_env(database_url: str = DATABASE_URL) -> dict[str, str]:
    """The environment of every gateway process: the bench database, and no per-request log line."""
    env = dict(os.environ)
    env["DATABASE_URL"] = database_url
    # The access log is written at INFO by the middleware; WARNING keeps it off the hot path.
    env["LOG_LEVEL"] = "WARNING"
    # One load generator on one address is, to the rate limiter, one very greedy client.
    env["RATE_LIMIT_PER_SECOND"] = "0"
    return env


async def recreate(name: str = DB_NAME) -> None:
    # WITH (FORCE) ends sessions a crashed earlier run may have left behind (PostgreSQL 13+).
    conn = await asyncpg.connect(PG_ADMIN_URL.replace("postgres://", "postgresql://"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def gateway_cli(*args: str, url: str = DATABASE_URL) -> float:
    """Run `python -m gateway ARGS` against the bench database; seconds taken. Raises on failure."""
    started = time.perf_counter()
    done = subprocess.run(
        [PYTHON, "-m", "gateway", *args], cwd=ROOT, env=gateway_env(url), capture_output=True, text=True
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(
            f"`python -m gateway {' '.join(args)}` failed with exit code {done.returncode}:\n{done.stdout}{done.stderr}"
        )
    return elapsed


def prepare(products: int = PRODUCTS, seed: int = SEED) -> PreparedDatabase:
    asyncio.run(recreate())
    migrate_seconds = gateway_cli("migrate")
    seed_seconds = gateway_cli("seed", "--products", str(products), "--seed", str(seed))
    asyncio.run(settle())
    return PreparedDatabase(DATABASE_URL, migrate_seconds, seed_seconds, products)


async def settle(url: str = DATABASE_URL) -> None:
    """Finish now what PostgreSQL would otherwise do in the background of the first measured runs,
    on whichever core: statistics and visibility for the freshly seeded tables (autovacuum), and
    writing their pages out (checkpoint)."""
    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://"))
    try:
        await conn.execute("VACUUM (ANALYZE)")
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()
