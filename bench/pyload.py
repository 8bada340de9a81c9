"""A small closed-loop HTTP/1.1 load client, the fallback when `wrk` is not installed.

Run as its own process (`python -m bench.pyload`) so it never shares the server's event loop or
GIL. Raw asyncio streams with keep-alive rather than httpx: httpx costs enough per request to
become the bottleneck on a two-core machine. Prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)  # seconds, completed requests only
    status_errors: int = 0  # responses outside 2xx
    socket_errors: int = 0  # connect/read/write failures and malformed responses


def build_request(host: str, port: int, path: str, body: bytes, headers: str = "") -> bytes:
    """A keep-alive POST; `headers` are extra header lines, each ending in CRLF."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n{headers}"
        f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
    )
    return head.encode("latin-1") + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool, bytes]:
    """Read one response; (status, whether the server will close the connection, body)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length: int | None = None
    close = False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection" and value.strip().lower() == "close":
            close = True
        elif name == "transfer-encoding" and "chunked" in value.lower():
            raise ValueError("chunked responses are not supported by this client")
    if length is None:
        raise ValueError("response without Content-Length")
    return status, close, await reader.readexactly(length)


async def connection_loop(host: str, port: int, payload: Any, stop_at: float, tally: Tally) -> None:
    """One keep-alive connection sending requests back to back until `stop_at`."""
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    clock = time.perf_counter
    while clock() < stop_at:
        if writer is None:
            try:
                reader, writer = await asyncio.open_connection(host, port, limit=1 << 20)
            except OSError:
                tally.socket_errors += 1
                await asyncio.sleep(0.01)
                continue
        assert reader is not None
        started = clock()
        try:
            writer.write(payload() if callable(payload) else payload)
            status, close, _ = await read_response(reader)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, IndexError):
            tally.socket_errors += 1
            writer.close()
            reader = writer = None
            continue
        tally.latencies.append(clock() - started)
        if not 200 <= status < 300:
            tally.status_errors += 1
        if close:
            writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


async def phase(host: str, port: int, payload: Any, connections: int, seconds: float) -> tuple[Tally, float]:
    tally = Tally()
    started = time.perf_counter()
    stop_at = started + seconds
    await asyncio.gather(*(connection_loop(host, port, payload, stop_at, tally) for _ in range(connections)))
    return tally, time.perf_counter() - started


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def percentile_ms(sorted_values: list[float], fraction: float, digits: int = 3) -> float | None:
    """The percentile of latencies in seconds, in milliseconds (None when there are none)."""
    return round(percentile(sorted_values, fraction) * 1000, digits) if sorted_values else None


async def run(
    host: str, port: int, path: str, body: bytes, connections: int, duration: float, warmup: float, unique: bool = False
) -> dict:
    payload: Any = build_request(host, port, path, body)
    if unique:
        # Every request a different body: `__NONCE__` replaced by a fresh value (cache misses).
        counter = itertools.count()
        run_id = os.urandom(4).hex()

        def fresh_payload() -> bytes:
            return build_request(host, port, path, body.replace(b"__NONCE__", f"{run_id}-{next(counter)}".encode()))

        payload = fresh_payload

    if warmup > 0:
        await phase(host, port, payload, connections, warmup)  # discarded: JIT-free, but caches and pools fill
    tally, elapsed = await phase(host, port, payload, connections, duration)
    latencies = sorted(tally.latencies)
    return {
        "requests": len(latencies),
        "elapsed_s": elapsed,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "max_ms": (latencies[-1] * 1000) if latencies else float("nan"),
        **{k: v for k, v in asdict(tally).items() if k != "latencies"},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pyload")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/graphql")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    args = parser.parse_args(argv)
    body = os.environ.get("BENCH_BODY")
    if body is None:
        print("BENCH_BODY is not set", file=sys.stderr)
        return 2
    try:
        import uvloop  # the servers' event loop too; the client needs every cycle it can get

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    result = runner(
        run(
            args.host,
            args.port,
            args.path,
            body.encode(),
            args.connections,
            args.duration,
            args.warmup,
            unique=os.environ.get("BENCH_UNIQUE") == "1",
        )
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
