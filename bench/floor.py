"""The floor server, `bench.floor:app`: the gateway's own app with an in-memory listing.

Built by the real `create_app` (same middleware, view class, routes, lifespan and GC tuning), then
only the `/graphql` routes are swapped for the same view class over the floor schema. Whatever the
gateway adds to its request path later is therefore in the floor too, and the difference between
the two servers is the data layer alone.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Route, WebSocketRoute

from bench.floor_schema import build_schema, capture_listing
from gateway.app import app_from_environment, create_app
from gateway.graphql_view import GatewayGraphQL
from gateway.settings import Settings
from schema.catalogue import ProductConnection

if TYPE_CHECKING:
    from gateway.otel import Tracing


class _Page:
    """Holds the captured page; filled by the lifespan, read by the floor's `products` resolver."""

    connection: ProductConnection | None = None

    def __call__(self) -> ProductConnection:
        if self.connection is None:
            raise RuntimeError("floor: the listing page has not been loaded (lifespan did not run)")
        return self.connection


def _swap_graphql_routes(app: Starlette, view: GatewayGraphQL) -> None:
    """Point the HTTP and WebSocket `/graphql` routes at `view`; fail if the app's routes changed."""
    swapped = 0
    routes: list[BaseRoute] = app.router.routes
    for index, route in enumerate(routes):
        if isinstance(route, Route) and route.path == "/graphql" and isinstance(route.app, GatewayGraphQL):
            routes[index] = Route("/graphql", view, methods=sorted(route.methods or ()), name=route.name)
            swapped += 1
        elif isinstance(route, WebSocketRoute) and route.path == "/graphql":
            routes[index] = WebSocketRoute("/graphql", view, name=route.name)
            swapped += 1
    if swapped != 2:
        raise RuntimeError(f"floor: expected the HTTP and WebSocket /graphql routes in create_app, swapped {swapped}")


def _with_page_loaded(
    lifespan: Callable[[Any], AbstractAsyncContextManager[Any]], page: _Page, currency: str
) -> Callable[[Starlette], AbstractAsyncContextManager[Any]]:
    @asynccontextmanager
    async def lifespan_then_load(app: Starlette) -> AsyncIterator[Any]:
        # The real lifespan opens the database; the page is read through it once, before serving.
        async with lifespan(app) as state:
            page.connection = await capture_listing(currency)
            # The real lifespan froze its start-up objects; the page lives as long, freeze it too.
            gc.collect()
            gc.freeze()
            yield state

    return lifespan_then_load


def create_floor_app(settings: Settings, tracing: Tracing | None = None) -> Starlette:
    app = create_app(settings, tracing)
    page = _Page()
    view = GatewayGraphQL(
        build_schema(page), currency=settings.store_currency, secret_key=settings.secret_key, graphiql=settings.graphiql
    )
    _swap_graphql_routes(app, view)
    app.router.lifespan_context = _with_page_loaded(app.router.lifespan_context, page, settings.store_currency)
    return app


# Same configuration path as gateway.app, so both servers read the same environment the same way.
app = app_from_environment(create_floor_app)
