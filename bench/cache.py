"""Scenario `cache`: the listing as a response-cache hit, against bare Starlette serving its bytes.

Rows, all with the listing query of `bench.listing` (54 KB per response):

- (c) gateway, hit from the in-process tier (no Redis);
- (c-redis) gateway, hit from the Redis tier (`CACHE_MAX_BYTES=0`: no in-process tier);
- (d) floor: bare Starlette returning the same bytes from memory;
- (e) floor: bare Starlette returning the same bytes from one Redis GET;
- (f) gateway, every request a miss (a fresh unused variable each time), cache on;
- (g) the same requests with `CACHE_ENABLED=0`.

Targets: c/d >= 1.0, c-redis/e >= 0.9, f/g ~ 1 (a miss costs no more than no cache; within noise).
Runs alternate c, d, c-redis, e, f, g each round, so a slow spell hits all of them.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from redis import Redis

from bench.database import PreparedDatabase, gateway_env
from bench.load import NONCE, LoadSpec, Result
from bench.load import run as run_load
from bench.queries import request_body
from bench.report import Row
from testbed import servers
from testbed.storefront import LISTING

NAME = "cache"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
FLOOR_KEY = "bench:cache-floor"
TARGETS = {"c/d": 1.0, "c-redis/e": 0.9, "f/g": 0.9}


@dataclass
class CacheReport:
    name: str
    rows: dict[str, Row]
    details: dict[str, Any] = field(default_factory=dict)

    def ratios(self) -> dict[str, float]:
        def best(label: str) -> float:
            return self.rows[label].best.rps

        return {
            "c/d": best("c") / best("d") if best("d") else 0.0,
            "c-redis/e": best("c-redis") / best("e") if best("e") else 0.0,
            "f/g": best("f") / best("g") if best("g") else 0.0,
        }

    def render(self) -> str:
        header = f"{'scenario':<44} {'requests/s':>11} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}"
        lines = [f"== {self.name} ==", header, "-" * len(header)]
        for row in self.rows.values():
            best = row.best
            lines.append(f"{row.label:<44} {best.rps:>11.1f} {best.p50_ms:>8.2f} {best.p99_ms:>8.2f} {row.errors:>7}")
        for name, value in self.ratios().items():
            verdict = "target met" if value >= TARGETS[name] else "TARGET MISSED"
            lines.append(f"{name} = {value:.3f} (target >= {TARGETS[name]:.2f}): {verdict}")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.name,
            "rows": [row.as_dict() for row in self.rows.values()],
            "ratios": {
                name: {"value": round(value, 4), "target": TARGETS[name], "met": value >= TARGETS[name]}
                for name, value in self.ratios().items()
            },
            **self.details,
        }


def _check(server: servers.Server, body: bytes, expect_status: str | None = None) -> bytes:
    status, headers, raw = servers.request(server, "POST", "/graphql", body)
    if status != 200:
        raise RuntimeError(f"{server.name}: POST /graphql answered {status}: {raw[:300]!r}")
    if json.loads(raw).get("errors"):
        raise RuntimeError(f"{server.name}: the listing returned errors: {raw[:300]!r}")
    if expect_status is not None and headers.get("cache-status") != expect_status:
        raise RuntimeError(
            f"{server.name}: expected Cache-Status {expect_status!r}, got {headers.get('cache-status')!r}"
        )
    return raw


def run(database: PreparedDatabase, spec: LoadSpec, rounds: int) -> CacheReport:
    body = request_body(LISTING)
    # Same document; a variable the operation does not declare (graphql-core ignores it) makes
    # every request distinct for the cache key, not for the work.
    unique_body = request_body(LISTING, {"nonce": NONCE})
    base = gateway_env(database.url)
    redis = Redis.from_url(REDIS_URL)
    runs: dict[str, list[Result]] = {label: [] for label in ("c", "d", "c-redis", "e", "f", "g")}
    with ExitStack() as stack, tempfile.NamedTemporaryFile(prefix="bench-cache-", suffix=".json") as response_file:
        stack.callback(redis.close)
        # The database was just recreated; answers a previous run left in Redis describe the old one.
        stale = list(redis.scan_iter(match="gateway:cache:*", count=1000))
        for start in range(0, len(stale), 1000):
            redis.delete(*stale[start : start + 1000])
        redis.delete(FLOOR_KEY)

        def start(name: str, app: str, **env: str) -> servers.Server:
            server = servers.start(name, app, {**base, **env})
            stack.callback(server.stop)
            return server

        local = start("cache-local", "gateway.app:app")
        remote = start("cache-redis", "gateway.app:app", REDIS_URL=REDIS_URL, CACHE_MAX_BYTES="0")
        missing = start("cache-miss", "gateway.app:app")
        disabled = start("cache-off", "gateway.app:app", CACHE_ENABLED="0")
        for server in (local, remote, missing, disabled):
            servers.wait_healthy(server)

        # The bytes every server must answer: the gateway's own, stored by its first request.
        reference = _check(local, body, "gateway; fwd=miss; stored")
        if _check(local, body, "gateway; hit") != reference:
            raise RuntimeError("the in-process hit differs from the stored response")
        _check(remote, body)
        if _check(remote, body, "gateway; hit") != reference:
            raise RuntimeError("the Redis-tier hit differs from the in-process one")
        response_file.write(reference)
        response_file.flush()
        redis.set(FLOOR_KEY, reference)
        memory_floor = start("floor-memory", "bench.cache_floor:memory_app", BENCH_RESPONSE_FILE=response_file.name)
        redis_floor = start(
            "floor-redis", "bench.cache_floor:redis_app", BENCH_REDIS_URL=REDIS_URL, BENCH_REDIS_KEY=FLOOR_KEY
        )
        for server in (memory_floor, redis_floor):
            servers.wait_healthy(server)
            if _check(server, body) != reference:
                raise RuntimeError(f"{server.name} does not answer the gateway's bytes")
        for server in (missing, disabled):
            _check(server, unique_body.replace(NONCE.encode(), b"check"))

        unique = LoadSpec(spec.connections, spec.duration, spec.warmup, spec.path, unique=True)
        plan = [
            ("c", local, body, spec),
            ("d", memory_floor, body, spec),
            ("c-redis", remote, body, spec),
            ("e", redis_floor, body, spec),
            ("f", missing, unique_body, unique),
            ("g", disabled, unique_body, unique),
        ]
        for round_number in range(1, rounds + 1):
            for label, server, payload, load in plan:
                result = run_load(server.name, server.host, server.port, payload, load)
                runs[label].append(result)
                print(
                    f"  round {round_number}: ({label:<7}) {server.name:<12} {result.rps:9.1f} req/s  "
                    f"p50 {result.p50_ms:7.2f} ms  p99 {result.p99_ms:7.2f} ms  errors {result.errors}",
                    flush=True,
                )
        # Still hits with the same bytes after the load (wrk does not read bodies).
        if _check(local, body, "gateway; hit") != reference or _check(remote, body, "gateway; hit") != reference:
            raise RuntimeError("after the load, a hit no longer answers the stored bytes")
        _, _, metrics = servers.request(missing, "GET", "/metrics")
        miss_metrics = [line for line in metrics.decode().splitlines() if line.startswith("gateway_cache_")]
        for server in (local, remote, missing, disabled, memory_floor, redis_floor):
            if server.process.poll() is not None:
                raise RuntimeError(f"{server.name} server died during the run:\n{server.log_tail()}")

    labels = {
        "c": "(c) gateway hit, in-process tier",
        "d": "(d) bare Starlette, bytes from memory",
        "c-redis": "(c-redis) gateway hit, Redis tier",
        "e": "(e) bare Starlette, bytes from Redis GET",
        "f": "(f) gateway miss (every request new)",
        "g": "(g) same requests, CACHE_ENABLED=0",
    }
    return CacheReport(
        name=NAME,
        rows={label: Row(labels[label], results, None) for label, results in runs.items()},
        details={
            "query": LISTING,
            "response_bytes": len(reference),
            "load": {
                "connections": spec.connections,
                "duration_s": spec.duration,
                "warmup_s": spec.warmup,
                "rounds": rounds,
                "order": "c, d, c-redis, e, f, g alternating",
            },
            "redis_url": REDIS_URL,
            "miss_server_cache_metrics": miss_metrics,
        },
    )
