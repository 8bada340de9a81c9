"""Fixtures: the gateway against SQLite and PostgreSQL, a GraphQL client, and a SQL counter.

Every test that takes `db` runs once per backend. PostgreSQL comes from TEST_DATABASE_URL (default:
the local server); each session creates and drops its own database there, a copy of one the run
migrated and seeded once (tests/databases.py). Without a server the PostgreSQL runs are skipped,
unless REQUIRE_SERVICES=1, which makes its absence a failure.

Under pytest-xdist (`make test` and `make test-fast` run the suite in several worker processes)
each worker is a session: its own databases, its own app; the tests that use the one test Redis
database take turns (`redis_url`).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from argon2 import PasswordHasher, profiles
from redis.asyncio import Redis
from tortoise import Tortoise
from tortoise.backends.base.executor import EXECUTOR_CACHE

import gateway.app
from gateway.app import create_app
from gateway.db import close, tortoise_config
from gateway.settings import load_settings
from resolvers import accounts, payments
from resolvers.card_books import CardBooks
from schema.limits import Limits
from schema.root import GatewaySchema
from tests import catalogue_fixture, databases
from tests.localstripe import LocalStripe

DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres"
REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"


@dataclass
class Backend:
    name: str
    url: str
    data: catalogue_fixture.Catalogue


def _postgres_admin_url() -> str:
    return os.environ.get("TEST_DATABASE_URL") or DEFAULT_POSTGRES


async def _postgres_available(url: str) -> str | None:
    try:
        conn = await asyncpg.connect(databases.postgres_url(url), timeout=3)
    except (OSError, asyncpg.PostgresError) as error:
        return f"PostgreSQL at {url} is not reachable ({error})"
    await conn.close()
    return None


async def reachable_postgres_admin() -> str:
    """The PostgreSQL admin URL; without a server answering there, the test is skipped (failed
    under REQUIRE_SERVICES=1)."""
    admin = _postgres_admin_url()
    reason = await _postgres_available(admin)
    if reason:
        if REQUIRE_SERVICES:
            pytest.fail(f"REQUIRE_SERVICES=1 but {reason}")
        pytest.skip(reason)
    return admin


def pytest_configure(config: pytest.Config) -> None:
    databases.start_run()


def pytest_unconfigure(config: pytest.Config) -> None:
    databases.end_run()


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashes() -> Iterator[None]:
    """Argon2's cheapest profile for the passwords this process hashes.

    At the production cost (64 MiB, 3 passes, 4 lanes) one hash takes 0.1 s on an idle machine and
    over a second on these two shared cores, and the suite creates and signs in several hundred
    accounts: most of its time went there. Each hash names its own parameters, so accounts made
    either way verify either way; processes the tests start (uvicorn, the CLI) keep the real cost.
    """
    cheap = PasswordHasher.from_parameters(profiles.CHEAPEST)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(accounts, "_hasher", cheap)
        patch.setattr(accounts, "_DUMMY_HASH", cheap.hash("not-a-real-password"))
        yield


@pytest.fixture(scope="session", autouse=True)
def one_schema_per_limits() -> Iterator[None]:
    """`create_app` builds its Strawberry schema, about 30 ms of CPU, and the tests create a hundred
    apps (each its own settings, cache and metrics). A schema holds no state of its own, so apps
    with the same limits share one, as every request in a process does."""
    build = gateway.app.build_schema
    shared = functools.cache(build)

    def build_schema(limits: Limits, cost_limited: bool = False, around: Sequence[Any] = ()) -> GatewaySchema:
        # A traced app's schema carries that app's tracing extensions: it gets one of its own.
        return build(limits, cost_limited, around) if around else shared(limits, cost_limited)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(gateway.app, "build_schema", build_schema)
        yield


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
async def db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Backend]:
    """A migrated database holding the test catalogue, with Tortoise connected to it: a copy of the
    run's template for the backend (tests/databases.py), this session's own."""
    if request.param == "sqlite":
        copy = databases.sqlite_copy(tmp_path_factory.mktemp("sqlite"))
    else:
        copy = databases.postgres_copy(await reachable_postgres_admin())
    async with copy as (url, data):
        await Tortoise.init(config=tortoise_config(url), _enable_global_fallback=True)
        try:
            yield Backend(request.param, url, data)
        finally:
            await close()
            # Tortoise caches compiled INSERTs per connection name, not per dialect: the next backend
            # would get this one's placeholders.
            EXECUTOR_CACHE.clear()


@pytest.fixture(scope="session")
def app(db: Backend, tmp_path_factory: pytest.TempPathFactory) -> Any:
    # No lifespan: the `db` fixture has already connected Tortoise to this backend. Every test
    # client shares one address, so rate limits are off here (tests/test_rate_limits.py has its own).
    # The test card's books go to a file of the session's own, not the working copy's var/.
    settings = load_settings(
        {
            "DATABASE_URL": db.url,
            "LOG_LEVEL": "INFO",
            "RATE_LIMIT_PER_SECOND": "0",
            "LOGIN_ATTEMPTS_PER_MINUTE": "10000",
            "TEST_CARD_LEDGER": str(tmp_path_factory.mktemp("card") / "test-card-ledger.jsonl"),
            "MEDIA_STORAGE_URL": str(tmp_path_factory.mktemp("media")),
        }
    )
    return create_app(settings)


@pytest.fixture(scope="session", autouse=True)
def card_books_of_this_process(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The test-card processor of this process keeps its books in a file of its own from the start.

    The one installed at import writes to the working copy's var/, shared by every worker of the
    run (and by other runs): the first test of a worker, which creates the session's app, would
    otherwise put that one back when it ends (`card_books_of_the_session`), and a payment test
    after it read another worker's charge as its own.
    """
    books = CardBooks(tmp_path_factory.mktemp("card-books") / "test-card-ledger.jsonl")
    payments.install(payments.TestCardPayment(books))


