"""The dataloader base: batching switched on by aiodataloader's own flag, the cache a dict of ours."""

from __future__ import annotations

import asyncio

from loaders.base import Loader


class Doubling(Loader[int, int]):
    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[int]] = []

    async def batch_load_fn(self, keys: list[int]) -> list[int]:
        self.batches.append(keys)
        return [key * 2 for key in keys]


async def test_batching_is_on_by_the_flag_not_by_a_truthy_method():
    loader = Doubling()
    assert loader.batch is True
    assert await asyncio.gather(loader.load(1), loader.load(2), loader.load(1)) == [2, 4, 2]
    assert loader.batches == [[1, 2]]


async def test_load_all_sees_what_load_cached_and_remembers_only_when_asked():
    loader = Doubling()
    assert await loader.load(1) == 2
    assert await loader.load_all([1, 3], remember=False) == [2, 6]
    assert loader.batches == [[1], [3]]  # 1 came from the cache
    assert set(loader.futures) == {1}
    assert await loader.load_all([3, 4, 3]) == [6, 8, 6]
    assert set(loader.futures) == {1, 3, 4}
    assert await loader.load(4) == 8 and loader.batches[-1] == [3, 4]
