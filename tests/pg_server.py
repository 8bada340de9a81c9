"""A PostgreSQL server of the test's own, on a free port, that the test may stop and start again.

The shared server on 5432 serves every other test (and other people): a test that takes the
database away starts this one instead. initdb and pg_ctl refuse to run as root, so they run as
the `postgres` user (`runuser`) in a temporary directory it owns; trust authentication, local
connections only.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile

import pytest

from testbed.servers import free_port
from tests.conftest import REQUIRE_SERVICES

_USER = "postgres"


def _skip(reason: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(f"REQUIRE_SERVICES=1 but {reason}")
    pytest.skip(reason)


class PostgresProcess:
    def __init__(self) -> None:
        binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not binaries:
            _skip("PostgreSQL's server binaries (initdb) are not installed")
        self.bin = os.path.dirname(binaries[-1])
        self.as_postgres: list[str] = []
        if os.geteuid() == 0:
            if shutil.which("runuser") is None:
                _skip("running as root without runuser: initdb refuses root")
            self.as_postgres = ["runuser", "-u", _USER, "--"]
        self.port = free_port()
        self.directory = tempfile.mkdtemp(prefix="gateway-pg-")
        if self.as_postgres:
            shutil.chown(self.directory, _USER)
        self.data = os.path.join(self.directory, "data")
        self.url = f"postgres://{_USER}@127.0.0.1:{self.port}/postgres"
        self._run("initdb", "-D", self.data, "-U", _USER, "-A", "trust", "--no-sync", "-E", "UTF8")

    def _run(self, tool: str, *args: str) -> None:
        result = subprocess.run(
            [*self.as_postgres, os.path.join(self.bin, tool), *args],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=self.directory,
        )
        assert result.returncode == 0, f"{tool} failed: {result.stderr[-2000:]}"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", self.data, "-o", options, "-l", os.path.join(self.directory, "log"), "-w", "start")

    def stop(self) -> None:
        """Stop now: clients are disconnected (`-m fast`), as in a restart or fail-over."""
        self._run("pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        subprocess.run(
            [*self.as_postgres, os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-m", "immediate", "-w", "stop"],
            capture_output=True,
            timeout=60,
            cwd=self.directory,
        )
        shutil.rmtree(self.directory, ignore_errors=True)
