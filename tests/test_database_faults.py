"""Bounded database waits and honest outages.

A statement runs at most DATABASE_STATEMENT_TIMEOUT and then answers TIMEOUT; a client that
disconnects takes its statement with it; a database that cannot be reached answers 503 with
Retry-After (GraphQL and the carrier webhook alike), `/readyz` says why, and service resumes by
itself when the database is back.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import httpx
import pytest

from gateway.db import tortoise_config
from gateway.disconnect import ClientDisconnected, unless_disconnected
from gateway.settings import ConfigError, load_settings
from resolvers import payments
from resolvers.card_books import CardBooks
from resolvers.catalogue_listing import WORD_SIMILARITY_THRESHOLD
from resolvers.errors import DatabaseUnavailable, GraphQLErrorCode, database_fault
from tests.conftest import ROOT
from tests.live import serve_in_loop, uvicorn_workers
from tests.pg_server import PostgresProcess

SERVICE_UNAVAILABLE, TIMEOUT = GraphQLErrorCode.SERVICE_UNAVAILABLE, GraphQLErrorCode.TIMEOUT

CART_CREATE = "mutation { cartCreate(input: {}) { cart { token } userErrors { code } } }"
EMAIL = "mutation($t: ID!, $e: String!) { cartUpdateEmail(cartToken: $t, email: $e) { cart { email } userErrors { code } } }"
PRODUCTS = "{ products(first: 2) { edges { node { slug } } } }"
CARRIER_SECRET = "dhl-secret-for-the-outage-test"


def _dsn(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


# --- units ------------------------------------------------------------------------------------


def test_statement_timeout_setting():
    assert load_settings({}).database_statement_timeout == 5.0
    assert load_settings({"DATABASE_STATEMENT_TIMEOUT": "0.25"}).database_statement_timeout == 0.25
    assert load_settings({"DATABASE_STATEMENT_TIMEOUT": "0"}).database_statement_timeout == 0
    for bad in ("five", "-1", "nan", "inf", "3601", "0.0001"):
        with pytest.raises(ConfigError, match=r"^DATABASE_STATEMENT_TIMEOUT:"):
            load_settings({"DATABASE_STATEMENT_TIMEOUT": bad})


def test_statement_timeout_is_a_setting_of_every_postgresql_connection():
    credentials = tortoise_config("postgres://u@db:5432/shop", 2.5)["connections"]["default"]["credentials"]
    session = {
        "pg_trgm.word_similarity_threshold": str(WORD_SIMILARITY_THRESHOLD),  # typo-tolerant search
        "plan_cache_mode": "force_custom_plan",  # every search planned for its words
    }
    assert credentials["server_settings"] == {"statement_timeout": "2500", **session}
    # Migrations and the command-line tools: no limit.
    untimed = tortoise_config("postgres://u@db:5432/shop")["connections"]["default"]["credentials"]
    assert untimed["server_settings"] == session


class _Driver(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    "error,fault",
    [
        (DatabaseUnavailable("refused"), SERVICE_UNAVAILABLE),
        (_Driver("08003"), SERVICE_UNAVAILABLE),  # connection does not exist (lost mid-query)
        (_Driver("57P01"), SERVICE_UNAVAILABLE),  # admin shutdown
        (_Driver("57P03"), SERVICE_UNAVAILABLE),  # cannot connect now
        (_Driver("53300"), SERVICE_UNAVAILABLE),  # too many connections
        (_Driver("57014"), TIMEOUT),  # statement timeout
        (_Driver("23505"), None),  # a unique violation is the request's business
        (ValueError("08003"), None),  # a message is never read
        (OSError("refused"), None),  # only where a connection is opened does OSError mean the database
        # A connection the server closed under a statement (seen in the PostgreSQL restart drill).
        (
            asyncpg.InterfaceError("cannot call Transaction.rollback(): the underlying connection is closed"),
            SERVICE_UNAVAILABLE,
        ),
        (
            asyncpg.InternalClientError("cannot switch to state 12; another operation (2) is in progress"),
            SERVICE_UNAVAILABLE,
        ),
        (asyncpg.exceptions.ClientConfigurationError("bad setting"), None),  # a typed client error is a real fault
    ],
)
def test_database_faults_are_told_by_type_and_sqlstate(error, fault):
    assert database_fault(error) == fault


def test_a_fault_hidden_behind_another_error_is_found():
    try:
        try:
            raise _Driver("08006")
        except _Driver:
            raise RuntimeError("rollback on a closed connection")  # noqa: B904 (implicit context, as in Tortoise)
    except RuntimeError as error:
        assert database_fault(error) == SERVICE_UNAVAILABLE


async def test_work_is_cancelled_when_the_client_disconnects():
    messages = [{"type": "http.request", "body": b"", "more_body": False}, {"type": "http.disconnect"}]
    cancelled = asyncio.Event()

    async def receive():
        return messages.pop(0)

    async def work():
        try:
            await asyncio.Event().wait()  # a statement that would never end
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def request() -> int:
        with pytest.raises(ClientDisconnected):
            await unless_disconnected(receive, work())
        return asyncio.current_task().cancelling()

    # The bound only turns a regression (work never cancelled) into a failure rather than a hang.
    assert await asyncio.wait_for(request(), 10) == 0  # the request's own task carries on
    assert cancelled.is_set()


async def test_work_is_left_alone_while_the_client_waits():
    async def receive():
        await asyncio.Event().wait()  # no disconnect, ever

    async def work():
        await asyncio.sleep(0)
        return "answer"

    assert await unless_disconnected(receive, work()) == "answer"


# --- against PostgreSQL -----------------------------------------------------------------------


def _postgres_only(db):
    if db.name != "postgres":
        pytest.skip("statement timeouts and cancellation are PostgreSQL's")


@asynccontextmanager
async def _cart_row_locked(url: str, token: str) -> AsyncIterator[asyncpg.Connection]:
    """Another session holding the cart's row lock, as a concurrent checkout would."""
    holder = await asyncpg.connect(_dsn(url))
    transaction = holder.transaction()
    await transaction.start()
    await holder.execute("SELECT 1 FROM cart WHERE token = $1 FOR UPDATE", token)
    try:
        yield holder
    finally:
        await transaction.rollback()
        await holder.close()


