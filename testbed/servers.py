"""Server processes under test: start one uvicorn per app, wait until it answers, stop it for sure;
the same for the other processes a scenario needs beside it (job workers).

Each process runs in its own session (process group), so stopping it also ends anything it forked,
and only what this harness started is ever signalled.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from testbed import PYTHON, ROOT, cpus

HEALTH_TIMEOUT = 60.0  # the floor loads its page from the database before it answers


def free_port() -> int:
    # The kernel picks an unused port; the tiny race until uvicorn binds it is acceptable here.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _uvicorn() -> list[str]:
    # The venv's `uvicorn` script when present (what `make run` uses), else the module.
    script = Path(PYTHON).parent / "uvicorn"
    return [str(script)] if script.exists() else [PYTHON, "-m", "uvicorn"]


@dataclass
class Process:
    """A process under test, in its own session, its output in a temporary log file."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    _log: IO[bytes] = field(repr=False)

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM for a graceful shutdown, then SIGKILL if it hangs. Idempotent."""
        if self.process.poll() is None:
            _signal_group(self.process, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(self.process, signal.SIGKILL)
                self.process.wait(timeout)
        self._log.close()
        # Errors quote the log's tail in their message before the servers are stopped.
        self.log_path.unlink(missing_ok=True)


@dataclass
class Server(Process):
    app: str  # "module:attribute", as uvicorn takes it
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    # start_new_session=True made the server the leader of a group whose id is its pid.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


def spawn(name: str, command: list[str], env: dict[str, str]) -> Process:
    """Start `command` from the project's root in a session of its own, its output logged."""
    # Not a `with`: the log outlives this call; the Process holds it and closes it when it stops.
    log_file = tempfile.NamedTemporaryFile(prefix=f"bench-{name}-", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return Process(name, process, Path(log_file.name), log_file)


def start(name: str, app: str, env: dict[str, str], *, host: str = "127.0.0.1", workers: int = 1) -> Server:
    """Start `uvicorn APP` with the production flags: `workers` workers (one by default), no access log."""
    port = free_port()
    command = [
        *cpus.server_prefix(workers),
        *_uvicorn(),
        app,
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    started = spawn(name, command, env)
    return Server(started.name, started.process, started.log_path, started._log, app, host, port)


def wait_healthy(server: Server, path: str = "/healthz", timeout: float = HEALTH_TIMEOUT) -> None:
    """Poll until GET `path` answers 200; raise with the server's log if it exits or never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"{server.name} server exited with code {server.process.returncode} before it was healthy:\n"
                f"{server.log_tail()}"
            )
        try:
            status, _, _ = request(server, "GET", path, timeout=1.0)
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{server.name} server not healthy after {timeout:.0f}s:\n{server.log_tail()}")


def request(
    server: Server, method: str, path: str, body: bytes | None = None, *, timeout: float = 30.0
) -> tuple[int, dict[str, str], bytes]:
    """One plain HTTP request (status, lower-cased headers, body) for checks, not for load."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()
