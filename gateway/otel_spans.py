"""What the gateway adds to its traces: the GraphQL operation's span, and the request span's details.

OpenTelemetry's instrumentation knows HTTP, SQL and Redis; only the gateway knows which GraphQL
operation a request ran, what it cost and what the response cache did with it. Attribute names
follow OpenTelemetry's GraphQL conventions where they have one (`graphql.operation.name`,
`graphql.operation.type`) and are the gateway's own otherwise:

- `gateway.cache_status`: what `Cache-Status` says, without the cache's name: `hit`,
  `fwd=miss; stored`, `fwd=miss` or `fwd=bypass` on the request; on the operation, `fwd=miss`
  (the response cache asked for it) or `fwd=bypass`;
- `gateway.query_cost`: the operation's cost as `extensions.cost` reports it;
- `gateway.request_id`: the request's `X-Request-Id`, to go from a trace to the access log.
"""

from __future__ import annotations

from collections.abc import Iterator

from opentelemetry import context, trace
from opentelemetry.trace import Span, Tracer
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension
from strawberry.utils.operation import get_operation_type

from gateway.request_state import KEY, RequestState

CACHE_STATUS = "gateway.cache_status"
QUERY_COST = "gateway.query_cost"
REQUEST_ID = "gateway.request_id"
OPERATION_NAME = "graphql.operation.name"
OPERATION_TYPE = "graphql.operation.type"
UNNAMED = "GraphQL Operation"  # the conventions' span name while the operation is not known yet
_CACHE_NAME = "gateway; "


class RequestSpanDetails:
    """Pure ASGI, just inside OpenTelemetry's middleware: when a response starts, its request span
    gets the request id, the operation and the cache status (a cache hit included, which never
    reaches GraphQL). Installed only with tracing on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        span = trace.get_current_span()
        if scope["type"] != "http" or not span.is_recording():
            await self.app(scope, receive, send)
            return

        async def send_described(message: Message) -> None:
            if message["type"] == "http.response.start":
                _describe_request(span, scope.get(KEY), message)
            await send(message)

        await self.app(scope, receive, send_described)


def _describe_request(span: Span, state: RequestState | None, start: Message) -> None:
    for name, value in start.get("headers", ()):
        if name == b"cache-status":
            span.set_attribute(CACHE_STATUS, value.decode("latin-1").removeprefix(_CACHE_NAME))
    if state is not None:
        span.set_attribute(REQUEST_ID, state.request_id)
        if state.operation:
            span.set_attribute(OPERATION_NAME, state.operation)


class OperationSpan(SchemaExtension):
    """A span around each GraphQL operation: parsing, validation, limits and execution.

    Over HTTP it is the current span while the operation runs, so the SQL statements and Redis
    commands of its resolvers are its children. A WebSocket operation's span is not made current:
    a subscription's generator may be closed from another task, where the context it attached
    could not be detached; its statements stay children of the connection's span.
    """

    def __init__(self, tracer: Tracer) -> None:
        super().__init__()
        self.tracer = tracer

    def on_operation(self) -> Iterator[None]:
        span = self.tracer.start_span(UNNAMED)
        request = getattr(self.execution_context.context, "request", None)  # None on a WebSocket
        token = context.attach(trace.set_span_in_context(span)) if request is not None else None
        try:
            yield
        finally:
            if token is not None:
                context.detach(token)
            if span.is_recording():
                self._describe(span, request)
            span.end()

    def _describe(self, span: Span, request: object) -> None:
        execution = self.execution_context
        name = execution.operation_name
        kind = None
        if execution.graphql_document is not None:
            try:
                kind = get_operation_type(execution.graphql_document, name).value
            except RuntimeError:  # no operation of that name: the result says so
                kind = None
        if kind is not None:
            span.set_attribute(OPERATION_TYPE, kind)
            span.update_name(f"{kind} {name}" if name else kind)
        if name:
            span.set_attribute(OPERATION_NAME, name)
        cost = getattr(execution.context, "query_cost", None)
        if isinstance(cost, int):
            span.set_attribute(QUERY_COST, cost)
        scope = getattr(request, "scope", None)
        if scope is not None:
            state = scope.get(KEY)
            forwarded = state.cache_status if isinstance(state, RequestState) else None
            span.set_attribute(CACHE_STATUS, forwarded or "fwd=bypass")
