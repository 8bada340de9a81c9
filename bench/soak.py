"""Scenario `soak`: mixed traffic for ten minutes; does the server's memory stay flat?

The real gateway under uvicorn with 2 workers, the bench database and the Redis event bus and
cache (as in the fan-out scenario). One client process (`bench.soak_load`) browses, fills and
empties carts, checks out with the test card, follows orders on WebSockets while the staff
account ships and delivers them, and listens to `orderEvents`, all at once (see its docstring).

Each worker's RSS is read from /proc when the client starts (minute 0) and at the end of every
minute. Pass: no errors, and every worker's RSS grew less than GROWTH_LIMIT over the last
FLAT_MINUTES minutes (the last half of a shorter run): the first minutes are warm-up (caches,
pools, lazily built schema parts), and what still grows after them leaks.
"""

from __future__ import annotations

import json
import select
import subprocess
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import IO, Any

from bench import PYTHON, ROOT
from bench.database import PreparedDatabase, gateway_cli, gateway_env
from bench.fanout import REDIS_URL, STAFF_EMAIL, STAFF_PASSWORD
from bench.load import LoadSpec
from testbed import servers
from testbed.processes import memory_kb, started_workers

NAME = "soak"
GATEWAY_APP = "gateway.app:app"
WORKERS = 2
FLAT_MINUTES = 5
GROWTH_LIMIT = 0.05
MIB = 1024


@dataclass
class SoakReport:
    name: str
    minutes: list[dict[str, Any]]  # minute 0 (start) then one per minute: memory and traffic
    workers: list[int]
    errors: int
    error_kinds: dict[str, int]
    error_samples: list[str]
    server_tracebacks: int
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def window(self) -> int:
        """How many of the last minutes must be flat: FLAT_MINUTES, or half of a shorter run."""
        return min(FLAT_MINUTES, (len(self.minutes) - 1) // 2)

    def growth(self) -> dict[str, float | None]:
        """Each worker's RSS growth over the window, as a fraction (None when the run is too short)."""
        if self.window < 1:
            return {str(pid): None for pid in self.workers}
        first, last = self.minutes[-1 - self.window]["rss_kb"], self.minutes[-1]["rss_kb"]
        return {str(pid): (last[str(pid)] - first[str(pid)]) / first[str(pid)] for pid in self.workers}

    @property
    def passed(self) -> bool:
        growth = self.growth()
        return self.errors + self.server_tracebacks == 0 and all(
            g is not None and g < GROWTH_LIMIT for g in growth.values()
        )

    def render(self) -> str:
        names = [f"w{n} RSS MiB" for n in range(1, len(self.workers) + 1)]
        header = (
            f"{'minute':>6} "
            + " ".join(f"{name:>11}" for name in names)
            + f" {'browse':>8} {'cart':>7} {'checkout':>8} {'orders':>6} {'ws msgs':>7} {'ws conns':>8} {'errors':>6}"
        )
        lines = [f"== {self.name} ==", header, "-" * len(header)]
        for row in self.minutes:
            requests, messages = row.get("requests", {}), row.get("messages", {})
            lines.append(
                f"{row['minute']:>6} "
                + " ".join(f"{row['rss_kb'][str(pid)] / MIB:>11.1f}" for pid in self.workers)
                + f" {requests.get('browse', 0):>8} {requests.get('cart', 0):>7} {requests.get('checkout', 0):>8}"
                f" {row.get('orders', 0):>6} {sum(messages.values()):>7} {row.get('connections', 0):>8}"
                f" {row.get('errors', 0):>6}"
            )
        growth = self.growth()
        shown = ", ".join(f"w{n} {'-' if g is None else f'{g * 100:+.2f}%'}" for n, g in enumerate(growth.values(), 1))
        lines.append(
            f"RSS growth over the last {self.window} minutes: {shown} (target < {GROWTH_LIMIT * 100:.0f}% each)"
        )
        lines.append(
            f"errors: {self.errors}"
            + (f" ({', '.join(f'{k} {v}' for k, v in sorted(self.error_kinds.items()))})" if self.error_kinds else "")
            + f"; tracebacks in the server log: {self.server_tracebacks}"
        )
        lines.append("target met" if self.passed else "TARGET MISSED")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.name,
            "minutes": self.minutes,
            "workers": self.workers,
            "rss_growth_last_minutes": {"minutes": self.window, "by_worker": self.growth(), "limit": GROWTH_LIMIT},
            "errors": self.errors,
            "error_kinds": self.error_kinds,
            "error_samples": self.error_samples,
            "server_tracebacks": self.server_tracebacks,
            "passed": self.passed,
            **self.details,
        }


