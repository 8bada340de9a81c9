"""Log configuration in a process as uvicorn leaves it: its loggers follow LOG_LEVEL into the
gateway's one JSON stream, and its access line is off (the gateway writes its own)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT

# What uvicorn does before the app starts (its loggers at INFO, with handlers of their own), then the
# gateway's configuration, then records under and at the level asked for.
SCRIPT = """
import logging, logging.config
logging.config.dictConfig({
    "version": 1,
    "handlers": {"out": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout"}},
    "loggers": {
        "uvicorn.error": {"level": "INFO", "handlers": ["out"], "propagate": False},
        "uvicorn.access": {"level": "INFO", "handlers": ["out"], "propagate": False},
    },
})
from gateway import logs
logs.configure("WARNING", "json")
print("access handlers:", logging.getLogger("uvicorn.access").hasHandlers())
logging.getLogger("uvicorn.error").info("Started server process")
logging.getLogger("uvicorn.error").warning("Invalid HTTP request received.")
logging.getLogger("uvicorn.access").warning("GET /graphql 200")
"""


def test_uvicorn_lines_follow_log_level_as_json_and_its_access_line_is_off():
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    # uvicorn builds its access line for each request only when that logger has a handler somewhere.
    assert done.stdout == "access handlers: False\n"
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert [(line["level"], line["logger"], line["message"]) for line in lines] == [
        ("WARNING", "uvicorn.error", "Invalid HTTP request received.")
    ]
    assert {"timestamp", "request_id", "pid"} <= set(lines[0])
