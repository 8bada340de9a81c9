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

    async def load_all(self, keys: list[K]) -> list[V]:
        """Values for a whole page of keys in one batch, without a future per key.

        `load_many` pays a future, a callback and a gather slot for every key; a list resolver
        that already holds all its keys calls the batch once and primes the cache instead, so
        later `load`s of the same keys (from nested fields) are answered from it.
        """
        cached = self._cache
        missing = list(dict.fromkeys(key for key in keys if self.get_cache_key(key) not in cached))
        if missing:
            for key, value in zip(missing, await self.batch(missing)):
                self.prime(key, value)
        values = []
        for key in keys:
            future = cached[self.get_cache_key(key)]
            # A key some other field asked for moments ago may still be in its pending batch.
            values.append(future.result() if future.done() else await future)
        return values
