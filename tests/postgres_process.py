"""A PostgreSQL server of the test's own, on a free port, that a drill may restart under traffic.

The shared server on 5432 serves every other test (and other people): a drill never touches it.
This one lives in a temporary directory made by `initdb`; as root, the server runs as the
`postgres` user (PostgreSQL refuses to run as root), through `runuser`.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from bench.servers import free_port
from tests.conftest import REQUIRE_SERVICES


def _bin_dir() -> Path | None:
    """The directory of `initdb` and `pg_ctl`: on PATH, else Debian's versioned directories (newest first)."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]), reverse=True)
    return Path(versions[0]).parent if versions else None


class PostgresProcess:
    """`initdb` into a temporary directory, then `pg_ctl` start, restart and stop (trust auth, user postgres)."""

    def __init__(self) -> None:
        self.bin = _bin_dir()
        self.as_root = os.geteuid() == 0
        reason = None
        if self.bin is None:
            reason = "PostgreSQL server binaries (initdb, pg_ctl) are not installed"
        elif self.as_root and not shutil.which("runuser"):
            reason = "running as root needs runuser to start PostgreSQL as the postgres user"
        if reason:
            if REQUIRE_SERVICES:
                pytest.fail(f"REQUIRE_SERVICES=1 but {reason}")
            pytest.skip(reason)
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="drill-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self.admin_url = f"postgres://postgres@127.0.0.1:{self.port}/postgres"
        self.started = False

    def _run(self, *command: str, timeout: float = 60) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_root else []
        result = subprocess.run([*prefix, *command], capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"{Path(command[0]).name} failed: {result.stderr.strip()}\n{self.log_tail()}")

    def start(self) -> None:
        if self.as_root:
            shutil.chown(self.dir, "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
        # No fsync: a drill's data does not have to survive a power cut, and the machine is shared.
        # The socket directory is ours too, so nothing collides with the system server's.
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off")
        self._run(str(self.bin / "pg_ctl"), "start", "-w", "-t", "60", "-D", str(self.data), "-l", str(self.log), "-o", options)
        self.started = True

    def restart(self) -> None:
        """`pg_ctl restart -m fast`: open sessions are disconnected, in-flight transactions roll back."""
        self._run(str(self.bin / "pg_ctl"), "restart", "-w", "-t", "60", "-m", "fast", "-D", str(self.data), "-l", str(self.log))

    def stop(self) -> None:
        """Stop the server for sure and remove its directory. Idempotent."""
        if self.started:
            self.started = False
            try:
                self._run(str(self.bin / "pg_ctl"), "stop", "-w", "-m", "immediate", "-D", str(self.data))
            except (RuntimeError, subprocess.TimeoutExpired):
                pass  # already down; the directory goes anyway
        shutil.rmtree(self.dir, ignore_errors=True)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
