"""Log configuration: LOG_LEVEL holds for the libraries' loggers that propagate to the gateway's handler."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT

# What uvicorn does before the app starts (its loggers at INFO, with handlers of their own), then the
# gateway's configuration, then one record under and one at the level asked for.
SCRIPT = """
import logging, logging.config, sys
logging.config.dictConfig({
    "version": 1,
    "handlers": {"out": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout"}},
    "loggers": {"uvicorn.access": {"level": "INFO", "handlers": ["out"], "propagate": False}},
})
from gateway import logs
logs.configure("WARNING", "json")
logging.getLogger("uvicorn.access").info("GET /graphql 200")
logging.getLogger("uvicorn.access").warning("slow client")
"""


def test_uvicorn_access_lines_follow_log_level_and_come_as_json():
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""  # uvicorn's own handler is gone: one stream, the gateway's
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert [(line["level"], line["logger"], line["message"]) for line in lines] == [
        ("WARNING", "uvicorn.access", "slow client")
    ]
    assert {"timestamp", "request_id", "pid"} <= set(lines[0])
