"""A relation that is loaded only if a query actually reads it.

Where nothing was loaded ahead, a field may hold a `Lazy`: graphql-core awaits whatever a field
returns that is awaitable, and only then does the dataloader get the key, batched with its siblings.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Hashable
from typing import Any, Generic, TypeVar

from aiodataloader import DataLoader

V = TypeVar("V")
T = TypeVar("T")


class Lazy(Generic[V, T]):
    """Awaiting it loads `key` through `loader` and gives `convert` of the loaded value."""

    __slots__ = ("_convert", "_key", "_loader")

    def __init__(self, loader: DataLoader[Any, V], key: Hashable, convert: Callable[[V], T]) -> None:
        self._loader = loader
        self._key = key
        self._convert = convert

    def __await__(self) -> Generator[Any, None, T]:
        return self._resolve().__await__()

    async def _resolve(self) -> T:
        return self._convert(await self._loader.load(self._key))
