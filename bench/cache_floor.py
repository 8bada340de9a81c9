"""The cache scenario's floors: bare Starlette answering the listing's bytes, (d) from memory and
(e) from one Redis GET. No middleware, no GraphQL: what the HTTP layer alone costs.

`bench.cache_floor:memory_app` reads the bytes from the file `BENCH_RESPONSE_FILE` at import;
`bench.cache_floor:redis_app` GETs the key `BENCH_REDIS_KEY` from `BENCH_REDIS_URL` per request.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


def _memory_app() -> Starlette:
    path = os.environ.get("BENCH_RESPONSE_FILE")
    body = Path(path).read_bytes() if path else b"{}"

    async def graphql(request: Request) -> Response:
        await request.body()  # read the request, as any handler of a POST must
        return Response(body, media_type="application/json")

    return Starlette(routes=[Route("/graphql", graphql, methods=["GET", "POST"]), Route("/healthz", healthz)])


def _redis_app() -> Starlette:
    redis = Redis.from_url(os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13"))
    key = os.environ.get("BENCH_REDIS_KEY", "bench:cache-floor")

    async def graphql(request: Request) -> Response:
        await request.body()
        body = await redis.get(key)
        if body is None:
            return PlainTextResponse("missing", status_code=500)
        return Response(body, media_type="application/json")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await redis.aclose()

    return Starlette(
        routes=[Route("/graphql", graphql, methods=["GET", "POST"]), Route("/healthz", healthz)], lifespan=lifespan
    )


memory_app = _memory_app()
redis_app = _redis_app()
