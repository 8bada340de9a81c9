"""The tests' databases: each backend migrated and seeded once per run, every session on a copy.

Migrating (a dozen migrations) and seeding the test catalogue cost one to two seconds of CPU per
backend, plus several seconds of waiting on fsync and on the server (8 s for PostgreSQL on a busy
machine, against 0.2 s for a copy), and every session paid it for each backend: each pytest-xdist
worker, each hostile-input gateway. Now the first session that needs a backend builds its template,
under a file lock in a directory the whole run shares, and each session copies it: SQLite's backup
API for a file, `CREATE DATABASE ... TEMPLATE` on PostgreSQL. A copy is exactly what migrating and
seeding produced, so a session still starts from the same rows and the same ids.

The run's directory is made by the process pytest was started in (`start_run`), which the workers
inherit through the environment; that process drops the PostgreSQL templates when the run ends
(`end_run`), once no worker can need them any more.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.context import TortoiseContext

from gateway.db import migrate, tortoise_config
from tests import catalogue_fixture

RUN_DIRECTORY = "GATEWAY_TEST_RUN_DIRECTORY"


@dataclass(frozen=True)
class Template:
    url: str
    data: catalogue_fixture.Catalogue
    admin_url: str = ""  # PostgreSQL: the server the template lives on
    name: str = ""  # PostgreSQL: the template database's name


def start_run() -> None:
    """The run's shared directory, unless this process is a worker of a run that already has one."""
    if RUN_DIRECTORY not in os.environ:
        os.environ[RUN_DIRECTORY] = tempfile.mkdtemp(prefix="gateway-test-run-")


def end_run() -> None:
    """Drop the PostgreSQL templates and the run's directory (the process that made it only)."""
    if "PYTEST_XDIST_WORKER" in os.environ:
        return
    directory = os.environ.pop(RUN_DIRECTORY, None)
    if directory is None:
        return
    template = _read(Path(directory) / "postgres.json")
    if template is not None:
        # A server gone by now cannot hold the template either.
        with contextlib.suppress(OSError, asyncpg.PostgresError):
            asyncio.run(drop_postgres_database(template.admin_url, template.name))
    shutil.rmtree(directory, ignore_errors=True)


def postgres_url(url: str) -> str:
    """asyncpg's spelling of a postgres:// URL."""
    return url.replace("postgres://", "postgresql://", 1)


def database_url(admin_url: str, name: str) -> str:
    """The URL of database `name` on the server of `admin_url`."""
    parts = urlsplit(admin_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", ""))


async def create_postgres_database(admin_url: str, template: str = "") -> tuple[str, str]:
    name = f"gateway_test_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(postgres_url(admin_url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    finally:
        await conn.close()
    return database_url(admin_url, name), name


async def drop_postgres_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(postgres_url(admin_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@asynccontextmanager
async def sqlite_copy(directory: Path) -> AsyncIterator[tuple[str, catalogue_fixture.Catalogue]]:
    """A fresh SQLite database under `directory`, migrated and seeded; yields its URL and catalogue."""
    async with exclusive("sqlite-template") as run:
        record = run / "sqlite.json"
        template = _read(record) or await _build(record, f"sqlite://{run / 'template.sqlite3'}")
    path = directory / "gateway.sqlite3"
    # The backup API rather than a file copy: it reads a consistent database whatever the journal
    # (Tortoise opens SQLite in WAL mode) left beside the file.
    source = sqlite3.connect(template.url.removeprefix("sqlite://"))
    target = sqlite3.connect(path)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()
    yield f"sqlite://{path}", template.data


@asynccontextmanager
async def postgres_copy(admin_url: str) -> AsyncIterator[tuple[str, catalogue_fixture.Catalogue]]:
    """A fresh PostgreSQL database, migrated and seeded, dropped afterwards; yields its URL and catalogue."""
    async with exclusive("postgres-template") as run:
        record = run / "postgres.json"
        template = _read(record)
        if template is None:
            url, name = await create_postgres_database(admin_url)
            try:
                template = await _build(record, url, admin_url, name)
            except BaseException:
                await drop_postgres_database(admin_url, name)
                raise
        # Under the lock too: a database that is being copied may not be copied by another session.
        url, name = await create_postgres_database(admin_url, template=template.name)
    try:
        yield url, template.data
    finally:
        await drop_postgres_database(admin_url, name)


async def _build(record: Path, url: str, admin_url: str = "", name: str = "") -> Template:
    # A Tortoise context of its own: whatever the session has connected stays as it is.
    context = TortoiseContext()
    try:
        with context:
            await migrate(url)
            await context.init(config=tortoise_config(url))
            data = await catalogue_fixture.build()
    finally:
        with context:
            # Every connection closed, or PostgreSQL refuses to copy the database.
            await context.close_connections()
        # Tortoise caches compiled INSERTs per connection name, not per dialect: the next backend
        # would get this one's placeholders.
        EXECUTOR_CACHE.clear()
    template = Template(url, data, admin_url, name)
    _write(record, template)
    return template


def _write(record: Path, template: Template) -> None:
    record.write_text(json.dumps(asdict(template)))


def _read(record: Path) -> Template | None:
    if not record.exists():
        return None
    fields = json.loads(record.read_text())
    return Template(**{**fields, "data": catalogue_fixture.Catalogue(**fields["data"])})


@asynccontextmanager
async def exclusive(resource: str, machine_wide: bool = False) -> AsyncIterator[Path]:
    """Held by one session of the run at a time (pytest-xdist runs one per worker process) while it
    builds or copies a template; `machine_wide`, by one session of any run on this machine (two
    test runs at once share the one test Redis database). Yields the run's directory."""
    directory = Path(os.environ[RUN_DIRECTORY])  # conftest's pytest_configure made it
    locks = Path(tempfile.gettempdir()) if machine_wide else directory
    descriptor = os.open(locks / f"{resource}.lock", os.O_CREAT | os.O_RDWR, 0o666)
    try:
        # Waiting for another worker: off the event loop, which has nothing else to run meanwhile.
        await asyncio.to_thread(fcntl.flock, descriptor, fcntl.LOCK_EX)
        yield directory
    finally:
        os.close(descriptor)  # releases the lock