async def _lock_waiters(monitor: asyncpg.Connection, database: str) -> int:
    return await monitor.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'", database
    )


async def _eventually(check, deadline_seconds: float = 15.0) -> None:
    """Poll `check` (async, truthy when done) until it holds; fail at the deadline."""
    deadline = time.monotonic() + deadline_seconds
    while not await check():
        assert time.monotonic() < deadline, "condition not reached before the deadline"
        await asyncio.sleep(0.05)


@pytest.mark.slow  # uvicorn workers
async def test_a_statement_past_the_time_limit_answers_timeout(db):
    _postgres_only(db)
    env = {"DATABASE_URL": db.url, "DATABASE_STATEMENT_TIMEOUT": "0.5", "CACHE_ENABLED": "0"}
    async with uvicorn_workers(env) as (base, _), httpx.AsyncClient(base_url=base, timeout=30) as client:
        token = (await client.post("/graphql", json={"query": CART_CREATE})).json()["data"]["cartCreate"]["cart"][
            "token"
        ]
        async with _cart_row_locked(db.url, token):
            response = await client.post(
                "/graphql", json={"query": EMAIL, "variables": {"t": token, "e": "late@example.com"}}
            )
        body = response.json()
        assert response.status_code == 200, response.text
        assert [e["extensions"]["code"] for e in body["errors"]] == ["TIMEOUT"], body
        assert "Traceback" not in response.text and "canceling statement" not in response.text
        # Nothing changed, and the next request is served as usual.
        response = await client.post(
            "/graphql", json={"query": EMAIL, "variables": {"t": token, "e": "now@example.com"}}
        )
        assert response.json()["data"]["cartUpdateEmail"]["cart"]["email"] == "now@example.com"


async def test_a_client_that_disconnects_cancels_its_statement(db, app):
    _postgres_only(db)
    database = db.url.rsplit("/", 1)[1]
    monitor = await asyncpg.connect(_dsn(db.url))
    try:
        async with serve_in_loop(app) as ws_url:
            port = int(ws_url.split(":")[2].split("/")[0])
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                token = (await client.post("/graphql", json={"query": CART_CREATE})).json()["data"]["cartCreate"][
                    "cart"
                ]["token"]
            async with _cart_row_locked(db.url, token):
                body = json.dumps({"query": EMAIL, "variables": {"t": token, "e": "gone@example.com"}}).encode()
                _reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(
                    b"POST /graphql HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
                )
                await writer.drain()

                async def waiting() -> bool:
                    return await _lock_waiters(monitor, database) == 1

                await _eventually(waiting)  # the mutation's statement waits for the row lock
                writer.close()  # the client gives up
                await writer.wait_closed()

                async def stopped() -> bool:
                    return await _lock_waiters(monitor, database) == 0

                # While the lock is still held, the statement is gone: the server cancelled it.
                await _eventually(stopped)
            email = await monitor.fetchval("SELECT email FROM cart WHERE token = $1", token)
            assert email != "gone@example.com"
    finally:
        await monitor.close()


