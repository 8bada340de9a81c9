"""What every resolver receives as `info.context`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from loaders import Loaders
from models import Account
from resolvers import accounts

_UNSET: Any = object()


@dataclass
class Context:
    currency: str
    secret_key: str = ""
    access_token: str | None = None  # the bearer token of the request, if any
    request_id: str = "-"
    operation_name: str | None = None
    request: Any = None
    response: Any = None
    loaders: Loaders = field(default_factory=Loaders)
    _viewer: Any = _UNSET

    async def viewer(self) -> Account | None:
        """The signed-in account, resolved once per operation and only when a field asks."""
        if self._viewer is _UNSET:
            self._viewer = await accounts.viewer(self.loaders, self.access_token, self.secret_key)
        return self._viewer

    def start_operation(self) -> None:
        self.loaders = Loaders()
        self._viewer = _UNSET