@pytest.fixture(autouse=True)
def card_books_of_the_session(card_books_of_this_process: None) -> Iterator[None]:
    """Each test leaves the test-card processor installed as it found it.

    `create_app` installs its processor for the whole process. A test that makes an app of its own,
    without TEST_CARD_LEDGER, left one behind writing to the working copy's
    var/test-card-ledger.jsonl, which every worker of the run shares: the payment tests after it,
    which read what their checkout charged, read the other workers' charges too.
    """
    installed = payments.provider("test-card")
    yield
    if installed is not None:
        payments.install(installed)


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
        yield http


class GraphQLClient:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def post(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.http.post("/graphql", json={"query": query, "variables": variables or {}})
        assert response.status_code in (200, 400), response.text
        return response.json()

    async def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = await self.post(query, variables)
        assert not body.get("errors"), body["errors"]
        return body["data"]

    async def error_codes(self, query: str, variables: dict[str, Any] | None = None) -> list[str]:
        body = await self.post(query, variables)
        assert body.get("errors"), body
        return [error.get("extensions", {}).get("code") for error in body["errors"]]


@pytest.fixture
def gql(client: httpx.AsyncClient) -> GraphQLClient:
    return GraphQLClient(client)


class StatementCounter(logging.Handler):
    """Counts the SQL statements Tortoise sends to the driver (one DEBUG record each)."""

    VERBS = ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage().lstrip()
        if text.upper().startswith(self.VERBS):
            self.statements.append(text)


@pytest.fixture
def sql_counter() -> Iterator[StatementCounter]:
    logger = logging.getLogger("tortoise.db_client")
    counter = StatementCounter()
    previous = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(counter)
    try:
        yield counter
    finally:
        logger.removeHandler(counter)
        logger.setLevel(previous)


@asynccontextmanager
async def the_test_redis() -> AsyncIterator[str]:
    """The test Redis database (TEST_REDIS_URL), emptied before and after; skipped when absent
    unless REQUIRE_SERVICES=1. For fixtures that choose whether to use Redis; `redis_url` for tests.

    One database for the whole run, and each user empties it (and its event bus channel is named
    after it): a user waits until no other test has it, under pytest-xdist or in another test run
    on this machine (whose emptying it would otherwise wipe this test's keys midway).
    """
    url = os.environ.get("TEST_REDIS_URL") or "redis://127.0.0.1:6379/15"
    name = hashlib.sha256(url.encode()).hexdigest()[:16]
    async with databases.exclusive(f"gateway-test-redis-{name}", machine_wide=True):
        client = Redis.from_url(url, socket_connect_timeout=2)
        try:
            await client.ping()
        except Exception as error:  # any failure: no Redis to test against
            await client.aclose()
            if REQUIRE_SERVICES:
                pytest.fail(f"REQUIRE_SERVICES=1 but Redis at {url} is not reachable ({error})")
            pytest.skip(f"Redis at {url} is not reachable ({error})")
        await client.flushdb()  # this test database only: every test starts from an empty cache
        try:
            yield url
        finally:
            await client.flushdb()
            await client.aclose()


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    """The test Redis database, the test's alone while it runs (`the_test_redis`)."""
    async with the_test_redis() as url:
        yield url


ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def quiet_http_client() -> Iterator[None]:
    """httpx's INFO record per request off for the test (the drills send thousands)."""
    logger = logging.getLogger("httpx")
    level = logger.level
    logger.setLevel(logging.WARNING)
    yield
    logger.setLevel(level)


@pytest.fixture
async def mailbox() -> AsyncIterator[Any]:
    """The account emails committed so far, sent to a real SMTP server; those new since the last
    call (tests/account_mail.py)."""
    from tests.account_mail import mailroom  # imports tests.test_emails, which imports this module

    async with mailroom() as arrived:
        yield arrived


@pytest.fixture(scope="session")
def localstripe() -> Iterator[LocalStripe]:
    """A Stripe-compatible server (localstripe, from PyPI) for this test process, started on first use."""
    server = LocalStripe.start()
    try:
        yield server
    finally:
        server.stop()
