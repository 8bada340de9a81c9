"""The response cache at the HTTP edge: a pure ASGI layer in front of routing and GraphQL.

A hit is answered here from stored bytes: one pass over the headers, a BLAKE2b of the raw
request, two dict lookups, two `send` calls. No Request/Response objects, no routing, no JSON or
GraphQL parsing (gateway/cache_keys.py explains the keys). Misses and everything not cacheable
go on to the application; a cacheable miss's response is captured to be stored.

Only anonymous requests are considered: any `Authorization` header bypasses the cache, since
staff see drafts and customers their own data (there is no cookie-based authentication).

HTTP caching: an anonymous catalogue GET answered from (or stored into) the cache carries
`Cache-Control: public, max-age=…, stale-while-revalidate=…` and a strong `ETag` (a hash of the
bytes), and `If-None-Match` gets a 304. Every other GraphQL response is `private, no-store` (set
by the view). `Vary: Accept, Authorization` on all of them: the media type follows `Accept`, and
a shared cache must not give an anonymous answer to a signed-in request. `Cache-Status` (RFC 9211)
says what this cache did: `gateway; hit`, `gateway; fwd=miss; stored`, `gateway; fwd=miss` (an
answer with errors, never stored) or `gateway; fwd=bypass` (set by the view).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.cache import Executed, ResponseCache
from gateway.cache_keys import NOT_CACHEABLE, path_key, request_digest
from gateway.cache_local import Entry
from gateway.request_state import request_state

HIT = b"gateway; hit"
MISS_STORED = b"gateway; fwd=miss; stored"
MISS = b"gateway; fwd=miss"
PRIVATE = b"private, no-store"
VARY = b"Accept, Authorization"
_REPLACED = (b"cache-status", b"cache-control", b"etag", b"vary")


class ResponseCacheMiddleware:
    def __init__(
        self, app: ASGIApp, cache: ResponseCache, max_age: int, stale_while_revalidate: int, path: str = "/graphql"
    ) -> None:
        self.app = app
        self.cache = cache
        self.path = path
        self.public = f"public, max-age={max_age}, stale-while-revalidate={stale_while_revalidate}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        if method == "GET":
            is_get = True
        elif method == "POST":
            is_get = False
        else:
            await self.app(scope, receive, send)
            return
        cache = self.cache
        if not cache.active:  # Redis unreachable: other workers' invalidations cannot reach us
            cache.note_inactive()
            cache.stats.bypasses += 1
            await self.app(scope, receive, send)
            return
        accept = content_type = b""
        if_none_match = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                cache.stats.bypasses += 1
                await self.app(scope, receive, send)
                return
            if name == b"accept":
                accept = value
            elif name == b"if-none-match":
                if_none_match = value
            elif name == b"content-type":
                content_type = value
        if is_get:
            raw = scope["query_string"]
        elif content_type.startswith(b"application/json"):
            raw = await _read_body(receive)  # what the application reads instead: `_replay`
        else:
            cache.stats.bypasses += 1
            await self.app(scope, receive, send)
            return

        digest = request_digest(b"G" if is_get else b"P" + content_type, accept, raw)
        key = cache.aliases.get(digest)
        if key is None:
            key = await cache.resolve(is_get, accept, content_type, raw, digest)
        if key is NOT_CACHEABLE or not cache.active:
            cache.stats.bypasses += 1
            await self.app(scope, receive if is_get else _replay(raw, receive), send)
            return
        assert isinstance(key, str)
        entry = cache.local.get(key)
        if entry is not None:
            cache.stats.hits_local += 1
            await self._answer(scope, send, entry, HIT, is_get, if_none_match)
            return

        async def execute() -> Executed:
            request_state(scope).cache_status = "fwd=miss"  # what the operation's span reports
            return await self._execute(scope, receive if is_get else _replay(raw, receive))

        outcome = await cache.fetch(key, execute)
        if outcome.entry is not None:
            status = MISS_STORED if outcome.executed is not None else HIT
            await self._answer(scope, send, outcome.entry, status, is_get, if_none_match)
            return
        executed = outcome.executed
        assert executed is not None
        headers = [h for h in executed.headers if h[0] not in _REPLACED]
        headers += [(b"cache-status", MISS), (b"cache-control", PRIVATE), (b"vary", VARY)]
        await send({"type": "http.response.start", "status": executed.status, "headers": headers})
        await send({"type": "http.response.body", "body": executed.body})

    async def _answer(
        self, scope: Scope, send: Send, entry: Entry, status: bytes, is_get: bool, if_none_match: bytes | None
    ) -> None:
        request_state(scope).operation = entry.operation
        if not is_get:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", entry.content_type),
                        (b"content-length", entry.length),
                        (b"cache-status", status),
                        (b"cache-control", PRIVATE),
                        (b"vary", VARY),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": entry.body})
            return
        if if_none_match is not None and _etag_matches(if_none_match, entry.etag):
            self.cache.stats.not_modified += 1
            await send(
                {
                    "type": "http.response.start",
                    "status": 304,
                    "headers": [
                        (b"etag", entry.etag),
                        (b"cache-control", self.public),
                        (b"cache-status", status),
                        (b"vary", VARY),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", entry.content_type),
                    (b"content-length", entry.length),
                    (b"etag", entry.etag),
                    (b"cache-control", self.public),
                    (b"cache-status", status),
                    (b"vary", VARY),
                ],
            }
        )
        await send({"type": "http.response.body", "body": entry.body})

    async def _execute(self, scope: Scope, receive: Receive) -> Executed:
        """Run the application for a miss, capturing its response instead of sending it."""
        start: Message = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        state = request_state(scope)
        state.shared = True
        await self.app(scope, receive, capture)
        status = start.get("status", 500)
        headers = list(start.get("headers", ()))
        body = b"".join(chunks)
        entry = None
        # The view records whether the result had errors; a response it did not see is not stored.
        if status == 200 and state.result_errors is False:
            content_type = next((v for n, v in headers if n == b"content-type"), None)
            if content_type is not None:
                entry = Entry(
                    body=body,
                    content_type=content_type,
                    etag=b'"' + hashlib.blake2b(body, digest_size=16).hexdigest().encode() + b'"',
                    operation=state.operation or "anonymous",
                    tags=tuple(sorted(state.cache_tags or ())),
                    expires_at=time.time() + self.cache.ttl,
                )
        return Executed(status, headers, body, entry)


async def cached_document(
    cache: ResponseCache | None,
    path: str,
    content_type: bytes,
    tags: tuple[str, ...],
    produce: Callable[[], Awaitable[bytes | None]],
    max_age: int,
) -> Response:
    """A GET answered with a document cached whole under its path, beside the GraphQL answers:
    the same tiers, single flight, TTL and invalidation by `tags` (so the changes that evict the
    catalogue's answers evict it too). `produce` gives the body, or None: 404, not stored. While
    the cache is bypassed (Redis away) or off, the document is produced for each request."""
    if cache is None or not cache.active:
        if cache is not None:
            cache.note_inactive()
            cache.stats.bypasses += 1
        body = await produce()
        if body is None:
            return Response(status_code=404)
        return Response(body, headers={"cache-control": "no-cache"}, media_type=content_type.decode())

    async def execute() -> Executed:
        body = await produce()
        if body is None:
            return Executed(404, [], b"", None)
        entry = Entry(
            body=body,
            content_type=content_type,
            etag=b'"' + hashlib.blake2b(body, digest_size=16).hexdigest().encode() + b'"',
            operation=path,
            tags=tuple(sorted(tags)),
            expires_at=time.time() + cache.ttl,
        )
        return Executed(200, [(b"content-type", content_type)], body, entry)

    key = path_key(cache.prefix, path)
    entry = cache.local.get(key)
    status = HIT
    if entry is None:
        outcome = await cache.fetch(key, execute)
        entry = outcome.entry
        if entry is None:  # not stored (invalidated meanwhile, or nothing to list)
            executed = outcome.executed
            assert executed is not None
            if executed.status != 200:
                return Response(status_code=executed.status)
            return Response(executed.body, headers={"cache-status": MISS.decode()}, media_type=content_type.decode())
        if outcome.executed is not None:
            status = MISS_STORED
    else:
        cache.stats.hits_local += 1
    return Response(
        bytes(entry.body),
        headers={
            "etag": entry.etag.decode(),
            "cache-control": f"public, max-age={max_age}",
            "cache-status": status.decode(),
        },
        media_type=content_type.decode(),
    )


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break  # the client went away; the application will see an empty body
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body already read, once, then whatever the server sends next (a disconnect)."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _etag_matches(header: bytes, etag: bytes) -> bool:
    """If-None-Match uses the weak comparison: `W/` prefixes do not matter; `*` matches anything."""
    if header.strip() == b"*":
        return True
    for candidate in header.split(b","):
        candidate = candidate.strip()
        if candidate[:2] == b"W/":
            candidate = candidate[2:]
        if candidate == etag:
            return True
    return False