# --- an outage --------------------------------------------------------------------------------


def _gateway(command: list[str], url: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gateway", *command],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "DATABASE_URL": url},
    )
    assert result.returncode == 0, result.stderr[-2000:]


def _signed(event: dict) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event).encode()
    signature = hmac.new(CARRIER_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return body, {"X-Signature": signature, "Content-Type": "application/json"}


@pytest.fixture
async def own_postgres() -> AsyncIterator[PostgresProcess]:
    server = PostgresProcess()
    try:
        server.start()
        conn = await asyncpg.connect(_dsn(server.url))
        await conn.execute('CREATE DATABASE "gateway"')
        await conn.close()
        yield server
    finally:
        server.remove()


@pytest.mark.slow  # a PostgreSQL of its own, stopped and started
async def test_an_unreachable_database_answers_503_with_retry_after_until_it_is_back(own_postgres):
    url = own_postgres.url.rsplit("/", 1)[0] + "/gateway"
    _gateway(["migrate"], url)
    _gateway(["seed", "--products", "3"], url)
    env = {"DATABASE_URL": url, "CACHE_ENABLED": "0", "CARRIER_WEBHOOK_SECRETS": f"dhl={CARRIER_SECRET}"}
    event = {
        "eventId": "e-1",
        "trackingNumber": "NO-SUCH-PARCEL",
        "status": "IN_TRANSIT",
        "occurredAt": "2026-11-27T14:05:00Z",
    }
    async with uvicorn_workers(env) as (base, _), httpx.AsyncClient(base_url=base, timeout=30) as client:
        assert (await client.post("/graphql", json={"query": PRODUCTS})).status_code == 200

        own_postgres.stop()
        for request in ({"query": PRODUCTS}, {"query": CART_CREATE}):
            for accept in ("application/json", "application/graphql-response+json"):
                response = await client.post("/graphql", json=request, headers={"Accept": accept})
                assert response.status_code == 503, response.text
                assert int(response.headers["Retry-After"]) > 0
                assert response.headers["content-type"].startswith(accept)
                errors = response.json()["errors"]
                assert {e["extensions"]["code"] for e in errors} == {"SERVICE_UNAVAILABLE"}, errors
                assert "Traceback" not in response.text
        body, headers = _signed(event)
        response = await client.post("/webhooks/carriers/dhl", content=body, headers=headers)
        assert response.status_code == 503 and int(response.headers["Retry-After"]) > 0, response.text
        assert response.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
        # A payment provider's webhook too: it delivers it again later.
        paid = _payment_webhook()
        response = await client.post("/webhooks/payments/test-card", content=paid.body, headers=paid.headers)
        assert response.status_code == 503 and int(response.headers["Retry-After"]) > 0, response.text
        assert (await client.get("/healthz")).status_code == 200
        response = await client.get("/readyz")
        assert response.status_code == 503 and response.json()["reason"].startswith("database"), response.text

        own_postgres.start()

        async def served() -> bool:
            return (await client.post("/graphql", json={"query": PRODUCTS})).status_code == 200

        await _eventually(served)  # no restart: the pool opens new connections
        response = await client.post("/graphql", json={"query": PRODUCTS})
        assert len(response.json()["data"]["products"]["edges"]) == 2
        assert (await client.get("/readyz")).status_code == 200
        body, headers = _signed(event)
        assert (await client.post("/webhooks/carriers/dhl", content=body, headers=headers)).status_code == 404
        paid = _payment_webhook()
        response = await client.post("/webhooks/payments/test-card", content=paid.body, headers=paid.headers)
        assert (response.status_code, response.json()["result"]) == (200, "ignored")  # no such payment here


def _payment_webhook() -> payments.SignedWebhook:
    """A test-card webhook signed with the development secret, about a payment nobody has."""
    card = payments.TestCardPayment(CardBooks("/nonexistent/never-written.jsonl"))
    event = {
        "id": "evt_down",
        "type": "payment.succeeded",
        "payment": "test_nobody",
        "amount": "1.00",
        "currency": "EUR",
    }
    return card.sign(json.dumps(event).encode())
