"""Shared batching shapes: one object per key, or a list of objects per key."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any, Generic, TypeVar

from aiodataloader import DataLoader

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def one_per_key(keys: Sequence[K], rows: Iterable[V], key_of: Callable[[V], K]) -> list[V | None]:
    by_key = {key_of(row): row for row in rows}
    return [by_key.get(key) for key in keys]


def many_per_key(keys: Sequence[K], rows: Iterable[V], key_of: Callable[[V], K]) -> list[list[V]]:
    grouped: dict[K, list[V]] = defaultdict(list)
    for row in rows:
        grouped[key_of(row)].append(row)
    return [grouped.get(key, []) for key in keys]


class Loader(DataLoader[K, V], Generic[K, V]):
    """A DataLoader whose batch function is the `batch` method; keys arrive de-duplicated."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(batch_load_fn=self.batch, **kwargs)

    async def batch(self, keys: list[K]) -> list[V]:  # pragma: no cover - abstract
        raise NotImplementedError
