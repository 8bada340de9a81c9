"""What every resolver receives as `info.context`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from loaders import Loaders


@dataclass
class Context:
    currency: str
    request_id: str = "-"
    operation_name: str | None = None
    request: Any = None
    response: Any = None
    loaders: Loaders = field(default_factory=Loaders)
