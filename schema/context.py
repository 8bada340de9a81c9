"""What every resolver receives as `info.context`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from loaders import Loaders
from models import Account
from models.changes import Message
from resolvers import accounts
from resolvers.account_tokens import LinkRules
from resolvers.cart import CartRules
from resolvers.media import MediaStorage
from resolvers.media_images import Limits as MediaLimits
from resolvers.sign_in import Limiter, email_link_wait, sign_in_wait


class Feed(Protocol):
    """One subscriber's bus messages (gateway/events.py's Subscription): iterate it, close it when done."""

    def __aiter__(self) -> AsyncIterator[Message]: ...

    async def __anext__(self) -> Message: ...

    def close(self) -> None: ...


class Events(Protocol):
    """The event bus as subscriptions see it (gateway/events.py)."""

    def subscribe(self, topics: Iterable[str]) -> Feed: ...


class CostBucket(Protocol):
    """The client's bucket of query cost points (gateway/ratelimit.py), for schema/cost_limit.py."""

    @property
    def size(self) -> int: ...

    @property
    def restore_rate(self) -> float: ...

    async def charge(self, cost: int) -> float | None:
        """None when `cost` points were taken, else the seconds until the bucket holds them."""

    def refund(self, points: int) -> None: ...

    def available(self) -> float: ...


class _Unset:
    """The viewer not looked up yet (None is a valid answer: nobody is signed in)."""


_UNSET = _Unset()


@dataclass
class Context:
    currency: str
    secret_key: str = ""
    access_token: str | None = None  # the bearer token of the request, if any
    request_id: str = "-"
    client_ip: str = "unknown"
    limiter: Limiter | None = None  # gateway/ratelimit.py's buckets, for sign-in throttling
    login_attempts_per_minute: int = 10
    token_rules: accounts.TokenRules = field(default_factory=accounts.TokenRules)
    link_rules: LinkRules = field(default_factory=LinkRules)  # links sent by email (resolvers/account_tokens.py)
    prices_include_tax: bool = True
    cart_rules: CartRules = field(default_factory=CartRules)
    webhook_allow_private: bool = False  # WEBHOOK_ALLOW_PRIVATE_TARGETS: http and private addresses allowed
    operation_name: str | None = None
    query_cost: int | None = None  # the operation's cost (schema/limits.py), for its trace span
    events: Events | None = None  # what subscriptions listen to
    connection_params: dict[str, Any] | None = None  # a WebSocket's connection_init payload
    request: Request | WebSocket | None = None
    response: Response | WebSocket | None = None  # over HTTP, where resolvers set headers
    loaders: Loaders = field(default_factory=Loaders)
    # Over HTTP with cost limiting on: the bucket this client's operations draw their cost from.
    cost_bucket: CostBucket | None = None
    # The response cache may give this answer to other clients: it must say nothing about this one.
    shared_answer: bool = False
    # What this request's answer contains, for the response cache's invalidation
    # (resolvers/catalogue_changes.py names them); the catalogue's builders add to it.
    cache_tags: set[str] = field(default_factory=set)
    # Uploaded media: where they are kept (gateway/media_storage.py) and what an upload may be.
    media: MediaStorage | None = None
    media_limits: MediaLimits = field(default_factory=lambda: MediaLimits(10 * 1024 * 1024, 40_000_000))
    _viewer: Account | _Unset | None = _UNSET

    async def viewer(self) -> Account | None:
        """The signed-in account, resolved once per operation and only when a field asks."""
        if isinstance(self._viewer, _Unset):
            self._viewer = await accounts.viewer(
                self.loaders, self.credentials(), self.secret_key, self.token_rules.revoked
            )
        return self._viewer

    async def fresh_viewer(self) -> Account | None:
        """The signed-in account as it is now: token expiry, sign-out, deactivation and rights
        looked at again (one read by primary key). A subscription asks before every event."""
        viewer = await accounts.viewer(Loaders(), self.credentials(), self.secret_key, self.token_rules.revoked)
        self._viewer = viewer
        return viewer

    def credentials(self) -> str | None:
        """The caller's access token: the request's (or WebSocket handshake's) bearer token, else
        one sent in connection_init (`connection_token`)."""
        if self.access_token:
            return self.access_token
        return connection_token(self.connection_params or {})

    def start_operation(self) -> None:
        self.fresh_loaders()
        self._viewer = _UNSET

    def fresh_loaders(self) -> None:
        """Forget every row loaded so far (a new operation, or the next root mutation field)."""
        self.loaders = Loaders()

    async def throttle_sign_in(self, email: str) -> float | None:
        """Seconds to wait when this caller has tried to sign in too often (resolvers/sign_in.py)."""
        return await sign_in_wait(self.limiter, self.client_ip, email, self.login_attempts_per_minute)

    async def throttle_email_links(self, email: str) -> float | None:
        """Seconds to wait when this caller has asked for too many links by email (resolvers/sign_in.py)."""
        return await email_link_wait(self.limiter, self.client_ip, email, self.login_attempts_per_minute)


def connection_token(payload: dict[str, Any]) -> str | None:
    """The access token of a connection_init payload, in the forms common clients send:
    `{"authorization": "Bearer …"}` (any case, as HTTP header names), the same under `headers`
    (Apollo's and graphql-ws' examples), or `{"authToken": "…"}` with or without `Bearer `."""
    headers = payload.get("headers")
    for source in (payload, headers if isinstance(headers, dict) else {}):
        for key, value in source.items():
            if isinstance(key, str) and key.lower() == "authorization":
                return _bearer(value)
    token = payload.get("authToken")
    if isinstance(token, str) and token[:7].lower() != "bearer ":
        return token.strip() or None
    return _bearer(token)


def _bearer(value: object) -> str | None:
    if isinstance(value, str) and value[:7].lower() == "bearer ":
        return value[7:].strip() or None
    return None
