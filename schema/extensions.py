"""Schema extensions: error codes and masking, and the operation name for logs and metrics.

Turning exceptions into GraphQL errors with `extensions.code`, and masking the unexpected:

Errors the client caused keep their message and get a code; anything else is logged with the
request id and reaches the client only as "Internal server error." with that id.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import FieldExtension, SchemaExtension
from strawberry.types import Info

from resolvers.errors import FAULT_MESSAGES, BadInput, database_fault
from schema.context import Context

log = logging.getLogger("gateway.errors")


class GatewayError(GraphQLError):
    """A GraphQL error raised on purpose, carrying its `extensions.code`."""

    code = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message, extensions={"code": code or self.code})


class BadUserInput(GatewayError):
    code = "BAD_USER_INPUT"


def classify(error: GraphQLError, request_id: str) -> GraphQLError:
    """The error as the client sees it: with a code, and masked if it was not meant for the client."""
    original = error.original_error
    if original is not None and error.path is None and isinstance(original, GraphQLError) and not isinstance(original, GatewayError):
        # Variable coercion: graphql-core wraps the scalar's own complaint ("Int cannot represent
        # non-integer value", or Strawberry's StrawberryInputCoercionError for a DateTime or
        # Decimal that does not parse) in the variable's error. A client mistake, not a crash.
        original = None
    if original is None:
        if error.extensions and "code" in error.extensions:
            return error
        # Parse, validation and variable-coercion errors come from graphql-core with no cause.
        code = "BAD_USER_INPUT" if error.message.startswith("Variable") else "GRAPHQL_VALIDATION_FAILED"
        if "Document contains more than" in error.message:  # graphql-core's token cap
            code = "QUERY_TOO_COMPLEX"
        if error.path is not None:
            code = "INTERNAL_SERVER_ERROR"
        error.extensions = {**(error.extensions or {}), "code": code}
        return error
    if isinstance(original, GatewayError):
        return GraphQLError(original.message, error.nodes, error.source, error.positions, error.path,
                            extensions=original.extensions)
    if isinstance(original, BadInput):
        extensions = {"code": "BAD_USER_INPUT"}
        if original.field:
            extensions["field"] = original.field
        return GraphQLError(original.message, error.nodes, error.source, error.positions, error.path,
                            extensions=extensions)
    fault = database_fault(original)
    if fault is not None:
        # An outage or a statement stopped by its time limit: the client learns which, and the log
        # gets one line (an outage fails every request; a traceback each would drown the log).
        log.warning("database fault %s request_id=%s path=%s: %s", fault, request_id, error.path,
                    type(original).__name__)
        return GraphQLError(FAULT_MESSAGES[fault], error.nodes, error.source, error.positions, error.path,
                            extensions={"code": fault, "requestId": request_id})
    log.error(
        "unexpected error request_id=%s path=%s", request_id, error.path,
        exc_info=(type(original), original, original.__traceback__),
    )
    return GraphQLError(
        "Internal server error.", error.nodes, error.source, error.positions, error.path,
        extensions={"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
    )


class ErrorCodes(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if result is None or not errors:
            return
        context = self.execution_context.context
        request_id = getattr(context, "request_id", "-")
        result.errors = [classify(error, request_id) for error in errors]



class OperationName(SchemaExtension):
    """Records the executed operation's name on the context, for the access log and metrics."""

    def on_operation(self) -> Iterator[None]:
        yield
        context = self.execution_context.context
        if hasattr(context, "operation_name"):
            context.operation_name = self.execution_context.operation_name or "anonymous"


class FreshLoaders(SchemaExtension):
    """A new dataloader registry (and a fresh look at the signed-in account) for every operation.

    Over HTTP that is once per request; over a WebSocket the context lives as long as the
    connection, and loaders kept that long would serve stale rows (and bind an old event loop).
    """

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        if isinstance(context, Context):
            context.start_operation()
        yield


class FreshLoadersPerMutation(FieldExtension):
    """A new dataloader registry for each root mutation field.

    The fields of a mutation run one after another, and each answers with the state its change
    left: with one registry for the whole operation, a second `cartLinesAdd` in the same request
    answered with the cart lines the first one had loaded. Put on every root mutation field
    (schema/root.py), so no query field pays for it.
    """

    def resolve(self, next_: Callable[..., Any], source: Any, info: Info, **kwargs: Any) -> Any:
        _fresh_loaders(info.context)
        return next_(source, info, **kwargs)

    async def resolve_async(self, next_: Callable[..., Awaitable[Any]], source: Any, info: Info, **kwargs: Any) -> Any:
        _fresh_loaders(info.context)
        return await next_(source, info, **kwargs)


def _fresh_loaders(context: Any) -> None:
    if isinstance(context, Context):
        context.fresh_loaders()
