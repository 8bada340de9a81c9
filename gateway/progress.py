"""A progress bar for the command line, drawn only on a terminal.

A few lines rather than a dependency: one bar, redrawn in place with a carriage return at most
ten times a second. When the stream is not a terminal (a pipe, a log file, CI) nothing is drawn,
so logs hold the command's summary and not hundreds of redraws.
"""

from __future__ import annotations

import time
from typing import TextIO

WIDTH = 30
INTERVAL = 0.1  # seconds between redraws


class Bar:
    def __init__(self, stream: TextIO, unit: str) -> None:
        self.stream = stream
        self.unit = unit
        self.shown = stream.isatty()
        self.drawn_at = 0.0
        self.started = time.monotonic()

    def update(self, done: int, total: int) -> None:
        if not self.shown:
            return
        now = time.monotonic()
        if done < total and now - self.drawn_at < INTERVAL:
            return
        self.drawn_at = now
        filled = WIDTH * done // total if total else WIDTH
        rate = done / (now - self.started) if now > self.started else 0.0
        self.stream.write(f"\r[{'#' * filled}{'.' * (WIDTH - filled)}] {done:,}/{total:,} {self.unit} ({rate:,.0f}/s)")
        self.stream.flush()

    def close(self) -> None:
        if self.shown and self.drawn_at:
            self.stream.write("\n")
            self.stream.flush()
