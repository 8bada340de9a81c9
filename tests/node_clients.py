"""Real clients written in JavaScript (tests/http_audit/) against a real gateway process.

`live_gateway` serves a freshly migrated and seeded SQLite database with uvicorn on a free port,
exactly as `make run` would; `run_node` runs one of the scripts against it. Without Node (or
without `npm ci` having run) those tests skip with the reason, or fail under REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from testbed.servers import free_port
from tests.conftest import REQUIRE_SERVICES, ROOT

SCRIPTS = ROOT / "tests" / "http_audit"


def node_or_skip() -> str:
    """The `node` executable with the scripts' packages installed, else skip (or fail)."""
    node = shutil.which("node")
    reason = None
    if node is None:
        reason = "Node.js (`node`) is not installed"
    elif not (SCRIPTS / "node_modules" / "graphql-http").is_dir():
        reason = f"the Node packages are not installed: run `make install` (npm ci in {SCRIPTS.relative_to(ROOT)})"
    if reason:
        if REQUIRE_SERVICES:
            pytest.fail(f"REQUIRE_SERVICES=1 but {reason}")
        pytest.skip(reason)
    return node  # type: ignore[return-value]


def run_node(node: str, script: str, *args: str, timeout: float = 120) -> Any:
    """Runs a script and returns the JSON document it prints."""
    result = subprocess.run(
        [node, str(SCRIPTS / script), *args], cwd=SCRIPTS, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, f"{script} failed:\n{result.stderr[-3000:]}"
    return json.loads(result.stdout)


def _gateway(*args: str, env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gateway", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


@contextmanager
def live_gateway(workdir: Path, **settings: str) -> Iterator[str]:
    """A running gateway (one uvicorn worker) on a seeded SQLite file; yields its /graphql URL."""
    database = workdir / "live.sqlite3"
    env = {**os.environ, "DATABASE_URL": f"sqlite://{database}", "LOG_LEVEL": "WARNING", **settings}
    if "REDIS_URL" not in settings:
        env.pop("REDIS_URL", None)  # a developer's own Redis is not this server's business
    _gateway("migrate", env=env)
    _gateway("seed", "--products", "5", env=env)
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "gateway.app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],  # stderr is a pipe nobody drains while it runs
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("the gateway did not start:\n" + process.stderr.read().decode()[-2000:])
            time.sleep(0.2)
        yield f"{base}/graphql"
    finally:
        process.terminate()
        process.wait(timeout=30)
