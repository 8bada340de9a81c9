"""Real servers and real WebSocket clients for the subscription tests.

`serve_in_loop` runs uvicorn inside the test's event loop (it shares the `db` fixture's Tortoise
connection); `GraphQLWebSocket` speaks graphql-transport-ws or the legacy graphql-ws protocol over
a real socket, the way Apollo and urql clients do.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from typing import IO, Any, TypeVar

import httpx
import pytest
import uvicorn
from websockets.asyncio.client import ClientConnection, connect

from testbed.processes import serving_workers_retried, worker_pids
from testbed.servers import free_port
from tests.conftest import REQUIRE_SERVICES, ROOT

TRANSPORT_WS = "graphql-transport-ws"
T = TypeVar("T")
LEGACY_WS = "graphql-ws"


@asynccontextmanager
async def serve_in_loop(app: Any) -> AsyncIterator[str]:
    """uvicorn serving `app` on a free port in this event loop; yields the ws:// URL of /graphql."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "uvicorn did not start"
        await asyncio.sleep(0.01)
    try:
        yield f"ws://127.0.0.1:{port}/graphql"
    finally:
        server.should_exit = True
        await task


class GraphQLWebSocket:
    def __init__(self, connection: ClientConnection, protocol: str) -> None:
        self.connection = connection
        self.protocol = protocol
        self._next_id = 0

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        url: str,
        *,
        protocol: str = TRANSPORT_WS,
        payload: dict[str, Any] | None = None,
        init: bool = True,
        origin: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> AsyncIterator[GraphQLWebSocket]:
        async with connect(
            url, subprotocols=[protocol], origin=origin, additional_headers=headers, open_timeout=10, max_queue=None
        ) as connection:
            client = cls(connection, protocol)
            if init:
                await client.send({"type": "connection_init", "payload": payload or {}})
                ack = await client.receive()
                assert ack["type"] == "connection_ack", ack
            yield client

    async def send(self, message: dict[str, Any]) -> None:
        await self.connection.send(json.dumps(message))

    async def receive(self, timeout: float = 10.0) -> dict[str, Any]:
        while True:
            message = json.loads(await asyncio.wait_for(self.connection.recv(), timeout))
            if message.get("type") not in ("ka", "ping", "pong"):
                return message

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> str:
        self._next_id += 1
        operation_id = str(self._next_id)
        kind = "subscribe" if self.protocol == TRANSPORT_WS else "start"
        await self.send({"id": operation_id, "type": kind, "payload": {"query": query, "variables": variables or {}}})
        return operation_id

    async def next_data(self, timeout: float = 10.0) -> dict[str, Any]:
        """The data of the next result (any operation); fails on an error message."""
        message = await self.receive(timeout)
        assert message["type"] in ("next", "data"), message
        assert not message["payload"].get("errors"), message
        return message["payload"]["data"]

    async def nothing_more(self, wait: float = 0.5) -> None:
        try:
            message = await self.receive(wait)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected message: {message}")


class RedisProcess:
    """A Redis server of the test's own, on a free port, that the test may stop and start again."""

    def __init__(self) -> None:
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            if REQUIRE_SERVICES:
                pytest.fail("REQUIRE_SERVICES=1 but redis-server is not installed")
            pytest.skip("redis-server is not installed")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


def worker_serving(client_port: int, workers: list[int]) -> int:
    """Which worker holds the server end of the connection whose client end is on `client_port`."""
    pid = serving_workers_retried([client_port], workers)[client_port]
    assert pid is not None, f"no worker holds the connection from port {client_port}"
    return pid


async def on_worker(
    open_connection: Callable[[AsyncExitStack], Awaitable[tuple[T, int]]],
    worker: int,
    workers: list[int],
    stack: AsyncExitStack,
) -> T:
    """A connection that `worker` serves (closed with `stack`); `open_connection` opens one on the
    exit stack it is given and returns it with its local port.

    Which worker accepts a connection is the kernel's choice, and a connection stays with it:
    connect until one lands on the chosen worker.
    """
    for _ in range(50):
        inner = AsyncExitStack()
        connection, port = await open_connection(inner)
        if worker_serving(port, workers) == worker:
            stack.push_async_callback(inner.aclose)
            return connection
        await inner.aclose()
    raise AssertionError("could not reach the chosen worker")


