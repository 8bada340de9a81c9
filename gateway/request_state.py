"""What the layers of one HTTP request tell each other: one typed record under one ASGI scope key.

The request middleware names the request, the rate limiter finds the client and verifies its
bearer token once, the GraphQL view records the operation, whether its result had errors and the
catalogue objects it showed; the response cache stores by them, and the access log and metrics
read the operation. Anything that reads the record before its writer ran sees the defaults.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import Scope

from resolvers.accounts import AccessClaims

KEY = "gateway"  # the one scope key: the ASGI spec leaves keys to applications, namespaced


@dataclass(slots=True)
class RequestState:
    request_id: str = "-"
    client_ip: str | None = None  # the client's address, trusted proxies applied (gateway/ratelimit.py)
    client_key: str | None = None  # whom the limiters count it against (gateway/middleware.py)
    bearer_checked: bool = False  # whether `bearer` holds the verified Authorization header's answer
    bearer: AccessClaims | None = None  # the claims of a valid, unexpired bearer token
    operation: str | None = None  # the GraphQL operation's name, for the access log, metrics and cache
    result_errors: bool | None = None  # None: no GraphQL result was produced (nothing to store)
    cache_tags: set[str] | None = None  # the catalogue objects the answer shows (resolvers/catalogue_changes.py)
    shared: bool = False  # the response cache may store the answer for others: nothing in it about this client
    cache_status: str | None = None  # "fwd=miss" when the response cache had the view execute (tracing)


def request_state(scope: Scope) -> RequestState:
    """The request's record, made on first use (the request middleware makes it, when installed)."""
    state: RequestState | None = scope.get(KEY)
    if state is None:
        state = scope[KEY] = RequestState()
    return state
