"""Strawberry's ASGI view with our context, and the headers every GraphQL response carries."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from resolvers import outbox
from resolvers.cart import CartRules
from schema.context import Context
from schema.extensions import classify


class GatewayGraphQL(GraphQL):
    def __init__(
        self,
        schema: Any,
        *,
        currency: str,
        secret_key: str,
        graphiql: bool,
        websocket_origins: tuple[str, ...] = (),
        limiter: Any = None,
        login_attempts_per_minute: int = 10,
        prices_include_tax: bool = True,
        cart_rules: CartRules = CartRules(),
        events: Any = None,
        announce: outbox.Sink | None = None,
    ) -> None:
        # Strawberry refuses cross-origin WebSocket handshakes from browsers unless the page's
        # origin is allowed (CORS does not cover WebSockets); same-origin and non-browser
        # clients are always let in.
        super().__init__(
            schema,
            graphql_ide="graphiql" if graphiql else None,
            allow_queries_via_get=True,
            allowed_origins=websocket_origins,
        )
        self.currency = currency
        self.secret_key = secret_key
        self.limiter = limiter
        self.login_attempts_per_minute = login_attempts_per_minute
        self.prices_include_tax = prices_include_tax
        self.cart_rules = cart_rules
        self.events = events  # gateway.events.EventBus, for subscriptions
        self.announce = announce  # where committed changes go


    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        # The request's task (and, on a WebSocket, every operation's task started from it) hands
        # what its transactions commit to the announcer.
        outbox.use_sink(self.announce)
        context = Context(
            currency=self.currency,
            secret_key=self.secret_key,
            access_token=_bearer(request.headers.get("authorization")),
            request_id=request.scope.get("gateway.request_id", "-"),
            client_ip=request.scope.get("gateway.client_ip") or (request.client.host if request.client else "unknown"),
            limiter=self.limiter,
            login_attempts_per_minute=self.login_attempts_per_minute,
            prices_include_tax=self.prices_include_tax,
            cart_rules=self.cart_rules,
            events=self.events,
            request=request,
            response=response,
        )
        request.scope["gateway.context"] = context
        return context

    async def process_result(self, request: Request | WebSocket, result: ExecutionResult) -> GraphQLHTTPResponse:
        # Tell the access log and metrics which operation this was.
        context = request.scope.get("gateway.context")
        request.scope["gateway.operation"] = getattr(context, "operation_name", None) or "anonymous"
        if result.errors:
            # Parse errors end the operation before the schema's extensions see a result.
            request_id = request.scope.get("gateway.request_id", "-")
            result.errors = [classify(error, request_id) for error in result.errors]
        # For the response cache (gateway/cache_http.py): an answer with errors is never stored,
        # and a stored one is tagged with the catalogue objects it contains.
        request.scope["gateway.result_errors"] = bool(result.errors)
        if context is not None:
            request.scope["gateway.cache_tags"] = context.cache_tags
        return await super().process_result(request, result)

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        response = super().create_response(response_data, sub_response)
        # What every response the cache did not serve or store says; the cache layer replaces
        # these on the responses it handles (RFC 9211 Cache-Status, HTTP caching).
        response.headers["Cache-Status"] = "gateway; fwd=bypass"
        response.headers["Cache-Control"] = "private, no-store"
        response.headers["Vary"] = "Accept, Authorization"
        return response



def _bearer(header: str | None) -> str | None:
    if header and header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return None
