"""Deleting many rows a batch at a time, for the periodic prunings.

One statement over a large table (a month of abandoned carts, of webhook logs) would hold its
locks and its transaction for as long as it runs, and requests touching those tables would queue
behind it; batches of `SIZE` rows keep each transaction short. A run stops after `ROUNDS` batches
(the next run goes on), so one run never takes the job worker for long either.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

SIZE = 1000
ROUNDS = 100


async def delete_in_batches(batch: Callable[[int], Awaitable[int]], size: int = SIZE, rounds: int = ROUNDS) -> int:
    """Call `batch(size)` (which deletes at most `size` rows and says how many) until a batch comes
    up short; how many rows were deleted in all."""
    removed = 0
    for _ in range(rounds):
        deleted = await batch(size)
        removed += deleted
        if deleted < size:
            break
    return removed
