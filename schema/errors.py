"""How errors reach a GraphQL client as entries of the response's `errors`.

A business refusal (`resolvers.errors.DomainError`) is not one of them: it becomes a `userErrors`
entry (`schema/shared.py`: `UserError`, `attempt`). Anything else becomes an entry of `errors` with
an `extensions.code` from `GraphQLErrorCode`: errors raised on purpose (`GatewayError` and its
kinds), malformed input (`BadInput`), a database that is away or too slow, and, masked, the
unexpected.
"""

from __future__ import annotations

import logging
import math

from graphql import GraphQLError

from resolvers.errors import (
    FAULT_MESSAGES,
    STORAGE_UNAVAILABLE_MESSAGE,
    BadInput,
    GraphQLErrorCode,
    StorageUnavailable,
    database_fault,
)

log = logging.getLogger("gateway.errors")


class GatewayError(GraphQLError):
    """A GraphQL error raised on purpose, carrying its `extensions.code`."""

    code = GraphQLErrorCode.INTERNAL_SERVER_ERROR

    def __init__(self, message: str, code: GraphQLErrorCode | None = None) -> None:
        super().__init__(message, extensions={"code": code or self.code})


class BadUserInput(GatewayError):
    code = GraphQLErrorCode.BAD_USER_INPUT


class Unauthenticated(GatewayError):
    code = GraphQLErrorCode.UNAUTHENTICATED


class Forbidden(GatewayError):
    code = GraphQLErrorCode.FORBIDDEN


class RateLimited(GatewayError):
    code = GraphQLErrorCode.RATE_LIMITED

    def __init__(self, what: str, retry_after: float) -> None:
        self.retry_after_seconds = max(1, math.ceil(retry_after))
        super().__init__(f"Too many {what}: retry in {self.retry_after_seconds} s.")
        self.extensions = {"code": self.code, "retryAfter": round(retry_after, 3)}


def classify(error: GraphQLError, request_id: str) -> GraphQLError:
    """The error as the client sees it: with a code, and masked if it was not meant for the client.

    Errors the client caused keep their message and get a code; anything else is logged with the
    request id and reaches the client only as "Internal server error." with that id.
    """
    original = error.original_error
    if (
        original is not None
        and error.path is None
        and isinstance(original, GraphQLError)
        and not isinstance(original, GatewayError)
    ):
        # Variable coercion: graphql-core wraps the scalar's own complaint ("Int cannot represent
        # non-integer value", or Strawberry's StrawberryInputCoercionError for a DateTime or
        # Decimal that does not parse) in the variable's error. A client mistake, not a crash.
        original = None
    if original is None:
        if error.extensions and "code" in error.extensions:
            return error
        # Parse, validation and variable-coercion errors come from graphql-core with no cause.
        code = (
            GraphQLErrorCode.BAD_USER_INPUT
            if error.message.startswith("Variable")
            else GraphQLErrorCode.GRAPHQL_VALIDATION_FAILED
        )
        if "Document contains more than" in error.message:  # graphql-core's token cap
            code = GraphQLErrorCode.QUERY_TOO_COMPLEX
        if error.path is not None:
            code = GraphQLErrorCode.INTERNAL_SERVER_ERROR
        error.extensions = {**(error.extensions or {}), "code": code}
        return error
    if isinstance(original, GatewayError):
        return GraphQLError(
            original.message, error.nodes, error.source, error.positions, error.path, extensions=original.extensions
        )
    if isinstance(original, BadInput):
        extensions: dict[str, str] = {"code": GraphQLErrorCode.BAD_USER_INPUT}
        if original.field:
            extensions["field"] = original.field
        return GraphQLError(
            original.message, error.nodes, error.source, error.positions, error.path, extensions=extensions
        )
    if isinstance(original, StorageUnavailable):
        # Told as a database outage is (503 with Retry-After), logged in one line with its cause.
        log.warning("media storage fault request_id=%s path=%s: %s", request_id, error.path, original)
        return GraphQLError(
            STORAGE_UNAVAILABLE_MESSAGE,
            error.nodes,
            error.source,
            error.positions,
            error.path,
            extensions={"code": GraphQLErrorCode.SERVICE_UNAVAILABLE, "requestId": request_id},
        )
    fault = database_fault(original)
    if fault is not None:
        # An outage or a statement stopped by its time limit: the client learns which, and the log
        # gets one line (an outage fails every request; a traceback each would drown the log).
        log.warning(
            "database fault %s request_id=%s path=%s: %s", fault, request_id, error.path, type(original).__name__
        )
        return GraphQLError(
            FAULT_MESSAGES[fault],
            error.nodes,
            error.source,
            error.positions,
            error.path,
            extensions={"code": fault, "requestId": request_id},
        )
    log.error(
        "unexpected error request_id=%s path=%s",
        request_id,
        error.path,
        exc_info=(type(original), original, original.__traceback__),
    )
    return GraphQLError(
        "Internal server error.",
        error.nodes,
        error.source,
        error.positions,
        error.path,
        extensions={"code": GraphQLErrorCode.INTERNAL_SERVER_ERROR, "requestId": request_id},
    )
