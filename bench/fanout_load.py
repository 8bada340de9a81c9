"""The fan-out subscribers: N WebSocket connections, one `orderStatusChanged` subscription each.

Run as its own process (`python -m bench.fanout_load`), usually two of them, so the clients never
share the servers' event loops or GIL and one client's event loop is not the bottleneck. A minimal
graphql-transport-ws client over a raw asyncio Protocol rather than the `websockets` library: each
message's receipt time is taken when `data_received` is entered, before any parsing, so what the
client itself costs (parsing frames and JSON) is outside the measured latency; that cost is still
measured and reported (`handler_cpu_us_per_message`).

Times are `time.monotonic()`: CLOCK_MONOTONIC, one system-wide clock on Linux, so the harness (which
times the mutations) and every client process on this machine read the same clock.

The harness drives it through stdin, one command a line; each answer is one JSON line on stdout:

    subscribe OP TOKEN STATUS  every connection completes its previous operation and subscribes
                               as OP to the order TOKEN; answered once each has received STATUS
    count OP                   received messages of operation OP, by status
    dump                       every receipt time, then exit
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import sys
import time
from collections import Counter
from typing import Any

CONNECT_CONCURRENCY = 50  # handshakes in flight at once, so the servers' accept queues never overflow
SUBSCRIBE_TIMEOUT = 120.0

SUBSCRIPTION = (
    "subscription OrderStatus($token: ID!) { orderStatusChanged(orderToken: $token) { "
    "id number status total { amount currency } } }"
)


def _mask(payload: bytes) -> bytes:
    key = os.urandom(4)
    repeated = (key * (len(payload) // 4 + 1))[: len(payload)]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(len(payload), "big")
    return key + masked


def frame(opcode: int, payload: bytes) -> bytes:
    """One final, masked client frame (RFC 6455 §5.2)."""
    length = len(payload)
    if length < 126:
        head = bytes((0x80 | opcode, 0x80 | length))
    elif length < 1 << 16:
        head = bytes((0x80 | opcode, 0x80 | 126)) + length.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + length.to_bytes(8, "big")
    return head + _mask(payload)


class Subscriber(asyncio.Protocol):
    """One WebSocket connection speaking graphql-transport-ws."""

    def __init__(self, index: int, host: str, port: int, path: str, stats: Stats) -> None:
        self.index = index
        self.host, self.port, self.path = host, port, path
        self.stats = stats
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.fragments = bytearray()
        self.upgraded = False
        self.acknowledged: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.operation: str | None = None
        self.waiting_for: tuple[str, str] | None = None  # (operation, status) the harness waits for
        self.arrived: asyncio.Future[None] | None = None
        self.closed = False

    # -- the handshake ---------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not an asyncio.Transport subclass
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            f"GET {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n".encode()
        )

    @property
    def local_port(self) -> int:
        assert self.transport is not None
        return self.transport.get_extra_info("sockname")[1]

    def send(self, message: dict[str, Any]) -> None:
        assert self.transport is not None
        self.transport.write(frame(0x1, json.dumps(message, separators=(",", ":")).encode()))

    # -- receiving ---------------------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        received = time.monotonic()  # before any parsing: the client's own cost stays out of the latency
        started = time.thread_time()
        self.buffer += data
        if not self.upgraded:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end]).decode("latin-1")
            del self.buffer[: end + 4]
            if not head.startswith("HTTP/1.1 101"):
                self._fail(f"handshake refused: {head.splitlines()[0] if head else head!r}")
                return
            self.upgraded = True
            self.send({"type": "connection_init", "payload": {}})
        self._frames(received)
        self.stats.handler_cpu += time.thread_time() - started

    def _frames(self, received: float) -> None:
        buffer = self.buffer
        while len(buffer) >= 2:
            first, second = buffer[0], buffer[1]
            length, offset = second & 0x7F, 2
            if length == 126:
                if len(buffer) < 4:
                    return
                length, offset = int.from_bytes(buffer[2:4], "big"), 4
            elif length == 127:
                if len(buffer) < 10:
                    return
                length, offset = int.from_bytes(buffer[2:10], "big"), 10
            masked = second & 0x80
            if masked:
                offset += 4
            if len(buffer) < offset + length:
                return
            payload = bytes(buffer[offset : offset + length])
            if masked:  # servers must not mask, but a mask costs nothing to honour
                key = bytes(buffer[offset - 4 : offset])
                payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
            del buffer[: offset + length]
            opcode, final = first & 0x0F, first & 0x80
            if opcode in (0x1, 0x2, 0x0):
                self.fragments += payload
                if final:
                    text, self.fragments = bytes(self.fragments), bytearray()
                    self._message(received, text)
            elif opcode == 0x9:  # ping: uvicorn closes connections that do not answer
                assert self.transport is not None
                self.transport.write(frame(0xA, payload))
            elif opcode == 0x8:
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
                self._fail(f"closed by the server: {code} {payload[2:].decode(errors='replace')}")
                return

    def _message(self, received: float, text: bytes) -> None:
        message = json.loads(text)
        kind = message.get("type")
        if kind == "next":
            operation = message.get("id")
            payload = message.get("payload") or {}
            if payload.get("errors"):
                self.stats.error(f"next with errors: {payload['errors']}")
                return
            status = ((payload.get("data") or {}).get("orderStatusChanged") or {}).get("status")
            self.stats.receipts.setdefault((operation, status), []).append((self.index, received))
            if self.waiting_for == (operation, status) and self.arrived is not None and not self.arrived.done():
                self.arrived.set_result(None)
        elif kind == "connection_ack":
            if not self.acknowledged.done():
                self.acknowledged.set_result(None)
        elif kind == "ping":
            self.send({"type": "pong"})
        elif kind == "complete":
            if message.get("id") == self.operation:
                self.stats.error(f"the server completed operation {self.operation}")
        elif kind == "error":
            self.stats.error(f"error: {message.get('payload')}")
        elif kind != "pong":
            self.stats.error(f"unexpected message: {text[:200]!r}")

    def _fail(self, reason: str) -> None:
        self.stats.error(reason)
        if not self.acknowledged.done():
            self.acknowledged.set_exception(ConnectionError(reason))
        if self.arrived is not None and not self.arrived.done():
            self.arrived.set_exception(ConnectionError(reason))
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed:
            self._fail(f"connection lost: {exc!r}")
        self.closed = True

    # -- commands ----------------------------------------------------------------------------------
    def subscribe(self, operation: str, token: str, status: str) -> asyncio.Future[None]:
        if self.operation is not None:
            self.send({"id": self.operation, "type": "complete"})
        self.operation = operation
        self.waiting_for = (operation, status)
        self.arrived = asyncio.get_running_loop().create_future()
        self.send(
            {"id": operation, "type": "subscribe", "payload": {"query": SUBSCRIPTION, "variables": {"token": token}}}
        )
        return self.arrived


class Stats:
    def __init__(self) -> None:
        self.receipts: dict[tuple[str, str | None], list[tuple[int, float]]] = {}  # (connection, monotonic)
        self.errors: Counter[str] = Counter()
        self.samples: list[str] = []
        self.handler_cpu = 0.0  # thread CPU seconds inside data_received

    def error(self, detail: str) -> None:
        kind = detail.split(":", 1)[0]
        self.errors[kind] += 1
        if len(self.samples) < 5:
            self.samples.append(detail[:300])


def emit(document: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(document, separators=(",", ":")) + "\n")
    sys.stdout.flush()


async def open_all(host: str, port: int, path: str, count: int, stats: Stats) -> list[Subscriber]:
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def one(index: int) -> Subscriber:
        async with gate:
            _, protocol = await loop.create_connection(lambda: Subscriber(index, host, port, path, stats), host, port)
            await asyncio.wait_for(protocol.acknowledged, 30)
            return protocol

    return list(await asyncio.gather(*(one(i) for i in range(count))))


async def main_async(host: str, port: int, path: str, count: int) -> None:
    stats = Stats()
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    subscribers = await open_all(host, port, path, count, stats)
    emit(
        {
            "event": "connected",
            "seconds": round(time.monotonic() - started, 3),
            "ports": [s.local_port for s in subscribers],
        }
    )

    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := (await reader.readline()).decode().strip():
        command, *args = line.split()
        if command == "subscribe":
            operation, token, status = args
            began = time.monotonic()
            waits = [s.subscribe(operation, token, status) for s in subscribers]
            done, pending = await asyncio.wait(waits, timeout=SUBSCRIBE_TIMEOUT)
            failed = sum(1 for f in done if f.exception() is not None)
            emit(
                {"event": "subscribed", "seconds": round(time.monotonic() - began, 3), "missing": len(pending) + failed}
            )
        elif command == "count":
            (operation,) = args
            counts = {status: len(times) for (op, status), times in stats.receipts.items() if op == operation}
            emit({"event": "count", "counts": counts, "errors": sum(stats.errors.values())})
        elif command == "dump":
            emit(
                {
                    "event": "dump",
                    # connection index -> its port is in the `connected` answer
                    "receipts": [[op, status, times] for (op, status), times in stats.receipts.items()],
                    "errors": dict(stats.errors),
                    "error_samples": stats.samples,
                    "handler_cpu_s": stats.handler_cpu,
                    "process_cpu_s": time.process_time(),
                    "connections_open": sum(1 for s in subscribers if not s.closed),
                }
            )
            break
        else:
            emit({"event": "unknown", "line": line})
    for subscriber in subscribers:
        subscriber.closed = True
        if subscriber.transport is not None:
            subscriber.transport.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fanout_load")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/graphql")
    parser.add_argument("--subscribers", type=int, default=500)
    args = parser.parse_args(argv)
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    runner(main_async(args.host, args.port, args.path, args.subscribers))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
