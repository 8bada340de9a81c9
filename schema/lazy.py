"""A relation that is loaded only if a query actually reads it.

List resolvers put already-loaded values on the objects they return, so nested fields are plain
attributes and cost graphql-core no task. Where nothing was loaded ahead (`node(id)`, a single
product) the attribute holds a `Lazy` instead: graphql-core awaits whatever a field returns that
is awaitable, and only then does the dataloader get the key, batched with its siblings.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Hashable
from typing import Any

from aiodataloader import DataLoader


class Lazy:
    __slots__ = ("_convert", "_key", "_loader")

    def __init__(self, loader: DataLoader, key: Hashable, convert: Callable[[Any], Any]) -> None:
        self._loader = loader
        self._key = key
        self._convert = convert

    def __await__(self) -> Generator[Any, None, Any]:
        return self._resolve().__await__()

    async def _resolve(self) -> Any:
        return self._convert(await self._loader.load(self._key))


class LazyMany(Lazy):
    """The same for a list of keys (category ancestors)."""

    __slots__ = ()

    async def _resolve(self) -> Any:
        return self._convert(await self._loader.load_many(self._key))


class Unselected:
    """Stands for a relation the query does not select, on an object built with look-ahead.

    A list resolver that knows the selection builds nothing for the relations it does not ask for
    (a `Lazy` per variant and per category costs allocations every request). graphql-core never
    reads such a field; should a wrong look-ahead ever let it, awaiting this fails loudly (a masked
    error) instead of answering with made-up data.
    """

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, Any]:
        raise RuntimeError("a relation the look-ahead found unselected was read")
        yield  # pragma: no cover - makes this a generator, as __await__ must return an iterator


UNSELECTED: Any = Unselected()
