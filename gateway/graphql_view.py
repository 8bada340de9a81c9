"""Strawberry's ASGI view with our context, GraphQL over HTTP as the spec has it, and persisted queries.

Strawberry executes; the HTTP side is ours. Stock Strawberry answers every GraphQL error with 200
and `application/json`, runs `data: null` on requests that never executed, and turns malformed
requests into plain-text 400s. Here a request is read by `gateway.graphql_http` (the spec's rules,
shared with any layer in front of this view), its document found by `gateway.persisted`, and the
answer negotiated: `application/graphql-response+json` with 4xx for request errors when the client
asks for it, 200 for legacy `application/json` clients, 405 with `Allow` for a mutation over GET,
406 when neither media type is acceptable. WebSockets are Strawberry's own, unchanged.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any, cast

from cross_web import HTTPException
from graphql import GraphQLFormattedError
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.schema import BaseSchema, Schema
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_transport_ws.types import SubscribeMessage
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import StartMessage
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from gateway.disconnect import ClientDisconnected, unless_disconnected
from gateway.events import EventBus
from gateway.graphiql import GraphiQLPage
from gateway.graphql_http import (
    APPLICATION_JSON,
    GraphQLParams,
    RequestError,
    accepts_html,
    is_multipart,
    negotiate,
    not_executed,
    params_from_body,
    params_from_multipart,
    params_from_query_string,
    result_status,
)
from gateway.middleware import bearer_claims, client_key
from gateway.outage import RETRY_AFTER_SECONDS
from gateway.persisted import PersistedQueries
from gateway.ratelimit import CostLimit, Limiter
from gateway.request_state import request_state
from gateway.settings import Network
from gateway.websocket_stats import GRAPHQL_TRANSPORT_WS, GRAPHQL_WS, Connection, WebSocketStats
from loaders import Loaders
from models.changes import Sink
from models.error_codes import GraphQLErrorCode
from resolvers import accounts, outbox
from resolvers.account_tokens import LinkRules
from resolvers.accounts import TokenRules
from resolvers.cart import CartRules
from resolvers.media import MediaStorage
from resolvers.media_images import Limits as MediaLimits
from schema.context import Context
from schema.errors import classify
from schema.uploads import upload_permissions

# What every response says unless the response cache handled it (gateway/cache_http.py replaces
# these on the responses it serves or stores): RFC 9211's Cache-Status, and not for shared caches.
CACHE_STATUS = "gateway; fwd=bypass"
CACHE_CONTROL = "private, no-store"
_METHODS = "GET, POST"
# A multipart upload's parts: a handful of files per mutation, and `operations` and `map` besides.
MAX_UPLOAD_FILES = 10
MAX_UPLOAD_FIELDS = 2
INVALID_TOKEN = (
    "The access token is not valid or has expired: refresh it, sign in again, or send no Authorization header."
)


class LegacyWSHandler(BaseGraphQLWSHandler[Context, None]):
    """The legacy graphql-ws protocol has no connection_init deadline: give it graphql-transport-ws's.
    Its connection and operations are counted and logged (gateway/websocket_stats.py)."""

    tally: Connection

    async def handle(self) -> None:
        view = cast("GatewayGraphQL", self.view)
        with view.websocket_stats.connection(GRAPHQL_WS) as self.tally:
            deadline = asyncio.create_task(self._close_unless_initialised())
            try:
                await super().handle()
            finally:
                deadline.cancel()

    async def handle_start(self, message: StartMessage) -> None:
        self.tally.operation(message.get("id"), message.get("payload", {}).get("operationName"))
        await super().handle_start(message)

    async def _close_unless_initialised(self) -> None:
        await asyncio.sleep(self.view.connection_init_wait_timeout.total_seconds())
        if not self.connection_acknowledged:
            await self.websocket.close(code=4408, reason="Connection initialisation timeout")


class TransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws, without a logged traceback each time a client leaves mid-event; its
    connection and operations counted and logged (gateway/websocket_stats.py)."""

    tally: Connection

    async def handle(self) -> None:
        view = cast("GatewayGraphQL", self.view)
        with view.websocket_stats.connection(GRAPHQL_TRANSPORT_WS) as self.tally:
            await super().handle()

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        self.tally.operation(message.get("id"), message.get("payload", {}).get("operationName"))
        await super().handle_subscribe(message)

    async def handle_task_exception(self, error: Exception) -> None:
        # A subscriber that closes its connection while an event is on its way is normal (a tab
        # closed); Strawberry logs it as a task failure, which buried real errors (the soak saw
        # four in ten minutes). The operation is cleaned up either way.
        if not isinstance(error, WebSocketDisconnected):
            await super().handle_task_exception(error)


