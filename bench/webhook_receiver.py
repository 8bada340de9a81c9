"""The webhooks scenario's endpoint: receives every delivery, verifies it, and says when it came.

Run as its own process (`python -m bench.webhook_receiver --secret S [--fail-first N]`), so it
never waits for the harness and the harness never waits for it: a bare ASGI callable (no framework)
under one uvicorn on uvloop and httptools, access log off; a delivery costs it ~0.2 ms of CPU, two
orders of magnitude below what the gateway spends sending one.

Each request is timed as soon as its whole body is read, on the wall clock (`time.time()`): the
gateway's processes stamp the outbox rows with that same clock of this machine, which is what
the harness subtracts. It is verified with the `standardwebhooks` package (signature, and a
timestamp within its 5 minutes), and answered 400 when that fails; otherwise 500 to the first
`--fail-first` attempts of each `webhook-id` and 200 to every later one.

The harness drives it through stdin, one command a line; each answer is one JSON line on stdout:

    (on start)  {"event": "listening", "port": P}
    count       attempts so far, and how many distinct webhook-ids were answered 200
    dump        every attempt as [webhook-id, arrival, status answered, event type, order number,
                why verification failed or null], then exit
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
import time
from collections import Counter
from typing import Any

import uvicorn
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

Scope = dict[str, Any]
Message = dict[str, Any]


class Receiver:
    """The ASGI app: every attempt recorded, answered as the module's docstring says."""

    def __init__(self, secret: str, fail_first: int) -> None:
        self.webhook = Webhook(secret)
        self.fail_first = fail_first
        self.tries: Counter[str] = Counter()  # attempts per webhook-id
        self.attempts: list[list[Any]] = []
        self.delivered: set[str] = set()  # webhook-ids answered 200

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = bytearray()
        while True:
            message: Message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        arrived = time.time()
        status = self.judge(arrived, bytes(body), scope["headers"])
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok" if status == 200 else b"no"})

    def judge(self, arrived: float, body: bytes, raw_headers: list[tuple[bytes, bytes]]) -> int:
        """Record one attempt; the status to answer it with."""
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in raw_headers}
        webhook_id = headers.get("webhook-id", "")
        self.tries[webhook_id] += 1
        try:
            payload = self.webhook.verify(body, headers)
        except (WebhookVerificationError, ValueError) as error:
            self.attempts.append([webhook_id, arrived, 400, None, None, str(error)])
            return 400
        status = 500 if self.tries[webhook_id] <= self.fail_first else 200
        data = payload.get("data") or {}
        number = (data.get("object") or {}).get("number")
        self.attempts.append([webhook_id, arrived, status, payload.get("type"), number, None])
        if status == 200:
            self.delivered.add(webhook_id)
        return status


def emit(answer: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()


async def main_async(secret: str, fail_first: int) -> None:
    receiver = Receiver(secret, fail_first)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        receiver, lifespan="off", log_level="warning", access_log=False, http="httptools", backlog=1024
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if serving.done():
            serving.result()  # raises what stopped it
            raise RuntimeError("uvicorn stopped before it started")
        await asyncio.sleep(0.01)
    emit({"event": "listening", "port": sock.getsockname()[1]})

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := (await reader.readline()).decode().strip():
        if line == "count":
            emit({"event": "count", "attempts": len(receiver.attempts), "delivered": len(receiver.delivered)})
        elif line == "dump":
            emit({"event": "dump", "attempts": receiver.attempts, "process_cpu_s": round(time.process_time(), 3)})
            break
        else:
            emit({"event": "unknown", "line": line})
    server.should_exit = True
    await serving


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.webhook_receiver")
    parser.add_argument("--secret", required=True, help="the subscription's secret (whsec_…)")
    parser.add_argument("--fail-first", type=int, default=0, help="answer 500 to this many attempts of each webhook-id")
    args = parser.parse_args(argv)
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    runner(main_async(args.secret, args.fail_first))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
