"""One load run against one server, by `wrk` when installed, else by `bench.pyload`.

Both are closed-loop generators (N keep-alive connections, each sending its next request as soon
as the previous answer arrives) and run as separate processes, so their figures are comparable.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from bench import PYTHON, ROOT
from testbed import cpus

# The same body on every request or, with BENCH_UNIQUE set, `__NONCE__` replaced in each.
WRK_SCRIPT = Path(__file__).resolve().parent / "wrk_post.lua"
NONCE = "__NONCE__"
MARKER = "BENCH_JSON "


@dataclass(frozen=True)
class LoadSpec:
    connections: int = 16
    duration: float = 10.0  # measured seconds
    warmup: float = 2.0  # seconds of the same load first, not measured
    path: str = "/graphql"
    unique: bool = False  # replace NONCE in the body with a fresh value on every request
    minutes: int = 10  # the soak's length (scenario `soak` only)
    orders: int = 1000  # orders placed per run (scenario `webhooks` only)


@dataclass(frozen=True)
class Result:
    scenario: str
    generator: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int  # non-2xx responses plus socket errors (connect, read, write, timeout)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "rps": round(self.rps, 2)}


def generator_name() -> str:
    return "wrk" if shutil.which("wrk") else "python"


def run(scenario: str, host: str, port: int, body: bytes, spec: LoadSpec) -> Result:
    env = {**os.environ, "BENCH_BODY": body.decode(), "BENCH_UNIQUE": "1" if spec.unique else ""}
    if shutil.which("wrk"):
        return _run_wrk(scenario, host, port, env, spec)
    return _run_python(scenario, host, port, env, spec)


def _run_wrk(scenario: str, host: str, port: int, env: dict[str, str], spec: LoadSpec) -> Result:
    url = f"http://{host}:{port}{spec.path}"

    def wrk(seconds: float) -> dict[str, int]:
        # One thread: the server gets the other core, as a Python client process would leave it.
        command = [
            *cpus.load_prefix(),
            "wrk",
            "-t1",
            f"-c{spec.connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(WRK_SCRIPT),
            url,
        ]
        return _marked_json(subprocess.run(command, env=env, capture_output=True, text=True), "wrk")

    if spec.warmup > 0:
        wrk(spec.warmup)
    figures = wrk(spec.duration)
    errors = sum(figures[key] for key in ("connect", "read", "write", "status", "timeout"))
    return Result(
        scenario=scenario,
        generator="wrk",
        requests=figures["requests"],
        seconds=figures["duration_us"] / 1e6,
        p50_ms=figures["p50_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        max_ms=figures["max_us"] / 1000,
        errors=errors,
    )


def _run_python(scenario: str, host: str, port: int, env: dict[str, str], spec: LoadSpec) -> Result:
    command = [
        *cpus.load_prefix(),
        PYTHON,
        "-m",
        "bench.pyload",
        "--host",
        host,
        "--port",
        str(port),
        "--path",
        spec.path,
        "--connections",
        str(spec.connections),
        "--duration",
        str(spec.duration),
        "--warmup",
        str(spec.warmup),
    ]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"bench.pyload failed with exit code {done.returncode}:\n{done.stderr}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return Result(
        scenario=scenario,
        generator="python",
        requests=figures["requests"],
        seconds=figures["elapsed_s"],
        p50_ms=figures["p50_ms"],
        p99_ms=figures["p99_ms"],
        max_ms=figures["max_ms"],
        errors=figures["status_errors"] + figures["socket_errors"],
    )


def _marked_json(done: subprocess.CompletedProcess[str], tool: str) -> dict[str, int]:
    if done.returncode != 0:
        raise RuntimeError(f"{tool} failed with exit code {done.returncode}:\n{done.stdout}{done.stderr}")
    for line in done.stdout.splitlines():
        if line.startswith(MARKER):
            return json.loads(line[len(MARKER) :])
    raise RuntimeError(f"{tool} printed no {MARKER.strip()} line:\n{done.stdout}{done.stderr}")
