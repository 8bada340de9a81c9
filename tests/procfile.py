"""The Procfiles' commands, run as a platform runs them: by a shell, from the repository root, with
the environment's own `python` and `uvicorn` on PATH (no `.venv/` written into any line)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tests.conftest import ROOT

# The interpreter's directory: what an activated virtual environment or a platform's image puts on PATH.
BIN = str(Path(sys.executable).parent)


def commands(name: str = "Procfile") -> dict[str, str]:
    """Process type -> command, as honcho, foreman and Heroku read a Procfile."""
    lines = (ROOT / name).read_text().splitlines()
    pairs = (line.split(":", 1) for line in lines if line.strip() and not line.lstrip().startswith("#"))
    return {kind.strip(): command.strip() for kind, command in pairs}


def environment(**env: str) -> dict[str, str]:
    """This process's environment with the interpreter's directory first on PATH, plus `env`."""
    return {**os.environ, "PATH": BIN + os.pathsep + os.environ.get("PATH", ""), **env}
