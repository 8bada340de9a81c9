"""Where the worker processes of one server keep their metrics, so that one scrape sums them all.

prometheus_client adds several processes' series together only in its multi-process mode, which it
turns on when PROMETHEUS_MULTIPROC_DIR names a directory before it is first imported: each process
then writes its values to files there, and whichever process answers a scrape reads them all.

- PROMETHEUS_MULTIPROC_DIR set: that directory (gunicorn forks its workers, which cannot be told
  apart from a lone process here; whoever sets the variable empties the directory before the server
  starts, as prometheus_client's documentation asks).
- A worker started by a `multiprocessing` supervisor (`uvicorn --workers N`, `--reload`): a
  directory of that supervisor's own, made here. It is named by the supervisor's pid and its
  authentication key, which every worker inherits (a restarted one too) and no other run shares;
  directories left by supervisors that have exited are removed.
- Otherwise (one process serving, or tests): none; each app's metrics are its own.

`gateway.metrics` imports this module before prometheus_client, so the choice is made in time.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import shutil
import tempfile
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"
PREFIX = "gateway-metrics-"


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, under another user
    return True


def _remove_stale(root: Path) -> None:
    """Directories of supervisors that have exited: their counts describe a server that is gone."""
    for directory in root.glob(PREFIX + "*"):
        owner = directory.name.removeprefix(PREFIX).split("-", 1)[0]
        if owner.isdigit() and not alive(int(owner)):
            shutil.rmtree(directory, ignore_errors=True)  # a sibling worker may be removing it too


def _supervised_directory() -> Path | None:
    parent = multiprocessing.parent_process()
    if parent is None or parent.pid is None:
        return None
    # The authentication key is drawn at random by the supervisor and inherited by its workers
    # (Python's documentation, multiprocessing.Process.authkey): a run's own name, shared by its workers.
    run = hashlib.sha256(bytes(multiprocessing.current_process().authkey)).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"{PREFIX}{parent.pid}-{run}"


def configure() -> str | None:
    """The directory this process's metrics go to, set in the environment; None: one process alone."""
    given = os.environ.get(ENV)
    if given:
        Path(given).mkdir(parents=True, exist_ok=True)
        return given
    directory = _supervised_directory()
    if directory is None:
        return None
    _remove_stale(directory.parent)
    directory.mkdir(mode=0o700, exist_ok=True)
    os.environ[ENV] = str(directory)
    return str(directory)


DIRECTORY = configure()