async def client_on_worker(base: str, worker: int, workers: list[int], stack: AsyncExitStack) -> httpx.AsyncClient:
    """An HTTP client on one keep-alive connection that `worker` serves (closed with `stack`)."""

    async def open_client(inner: AsyncExitStack) -> tuple[httpx.AsyncClient, int]:
        client = await inner.enter_async_context(
            httpx.AsyncClient(base_url=base, timeout=30, limits=httpx.Limits(max_connections=1))
        )
        response = await client.get("/healthz")
        return client, response.extensions["network_stream"].get_extra_info("socket").getsockname()[1]

    return await on_worker(open_client, worker, workers, stack)


async def ws_on_worker(
    url: str, worker: int, workers: list[int], stack: AsyncExitStack, **options: Any
) -> GraphQLWebSocket:
    """A GraphQL WebSocket (`GraphQLWebSocket.open` options) that `worker` serves (closed with `stack`)."""

    async def open_ws(inner: AsyncExitStack) -> tuple[GraphQLWebSocket, int]:
        ws = await inner.enter_async_context(GraphQLWebSocket.open(url, **options))
        return ws, ws.connection.local_address[1]

    return await on_worker(open_ws, worker, workers, stack)


@asynccontextmanager
async def uvicorn_workers(env: dict[str, str], workers: int = 2) -> AsyncIterator[tuple[str, list[int]]]:
    """`uvicorn gateway.app:app --workers N` on a free port, ready; yields its base URL and workers' pids.

    The server logs into a file, never a pipe: every access line goes to stderr, and a pipe nobody
    reads until the end fills after a few hundred requests and blocks the workers' next write for good.
    """
    port = free_port()
    with tempfile.TemporaryFile() as log:
        # Popen only starts the server and returns; every wait for it below is asynchronous.
        process = subprocess.Popen(  # noqa: ASYNC220
            [
                sys.executable,
                "-m",
                "uvicorn",
                "gateway.app:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            cwd=ROOT,
            env={**os.environ, "LOG_LEVEL": "WARNING", "RATE_LIMIT_PER_SECOND": "0", **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        try:
            async with httpx.AsyncClient(base_url=base, timeout=5) as client:
                while len(worker_pids(process.pid)) < workers or not await _ready(client):
                    assert process.poll() is None and time.monotonic() < deadline, _tail(log)
                    await asyncio.sleep(0.2)
            pids = worker_pids(process.pid)
            # One worker answering is not all of them: another may still be starting (its pools,
            # its jobs), and the kernel then gives it no connection. Each must have served one.
            for pid in pids:
                while not await _served_by(base, pid, pids):
                    assert process.poll() is None and time.monotonic() < deadline, _tail(log)
                    await asyncio.sleep(0.2)
            yield base, pids
        finally:
            process.terminate()
            process.wait(timeout=30)


def _tail(log: IO[bytes], size: int = 2000) -> str:
    log.seek(0)
    return log.read().decode(errors="replace")[-size:]


async def _served_by(base: str, worker: int, workers: list[int]) -> bool:
    """Whether `worker` serves a connection now (a readiness request on one that it holds)."""
    async with AsyncExitStack() as stack:
        try:
            client = await client_on_worker(base, worker, workers, stack)
        except AssertionError:  # the kernel gave every connection to the others
            return False
        return await _ready(client)


async def _ready(client: httpx.AsyncClient) -> bool:
    try:
        return (await client.get("/readyz")).status_code == 200
    except httpx.TransportError:
        return False


@contextmanager
def job_worker(environment: dict[str, str], *arguments: str) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m gateway worker` under `environment` (on top of this process's), stopped after;
    its stderr is a pipe, for a test to show when the worker did not do its job."""
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway", "worker", *arguments],
        cwd=ROOT,
        env={**os.environ, **environment},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
