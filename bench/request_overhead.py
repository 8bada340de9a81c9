"""What the request middleware (request id, timing, metrics, access log) costs one request, in µs.

`python -m bench.request_overhead`: drives `RequestMiddleware` around an app that answers at once,
with a scope like a cache hit's, and subtracts the bare app's cost. No server, no sockets: the
number is the middleware's own share of a cache hit (~35 µs in all at the cache scenario's rate).
"""

from __future__ import annotations

import asyncio
import logging
import time

from starlette.types import Message, Receive, Scope, Send

from gateway.metrics import Metrics
from gateway.middleware import RequestMiddleware

ROUNDS = 7
REQUESTS = 20_000
START: Message = {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}
BODY: Message = {"type": "http.response.body", "body": b"{}"}


async def answer(scope: Scope, receive: Receive, send: Send) -> None:
    # A fresh start message each time, as a server's app sends: the middleware appends a header to it.
    await send(dict(START))
    await send(BODY)


async def receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def send(message: Message) -> None:
    pass


def scope() -> Scope:
    return {"type": "http", "method": "POST", "path": "/graphql", "headers": [(b"accept", b"application/json")]}


async def per_request(app: object) -> float:
    """Microseconds per request through `app`, the best of ROUNDS runs."""
    runs = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(REQUESTS):
            await app(scope(), receive, send)  # type: ignore[operator]
        runs.append((time.perf_counter() - started) / REQUESTS * 1e6)
    return min(runs)


async def main() -> None:
    logging.getLogger("gateway.access").setLevel(logging.WARNING)  # as the bench serves (LOG_LEVEL=WARNING)
    bare = await per_request(answer)
    wrapped = await per_request(RequestMiddleware(answer, Metrics()))
    print(f"bare app {bare:.2f} µs, with the request middleware {wrapped:.2f} µs: +{wrapped - bare:.2f} µs a request")


if __name__ == "__main__":
    asyncio.run(main())