def _next_line(stdout: IO[str], deadline: float) -> dict[str, Any] | None:
    ready, _, _ = select.select([stdout], [], [], max(0.0, deadline - time.monotonic()))
    line = stdout.readline() if ready else ""
    return json.loads(line) if line else None


def run(database: PreparedDatabase, spec: LoadSpec, rounds: int) -> SoakReport:
    """One soak of `spec.minutes` minutes (rounds do not apply: one long run is the measurement)."""
    minutes = max(1, spec.minutes)
    env = {**gateway_env(database.url), "REDIS_URL": REDIS_URL}
    gateway_cli(
        "create-staff", "--email", STAFF_EMAIL, "--password", STAFF_PASSWORD, "--all-permissions", url=database.url
    )
    rows: list[dict[str, Any]] = []
    with ExitStack() as stack:
        gateway = servers.start("gateway", GATEWAY_APP, env, workers=WORKERS)
        stack.callback(gateway.stop)
        servers.wait_healthy(gateway)
        workers = started_workers(gateway.process.pid, WORKERS, gateway.log_tail)
        errors_file = stack.enter_context(tempfile.TemporaryFile("w+"))  # a pipe nobody reads could fill
        client = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "bench.soak_load",
                "--host",
                gateway.host,
                "--port",
                str(gateway.port),
                "--minutes",
                str(minutes),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=errors_file,
            text=True,
            bufsize=1,
        )
        stack.callback(lambda: client.poll() is None and client.kill())
        assert client.stdout is not None
        started = time.monotonic()
        tail: dict[str, Any] = {}
        while True:
            # A minute's line comes about a minute after the previous one; setup may take longer.
            line = _next_line(client.stdout, time.monotonic() + (300 if not rows else 120))
            if line is None:
                errors_file.seek(0)
                stderr = errors_file.read()
                raise RuntimeError(
                    f"bench.soak_load stopped answering after {len(rows)} samples:\n{stderr[-3000:]}\n"
                    f"{gateway.log_tail()}"
                )
            if gateway.process.poll() is not None:
                raise RuntimeError(f"the gateway died during the soak:\n{gateway.log_tail()}")
            if line["event"] == "tail":
                tail = line
                break
            memory = {str(pid): memory_kb(pid)["rss"] for pid in workers}
            minute = 0 if line["event"] == "ready" else line["minute"]
            rows.append({**line, "minute": minute, "rss_kb": memory, "elapsed_s": round(time.monotonic() - started, 1)})
            requests = sum(line.get("requests", {}).values())
            print(
                f"  minute {minute}: RSS "
                + " ".join(f"{kb / MIB:.1f}" for kb in memory.values())
                + f" MiB; {requests} requests, {line.get('orders', 0)} orders, errors {line.get('errors', 0)}",
                flush=True,
            )
        client.wait(60)
        log = gateway.log_path.read_text(errors="replace")

    kinds: dict[str, int] = {}
    samples: list[str] = []
    for row in [*rows, tail]:
        for kind, count in row.get("error_kinds", {}).items():
            kinds[kind] = kinds.get(kind, 0) + count
        samples += row.get("error_samples", [])
    return SoakReport(
        name=NAME,
        minutes=rows,
        workers=workers,
        errors=sum(kinds.values()),
        error_kinds=kinds,
        error_samples=samples[:10],
        server_tracebacks=log.count("Traceback (most recent call last)"),
        details={
            "tail": tail,
            "load": {
                "minutes": minutes,
                "workers": WORKERS,
                "redis_url": REDIS_URL,
                "client": "bench.soak_load (asyncio HTTP keep-alive + websockets)",
            },
            "server_log_tail": log.splitlines()[-20:],
            "database": {"url": database.url, "products": database.products},
        },
    )
