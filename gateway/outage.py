"""503 with Retry-After while the database cannot serve: an outage, not a bug.

GraphQL fields that fail this way are answered by the view (gateway/graphql_view.py, with the
codes from schema/extensions.py); this handler answers the same for anything else that meets the
database outside GraphQL resolution, such as the carrier webhooks, instead of a 500.
"""

from __future__ import annotations

import logging

import asyncpg
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.request_state import request_state
from resolvers.errors import FAULT_MESSAGES, DatabaseUnavailable, database_fault

log = logging.getLogger("gateway.errors")

# A PostgreSQL restart or fail-over takes seconds; clients that wait this long mostly succeed.
RETRY_AFTER_SECONDS = 5
# What a database fault can surface as outside resolution (the handler looks exceptions up by type).
EXCEPTIONS: tuple[type[Exception], ...] = (DatabaseUnavailable, asyncpg.PostgresError, asyncpg.InterfaceError)


async def database_fault_response(request: Request, error: Exception) -> Response:
    """Starlette exception handler: 503 with Retry-After for a database fault; anything else is re-raised."""
    fault = database_fault(error)
    if fault is None:
        raise error
    log.warning(
        "database fault %s request_id=%s path=%s: %s",
        fault,
        request_state(request.scope).request_id,
        request.url.path,
        type(error).__name__,
    )
    body = {"errors": [{"message": FAULT_MESSAGES[fault], "extensions": {"code": fault}}]}
    return JSONResponse(body, 503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
