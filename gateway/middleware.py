"""The middleware in front of the GraphQL view: request id, timing, metrics and the structured log
line (WebSocket connections get a request id too); the body limit; the rate limit.

Pure ASGI (no BaseHTTPMiddleware): at thousands of requests per second every microsecond on the
hot path counts. What they and the GraphQL view learn about a request goes into its one
`RequestState` (gateway/request_state.py): the operation name, for one.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.logs import REQUEST_ID, Fields
from gateway.metrics import GRAPHQL_PATH, OTHER, Metrics
from gateway.ratelimit import Limiter, client_ip, retry_after_header
from gateway.request_state import KEY, RequestState, request_state
from gateway.settings import Network
from models.error_codes import GraphQLErrorCode
from resolvers.accounts import AccessClaims, access_claims

log = logging.getLogger("gateway.access")
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# Paths whose last part is a secret (a customer's download link): logged without it, since log
# lines are read and kept by more people, for longer, than the link is meant for.
SECRET_PATHS = ("/exports/",)


def loggable_path(path: str) -> str:
    for prefix in SECRET_PATHS:
        if path.startswith(prefix):
            return prefix + "…"
    return path


class _RequestIds:
    """32 hex digits: a random per-process prefix and a counter.

    uuid4() reads 16 bytes from the kernel on every request (~3 µs); at tens of thousands of
    cache hits per second that was a tenth of a hit's cost. Ids stay unique across processes
    (the prefix is random, and drawn again in a forked child) and are not meant to be secret.
    """

    def __init__(self) -> None:
        self.reset()
        os.register_at_fork(after_in_child=self.reset)

    def reset(self) -> None:
        self.prefix = os.urandom(8).hex()
        self.counter = itertools.count(1)

    def next(self) -> str:
        return f"{self.prefix}{next(self.counter):016x}"


_request_ids = _RequestIds()


class RequestMiddleware:
    """Names each HTTP request and WebSocket connection (its id in `X-Request-Id`, in the request's
    record and in every log line written while serving it); times, counts and logs each HTTP request."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "websocket":
            await self._websocket(scope, receive, send)
            return
        if kind != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or _request_ids.next()
        state = scope[KEY] = RequestState(request_id)
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status = 500
        header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            try:
                elapsed = time.perf_counter() - started
                metrics = self.metrics
                # `Metrics.label`, its GraphQL case inline: this runs on every cache hit.
                if scope["path"] == GRAPHQL_PATH:
                    label = metrics.operation_labels.get(state.operation, OTHER)
                else:
                    label = metrics.route_label(scope)
                metrics.observe(label, status, elapsed)
                if log.isEnabledFor(logging.INFO):
                    method = scope["method"]
                    path = loggable_path(scope["path"])
                    log.info(
                        Fields(
                            message=f"{method} {path} {status}",
                            request_id=request_id,
                            method=method,
                            path=path,
                            operation=state.operation,
                            status=status,
                            duration_ms=round(elapsed * 1000, 3),
                        )
                    )
            finally:
                REQUEST_ID.reset(token)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = _incoming_request_id(scope) or _request_ids.next()
        scope[KEY] = RequestState(request_id)
        token = REQUEST_ID.set(request_id)
        header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "websocket.accept":
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(token)


def _incoming_request_id(scope: Scope) -> str | None:
    # A proxy's id is kept so one request can be followed across services, if it is harmless.
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _SAFE_REQUEST_ID.fullmatch(text) else None
    return None


class BodyLimit:
    """413 for a request body over `max_bytes`, declared or streamed, before anything parses it.

    A file upload (a multipart body to /graphql) has a limit of its own, `upload_max_bytes`: a
    declared length over it is answered before a byte of the body is read, and a streamed body is
    cut off as soon as it passes it.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, upload_max_bytes: int | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.upload_max_bytes = max_bytes if upload_max_bytes is None else upload_max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        length = -1
        declared = chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit():
                length = int(value)
                declared = True
            elif name == b"transfer-encoding":
                chunked = True
            elif (
                name == b"content-type" and value[:19].lower() == b"multipart/form-data" and scope["path"] == "/graphql"
            ):
                limit = self.upload_max_bytes
        if length > limit:
            await _too_large(send, limit)
            return
        if declared and not chunked:
            # HTTP/1.1 framing: the server hands the application exactly the declared length as
            # this request's body, so there is nothing left to count (and no wrapper to pay for).
            await self.app(scope, receive, send)
            return
        received = 0
        exceeded = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise _BodyTooLarge
            return message

        async def unless_exceeded(message: Message) -> None:
            # Past the limit, what the application answers (a 500 from Starlette's error handler,
            # which met the exception first) gives way to the 413.
            if not exceeded:
                await send(message)

        with contextlib.suppress(_BodyTooLarge):
            await self.app(scope, counting_receive, unless_exceeded)
        if exceeded:
            await _too_large(send, limit)


class _BodyTooLarge(Exception):
    pass


async def _too_large(send: Send, max_bytes: int) -> None:
    body = json.dumps(
        {
            "errors": [
                {
                    "message": f"The request body is larger than {max_bytes} bytes.",
                    "extensions": {"code": GraphQLErrorCode.QUERY_TOO_COMPLEX},
                }
            ]
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RateLimit:
    """HTTP 429 with Retry-After once a client (its verified account, else its address) runs dry.

    Only a token whose signature verifies names a client: any other bearer string is counted
    against the address it came from, so inventing tokens does not buy fresh buckets.
    """

    def __init__(
        self,
        app: ASGIApp,
        limiter: Limiter,
        rate: float,
        burst: int,
        trusted_proxies: tuple[Network, ...],
        secret_key: str,
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.rate = rate
        self.burst = burst
        self.trusted_proxies = trusted_proxies
        self.secret_key = secret_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/graphql":
            await self.app(scope, receive, send)
            return
        key = client_key(scope, self.trusted_proxies, self.secret_key)
        wait = await self.limiter.take(key, self.rate, self.burst)
        if wait is None:
            await self.app(scope, receive, send)
            return
        body = json.dumps(
            {
                "errors": [
                    {
                        "message": "Too many requests: slow down and retry later.",
                        "extensions": {"code": GraphQLErrorCode.RATE_LIMITED, "retryAfter": round(wait, 3)},
                    }
                ]
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", retry_after_header(wait).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def client_key(scope: Scope, trusted_proxies: tuple[Network, ...], secret_key: str) -> str:
    """Whom the request counts against, for the limiters: the account of a verified bearer
    token, else the address (trusted proxies applied). Worked out once per request."""
    state = request_state(scope)
    if state.client_key is None:
        state.client_ip = address = client_ip(scope, trusted_proxies)
        claims = bearer_claims(scope, secret_key)
        state.client_key = f"account:{claims.account_id}" if claims is not None else "ip:" + address
    return state.client_key


def bearer_claims(scope: Scope, secret_key: str) -> AccessClaims | None:
    """The claims of the request's `Authorization: Bearer` token when its signature verifies and
    it has not expired; None otherwise. Verified once per request (kept in its `RequestState`)."""
    state = request_state(scope)
    if state.bearer_checked:
        return state.bearer
    claims = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            if value[:7].lower() == b"bearer ":
                claims = access_claims(value[7:].strip().decode("latin-1"), secret_key)
            break
    state.bearer_checked = True
    state.bearer = claims
    return claims