class GatewayGraphQL(GraphQL[Context, None]):
    graphql_ws_handler_class = LegacyWSHandler
    graphql_transport_ws_handler_class = TransportWSHandler

    def __init__(
        self,
        schema: BaseSchema,
        *,
        currency: str,
        secret_key: str,
        graphiql: bool,
        websocket_origins: tuple[str, ...] = (),
        limiter: Limiter | None = None,
        login_attempts_per_minute: int = 10,
        prices_include_tax: bool = True,
        cart_rules: CartRules = CartRules(),
        events: EventBus | None = None,
        announce: Sink | None = None,
        max_subscriptions: int = 20,
        init_timeout_seconds: float = 10.0,
        persisted: PersistedQueries | None = None,
        token_rules: TokenRules = TokenRules(),
        link_rules: LinkRules = LinkRules(),
        cost_limit: CostLimit | None = None,
        trusted_proxies: tuple[Network, ...] = (),
        websocket_stats: WebSocketStats | None = None,
        webhook_allow_private: bool = False,
        media: MediaStorage | None = None,
        media_limits: MediaLimits | None = None,
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
        # WebSocket limits: operations in flight per connection (both protocols), and how long a
        # graphql-transport-ws client may take to send connection_init.
        self.max_subscriptions_per_connection = max_subscriptions
        self.connection_init_wait_timeout = timedelta(seconds=init_timeout_seconds)
        self.persisted = persisted if persisted is not None else PersistedQueries()
        self.token_rules = token_rules
        self.link_rules = link_rules
        # Our own page (gateway/graphiql.py) in place of Strawberry's, which loads from a CDN.
        self.graphiql_page = GraphiQLPage() if graphiql else None
        self.cost_limit = cost_limit
        self.trusted_proxies = trusted_proxies
        self.websocket_stats = websocket_stats if websocket_stats is not None else WebSocketStats()
        self.webhook_allow_private = webhook_allow_private
        self.media = media  # uploaded media's storage, and what an upload may be
        self.media_limits = media_limits
        # Who may send a multipart body at all: staff holding a permission some upload field needs.
        self.upload_permissions = upload_permissions(schema) if isinstance(schema, Schema) else frozenset()

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        # The request's task (and, on a WebSocket, every operation's task started from it) hands
        # what its transactions commit to the announcer.
        outbox.use_sink(self.announce)
        state = request_state(request.scope)
        # A WebSocket's context does not keep the socket: the cycle
        # scope -> context -> socket -> scope (and executor -> context -> socket, graphql-core's
        # executors being cycles of their own) left every closed connection, its socket, buffers
        # and compression state, to the full collections the tuned collector makes rare (the soak).
        http = not isinstance(request, WebSocket)
        cost_bucket = None
        if http and self.cost_limit is not None:
            # The same client as the request limiter counts (and now `state.client_ip` is known).
            cost_bucket = self.cost_limit.bucket(client_key(request.scope, self.trusted_proxies, self.secret_key))
        context = Context(
            currency=self.currency,
            secret_key=self.secret_key,
            access_token=_bearer(request.headers.get("authorization")),
            request_id=state.request_id,
            client_ip=state.client_ip or (request.client.host if request.client else "unknown"),
            limiter=self.limiter,
            login_attempts_per_minute=self.login_attempts_per_minute,
            token_rules=self.token_rules,
            link_rules=self.link_rules,
            prices_include_tax=self.prices_include_tax,
            cart_rules=self.cart_rules,
            webhook_allow_private=self.webhook_allow_private,
            events=self.events,
            request=request if http else None,
            response=response if http else None,
            cost_bucket=cost_bucket,
            shared_answer=state.shared,
            media=self.media,
        )
        if self.media_limits is not None:
            context.media_limits = self.media_limits
        return context

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        if result.errors:
            # Parse errors end the operation before the schema's extensions see a result.
            request_id = request_state(request.scope).request_id
            result.errors = [classify(error, request_id) for error in result.errors]
        return await super().process_result(request, result)

    # --- HTTP ---------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)  # WebSockets: Strawberry's protocols
            return
        request = Request(scope, receive)
        media_type = APPLICATION_JSON
        try:
            if request.method not in ("GET", "POST"):
                raise RequestError(
                    405,
                    f"GraphQL is served over {_METHODS} only.",
                    GraphQLErrorCode.METHOD_NOT_ALLOWED,
                    headers={"Allow": _METHODS},
                )
            if "authorization" in request.headers and bearer_claims(scope, self.secret_key) is None:
                # A malformed, forged or expired bearer (or another scheme) is refused before
                # anything runs, as Saleor refuses a bad JWT and RFC 6750 says: the client knows to
                # refresh, and a made-up header (which the response cache, serving anonymous
                # requests only, lets through) costs no execution. A session signed out or an
                # account deactivated needs a lookup: found out during execution, as anonymous.
                raise RequestError(
                    401,
                    INVALID_TOKEN,
                    GraphQLErrorCode.UNAUTHENTICATED,
                    headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
                )
            if self._wants_graphiql(request):
                await (await self.render_graphql_ide(request))(scope, receive, send)
                return
            negotiated = negotiate(request.headers.get("accept"))
            if negotiated is None:
                raise RequestError(
                    406,
                    "Accept application/graphql-response+json or application/json.",
                    GraphQLErrorCode.NOT_ACCEPTABLE,
                )
            media_type = negotiated
            response = await self._execute(request, media_type)
        except RequestError as error:
            response = self._error_response(error, media_type)
        except HTTPException as error:  # from Strawberry's own checks
            response = self._error_response(RequestError(error.status_code, error.reason), media_type)
        except ClientDisconnected:
            # Nobody reads this (the server drops it): it gives the access log and metrics
            # nginx's status for a request its client closed, rather than a 500.
            response = self._error_response(
                RequestError(499, "The client closed the request.", GraphQLErrorCode.CLIENT_CLOSED_REQUEST), media_type
            )
        await response(scope, receive, send)

    async def render_graphql_ide(self, request: Request) -> Response:
        assert self.graphiql_page is not None  # only asked for when GraphiQL is on
        return self.graphiql_page.response()

    def _wants_graphiql(self, request: Request) -> bool:
        # A browser opening the endpoint. `*/*` does not count (Strawberry's rule): Apollo's link
        # sends it on hash-only GETs, which carry no `query` either and must reach execution.
        params = request.query_params
        return (
            self.graphql_ide is not None
            and request.method == "GET"
            and "query" not in params
            and "extensions" not in params
            and accepts_html(request.headers.get("accept"))
        )

    async def _execute(self, request: Request, media_type: str) -> Response:
        if request.method == "GET":
            return await self._answer(request, media_type, params_from_query_string(request.query_params))
        content_type = request.headers.get("content-type")
        if not is_multipart(content_type):
            return await self._answer(request, media_type, params_from_body(content_type, await request.body()))
        # A file upload: refused to anyone who could not use it before a byte of the body is read.
        await self._admit_upload(request)
        form = await self._upload_form(request)
        try:
            files = {name: value for name, value in form.multi_items() if isinstance(value, UploadFile)}
            params = params_from_multipart(form.get("operations"), form.get("map"), files)
            return await self._answer(request, media_type, params, uploads=True)
        finally:
            await form.close()  # the spooled files, on disk past a megabyte, go with the request

    async def _admit_upload(self, request: Request) -> None:
        """Only signed-in, active staff holding a permission some upload field needs may send a
        multipart body; each field still checks its own permission before it stores anything.

        Multipart forms are what an HTML form on another site can post (CSRF): Apollo Server asks
        for a preflight header on them, Strawberry turns them off by default. Here the bearer token
        this requires is that header: a browser sends `Authorization` cross-origin only after a
        CORS preflight (CORS_ALLOWED_ORIGINS), and the gateway has no cookies to ride on.
        """
        token = _bearer(request.headers.get("authorization"))
        account = None
        if token is not None:
            account = await accounts.viewer(Loaders(), token, self.secret_key, self.token_rules.revoked)
        if account is None:
            raise RequestError(
                401,
                "File uploads need a staff access token: send `Authorization: Bearer …`.",
                GraphQLErrorCode.UNAUTHENTICATED,
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not any(account.has_permission(permission) for permission in self.upload_permissions):
            needed = " or ".join(sorted(self.upload_permissions)) or "a permission no field asks for"
            raise RequestError(403, f"File uploads need the {needed} permission.", GraphQLErrorCode.FORBIDDEN)

    async def _upload_form(self, request: Request) -> FormData:
        """The multipart body, its files spooled to temporary files (in memory up to 1 MB each)."""
        try:
            return await request.form(max_files=MAX_UPLOAD_FILES, max_fields=MAX_UPLOAD_FIELDS)
        except (MultiPartException, StarletteHTTPException) as error:
            detail = error.message if isinstance(error, MultiPartException) else error.detail
            raise RequestError(400, f"The multipart body cannot be read: {detail}") from None

    async def _answer(
        self, request: Request, media_type: str, params: GraphQLParams, *, uploads: bool = False
    ) -> Response:
        resolved = await self.persisted.resolve(params.query, params.extensions)

        sub_response = await self.get_sub_response(request)
        context = await self.get_context(request, response=sub_response)
        # The body is read: from here a client that disconnects cancels the execution and with
        # it any statement in progress.
        result = await unless_disconnected(
            request.receive, self._run_operation(request, params, resolved.document, context, uploads)
        )
        state = request_state(request.scope)
        # Tell the access log and metrics which operation this was.
        state.operation = context.operation_name or "anonymous"
        response_data = await self.process_result(request, result)
        # For the response cache (gateway/cache_http.py): an answer with errors is never stored,
        # and a stored one is tagged with the catalogue objects it contains.
        state.result_errors = bool(result.errors)
        state.cache_tags = context.cache_tags
        if result.errors:
            self._handle_errors(result.errors, response_data)

        # Strawberry types the entries as `object`; process_result made them GraphQLError.formatted.
        errors = cast("list[GraphQLFormattedError]", response_data.get("errors") or [])
        executed = not not_executed(result.data, errors)
        if not executed:
            # GraphQL spec: an error raised before execution began leaves no `data` entry.
            response_data.pop("data", None)
        elif resolved.register:
            await self.persisted.register(resolved)
        codes = [e.get("extensions", {}).get("code") for e in errors]
        status = result_status(media_type, executed, codes)
        if GraphQLErrorCode.SERVICE_UNAVAILABLE in codes:
            # The database cannot be reached: an outage to wait out, whatever else succeeded.
            status = 503
            sub_response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        if sub_response.status_code:  # a resolver chose one
            status = sub_response.status_code
        return self._json_response(response_data, status, media_type, sub_response)

    async def _run_operation(
        self, request: Request, params: GraphQLParams, document: str, context: Context, uploads: bool
    ) -> ExecutionResult:
        if uploads:
            allowed = {OperationType.MUTATION}  # a query has nothing to do with a file
        else:
            # Only GET and POST get this far (`__call__` answers any other method with 405).
            allowed = OperationType.from_http("GET" if request.method == "GET" else "POST")
        try:
            return await self.schema.execute(
                document,
                variable_values=params.variables,
                context_value=context,
                operation_name=params.operation_name,
                allowed_operation_types=allowed,
                operation_extensions=params.extensions,
            )
        except InvalidOperationTypeError as error:
            if request.method == "GET":
                # Spec: a mutation over GET is 405 with the method that would work.
                raise RequestError(
                    405,
                    f"{error.operation_type.value.capitalize()}s cannot be sent over GET: use POST.",
                    GraphQLErrorCode.METHOD_NOT_ALLOWED,
                    headers={"Allow": "POST"},
                ) from None
            if uploads:
                raise RequestError(400, "Only a mutation can be sent as a multipart request (with files).") from None
            raise RequestError(
                400, f"{error.operation_type.value.capitalize()}s cannot be sent over {request.method}."
            ) from None
        except CannotGetOperationTypeError as error:
            # A GraphQL request error (which operation to run is unknown), not a malformed request.
            raise RequestError(
                400, error.as_http_error_reason(), GraphQLErrorCode.OPERATION_RESOLUTION_FAILURE, legacy_status=200
            ) from None

    def _json_response(self, body: Any, status: int, media_type: str, sub_response: Response | None = None) -> Response:
        response = Response(self.encode_json(body), status_code=status, media_type=media_type)
        if sub_response is not None:
            # Headers a resolver set (Strawberry's sub-response), e.g. Retry-After.
            response.headers.raw.extend(sub_response.headers.raw)
            if sub_response.background:
                response.background = sub_response.background
        response.headers["Cache-Status"] = CACHE_STATUS
        response.headers["Cache-Control"] = CACHE_CONTROL
        # The same URL answers differently per Accept and per caller: caches must keep them apart.
        response.headers.append("Vary", "Accept, Authorization")
        return response

    def _error_response(self, error: RequestError, media_type: str) -> Response:
        response = self._json_response(error.body(), error.status_for(media_type), media_type)
        for name, value in error.headers.items():
            response.headers[name] = value
        return response


def _bearer(header: str | None) -> str | None:
    if header and header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return None
