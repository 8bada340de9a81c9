"""The loaders' base class keeps aiodataloader's own switches working.

`DataLoader.batch` is the library's flag for "collect the keys of one tick into one call"; a loader
that shadows it with a method batches only because a bound method is truthy, and breaks as soon as
the flag is set to False.
"""

from __future__ import annotations

import asyncio
from typing import Any

from loaders.base import Loader


class Doubles(Loader[int, int]):
    """Twice each key, remembering the batches it was asked for."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.batches: list[list[int]] = []

    async def batch_load_fn(self, keys: list[int]) -> list[int]:
        self.batches.append(list(keys))
        return [2 * key for key in keys]


async def test_keys_of_one_tick_are_loaded_in_one_batch_by_the_library_flag():
    loader = Doubles()
    assert loader.batch is True
    assert await asyncio.gather(loader.load(1), loader.load(2), loader.load(1)) == [2, 4, 2]
    assert loader.batches == [[1, 2]]


async def test_a_loader_with_batching_switched_off_loads_key_by_key():
    loader = Doubles(batch=False)
    assert await asyncio.gather(loader.load(1), loader.load(2)) == [2, 4]
    assert loader.batches == [[1], [2]]
    # A whole page is still one call, and primes the cache for later `load`s.
    assert await loader.load_all([3, 4, 3]) == [6, 8, 6]
    assert loader.batches == [[1], [2], [3, 4]]
    assert await loader.load(4) == 8
    assert loader.batches == [[1], [2], [3, 4]]


async def test_load_all_sees_what_load_cached_and_remembers_only_when_asked():
    loader = Doubles()
    assert await loader.load(1) == 2
    assert await loader.load_all([1, 3], remember=False) == [2, 6]
    assert loader.batches == [[1], [3]]  # 1 came from the cache
    assert set(loader.futures) == {1}
    assert await loader.load_all([3, 4, 3]) == [6, 8, 6]
    assert set(loader.futures) == {1, 3, 4}
    assert await loader.load(4) == 8 and loader.batches[-1] == [3, 4]
