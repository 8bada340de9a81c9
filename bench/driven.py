"""A helper process the harness drives through its stdin, one command a line, each answer one JSON
line on its stdout: the fan-out's subscribers (`bench.fanout_load`), the webhooks' receiver
(`bench.webhook_receiver`). Their own processes, so they never share the harness's GIL."""

from __future__ import annotations

import json
import select
import subprocess
from typing import IO, Any

from bench import ROOT


class Driven:
    def __init__(self, name: str, command: list[str]) -> None:
        self.name = name
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def answer(self, timeout: float) -> dict[str, Any]:
        stdout: IO[str] | None = self.process.stdout
        assert stdout is not None
        ready, _, _ = select.select([stdout], [], [], timeout)
        line = stdout.readline() if ready else ""
        if not line:
            self.process.kill()
            stderr = self.process.stderr.read() if self.process.stderr else ""
            raise RuntimeError(f"{self.name} gave no answer within {timeout:.0f}s:\n{stderr[-2000:]}")
        return json.loads(line)

    def ask(self, command: str, timeout: float) -> dict[str, Any]:
        self.send(command)
        return self.answer(timeout)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
