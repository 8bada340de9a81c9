"""What every resolver receives as `info.context`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from loaders import Loaders
from models import Account
from resolvers import accounts
from resolvers.cart import CartRules

_UNSET: Any = object()


@dataclass
class Context:
    currency: str
    secret_key: str = ""
    access_token: str | None = None  # the bearer token of the request, if any
    request_id: str = "-"
    client_ip: str = "unknown"
    limiter: Any = None  # gateway.ratelimit.Limiter
    login_attempts_per_minute: int = 10
    token_rules: accounts.TokenRules = field(default_factory=accounts.TokenRules)
    prices_include_tax: bool = True
    cart_rules: CartRules = field(default_factory=CartRules)
    operation_name: str | None = None
    events: Any = None  # gateway.events.EventBus: what subscriptions listen to
    connection_params: dict[str, Any] | None = None  # a WebSocket's connection_init payload
    request: Any = None
    response: Any = None
    loaders: Loaders = field(default_factory=Loaders)
    # What this request's answer contains, for the response cache's invalidation
    # (resolvers/catalogue_changes.py names them); the catalogue's view builders add to it.
    cache_tags: set[str] = field(default_factory=set)
    _viewer: Any = _UNSET

    async def viewer(self) -> Account | None:
        """The signed-in account, resolved once per operation and only when a field asks."""
        if self._viewer is _UNSET:
            self._viewer = await accounts.viewer(self.loaders, self.credentials(), self.secret_key, self.token_rules.revoked)
        return self._viewer

    async def fresh_viewer(self) -> Account | None:
        """The signed-in account as it is now: token expiry, sign-out, deactivation and rights
        looked at again (one read by primary key). A subscription asks before every event."""
        self._viewer = await accounts.viewer(Loaders(), self.credentials(), self.secret_key, self.token_rules.revoked)
        return self._viewer

    def credentials(self) -> str | None:
        """The caller's access token: the request's bearer token or, on a WebSocket, the one sent
        as `{"authorization": "Bearer …"}` in connection_init."""
        if self.access_token:
            return self.access_token
        value = (self.connection_params or {}).get("authorization")
        if isinstance(value, str) and value[:7].lower() == "bearer ":
            return value[7:].strip() or None
        return None

    def start_operation(self) -> None:
        self.fresh_loaders()
        self._viewer = _UNSET

    def fresh_loaders(self) -> None:
        """Forget every row loaded so far (a new operation, or the next root mutation field)."""
        self.loaders = Loaders()

    async def throttle_sign_in(self, email: str) -> float | None:
        """Seconds to wait when this address has tried to sign in too often, to this account or at all.

        Keyed by address and account together: a guesser elsewhere cannot lock the owner out. The
        account alone has a ten times higher ceiling, against guessing spread over many addresses.
        """
        if self.limiter is None:
            return None
        per_minute = self.login_attempts_per_minute
        account = email.strip().lower()
        waits = [
            await self.limiter.take(f"sign-in:{self.client_ip}:{account}", per_minute / 60, per_minute),
            # One address may serve several people (an office, a phone carrier): a looser limit.
            await self.limiter.take("sign-in-ip:" + self.client_ip, 3 * per_minute / 60, 3 * per_minute),
            await self.limiter.take("sign-in-email:" + account, 10 * per_minute / 60, 10 * per_minute),
        ]
        refused = [wait for wait in waits if wait is not None]
        return max(refused) if refused else None
