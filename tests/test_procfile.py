"""The Procfiles as platforms and developers run them.

`Procfile` is for Heroku-style platforms: `release:` runs once per deploy, before `web:` starts.
`Procfile.dev` is for honcho and foreman, which start every line and stop them all when one exits:
it has no one-shot line, and its `web:` applies migrations before serving. Both work wherever the
package is installed: their commands name `python` and `uvicorn`, never a `.venv/` path.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import httpx
import pytest

from testbed.servers import free_port
from tests.conftest import ROOT
from tests.procfile import BIN, commands, environment


def test_the_procfiles_name_no_virtual_environment():
    platform = commands("Procfile")
    assert set(platform) == {"web", "worker", "release"}
    assert platform["web"].startswith("uvicorn gateway.app:app ")  # CONTRACT.md: the web line runs it
    assert platform["worker"] == "python -m gateway worker"  # CONTRACT.md's command
    # Nothing that exits, so honcho stops nothing (on SQLite the worker idles: jobs run in web).
    assert set(commands("Procfile.dev")) == {"web", "worker"}
    for name in ("Procfile", "Procfile.dev"):
        assert ".venv" not in (ROOT / name).read_text(), name


@pytest.mark.slow  # runs the migrations in a process of its own
def test_the_release_line_migrates_a_fresh_database(tmp_path):
    url = f"sqlite://{tmp_path / 'release.sqlite3'}"
    done = subprocess.run(
        ["bash", "-c", commands()["release"]],
        cwd=ROOT,
        env=environment(DATABASE_URL=url),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "migrations applied" in done.stdout
    assert (tmp_path / "release.sqlite3").stat().st_size > 0


@pytest.mark.slow  # honcho, a shell and uvicorn
def test_honcho_starts_the_development_procfile_and_web_stays_up(tmp_path):
    port = free_port()
    url = f"sqlite://{tmp_path / 'dev.sqlite3'}"
    honcho = subprocess.Popen(
        [os.path.join(BIN, "honcho"), "-f", "Procfile.dev", "start", "-p", str(port)],
        cwd=ROOT,
        env=environment(DATABASE_URL=url, LOG_FORMAT="text"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while not _ready(port):
            assert honcho.poll() is None, honcho.stdout.read().decode()[-3000:] if honcho.stdout else ""
            assert time.monotonic() < deadline, "web never became ready under honcho"
            time.sleep(0.3)
        # Migrated by the web line itself: the schema is there and answers.
        response = httpx.post(
            f"http://127.0.0.1:{port}/graphql", json={"query": "{ products(first: 1) { totalCount } }"}
        )
        assert response.status_code == 200 and response.json()["data"]["products"]["totalCount"] == 0
        time.sleep(3)  # nothing exits and takes web down with it
        assert honcho.poll() is None and _ready(port)
    finally:
        os.killpg(honcho.pid, signal.SIGTERM)
        output = honcho.communicate(timeout=30)[0].decode()
    assert "migrations applied" in output
    # LOG_FORMAT=text: one readable line per record, with its request id in brackets.
    assert any(" INFO    gateway.access [" in line and "POST /graphql 200" in line for line in output.splitlines())


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False
