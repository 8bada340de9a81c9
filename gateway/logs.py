"""Log lines: one JSON object each (LOG_FORMAT=json), or one line of text for a person (text).

Every record goes through the root logger's one handler, the gateway's own and those of its
libraries alike: uvicorn's loggers are made to propagate to it (all but its access line: the
gateway writes its own), Tortoise's and asyncio's do already, and Python's warnings are captured
as records. A JSON line always has `timestamp` (UTC,
ISO 8601), `level`, `logger`, `request_id` (null outside a request) and `pid`, then either
`message` or, for a `Fields` message, its named values (the access log's status, duration, ...).

The request id comes from `REQUEST_ID`, which the request middleware sets for each HTTP request
and WebSocket connection: a task inherits it, so a line logged anywhere while serving a request
(a resolver, the database client, a subscription's task) carries that request's id.

`uvicorn` applies `log_config.json` beside this module (`--log-config`, as the Procfile does) in
its supervisor process too, whose few lines ("Started parent process") no app ever sees.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from contextvars import ContextVar
from pathlib import Path
from typing import Any

REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
FORMATS = ("json", "text")
CONFIG_FILE = Path(__file__).with_name("log_config.json")
# uvicorn configures these with handlers of their own and no propagation; the gateway's handler
# takes their records instead.
_UVICORN_LOGGERS = ("uvicorn", "uvicorn.error")
# uvicorn's access line is left off: the gateway writes its own (gateway.access, with the request
# id, operation and duration). uvicorn builds its line for every request whenever this logger
# `hasHandlers()`, even one below LOG_LEVEL, which cost a cache hit about a tenth of its time.
_UVICORN_ACCESS = "uvicorn.access"


class Fields(dict[str, Any]):
    """A log message made of named values. Its text (what `record.getMessage()` returns) is their
    JSON object; the JSON formatter merges them into the line itself rather than quoting that text."""

    def __str__(self) -> str:
        return json.dumps(self, default=str)


def _timestamp(record: logging.LogRecord) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"


def _request_id(record: logging.LogRecord) -> str | None:
    given = record.__dict__.get("request_id")
    return given if isinstance(given, str) else REQUEST_ID.get()


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "timestamp": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "request_id": _request_id(record),
            "pid": record.process,
        }
        if isinstance(record.msg, Fields) and not record.args:
            for name, value in record.msg.items():
                if line.get(name) is None:  # the standard keys stay, unless empty (a request id given)
                    line[name] = value
        else:
            line["message"] = record.getMessage()
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        if isinstance(record.msg, Fields) and not record.args:
            message = " ".join(f"{name}={value}" for name, value in record.msg.items())
        else:
            message = record.getMessage()
        text = f"{_timestamp(record)} {record.levelname:<7} {record.name} [{_request_id(record) or '-'}] {message}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        if record.stack_info:
            text += "\n" + self.formatStack(record.stack_info)
        return text


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The gateway's handler (a class of its own, so configuring twice replaces rather than adds)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)


def formatter(log_format: str) -> logging.Formatter:
    return TextFormatter() if log_format == "text" else JsonFormatter()


def formatter_from_environment() -> logging.Formatter:
    """For log_config.json, read before any setting is: LOG_FORMAT as it is, JSON unless `text`."""
    return formatter(os.environ.get("LOG_FORMAT", "").strip().lower())


def _with_request_ids() -> None:
    """Records carry the request id of the context that made them (`record.request_id`), whichever
    handler formats them and wherever that runs."""
    make = logging.getLogRecordFactory()
    if getattr(make, "adds_request_id", False):
        return

    def make_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        record.request_id = REQUEST_ID.get()
        return record

    make_record.adds_request_id = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(make_record)


def uvicorn_config(log_format: str) -> dict[str, Any]:
    """uvicorn's `log_config` for `python -m gateway serve`: log_config.json, with the format given
    (from settings) instead of read from the environment."""
    config: dict[str, Any] = json.loads(CONFIG_FILE.read_text())
    config["formatters"]["gateway"] = {"()": "gateway.logs.formatter", "log_format": log_format}
    return config


def configure(level: str, log_format: str) -> None:
    """Send every record to stderr in `log_format`, unless someone else has set up logging (a test
    runner's capture, an application embedding the gateway): then it is theirs, as with basicConfig.
    Records carry their request id either way."""
    _with_request_ids()
    root = logging.getLogger()
    if any(not isinstance(handler, StderrHandler) for handler in root.handlers):
        return
    handler = StderrHandler()
    handler.setFormatter(formatter(log_format))
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in _UVICORN_LOGGERS:
        # uvicorn sets its loggers to INFO; a record passing its own logger's level reaches the root's
        # handler whatever the root's level, so they take LOG_LEVEL too.
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.setLevel(level)
        logger.propagate = True
    access = logging.getLogger(_UVICORN_ACCESS)
    access.handlers.clear()
    access.propagate = False
    access.disabled = True  # else Python's last-resort handler prints its warnings as plain text
    # Procrastinate writes a line at INFO for every job it starts and ends, the periodic ones
    # (every 5 s) included: the gateway's own lines say what matters (a redelivery, a failure);
    # LOG_LEVEL=DEBUG shows them all.
    numeric = logging.getLevelName(level)
    logging.getLogger("procrastinate").setLevel(numeric if numeric <= logging.DEBUG else max(numeric, logging.WARNING))
    logging.captureWarnings(True)
