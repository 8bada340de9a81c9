"""Background work of the serving process: a job run at start-up, then every so often.

A stand-in until a job engine schedules such work; the jobs themselves live beside their
resolvers and know nothing of how they are run.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("gateway.periodic")


async def every(seconds: float, job: Callable[[], Awaitable[object]], name: str) -> None:
    """Run `job` now and then every `seconds` until cancelled; a failing run is logged, not fatal
    (the database may be away for a while: the next run tries again)."""
    while True:
        try:
            await job()
        except Exception:
            log.exception("%s failed; trying again in %s s", name, seconds)
        await asyncio.sleep(seconds)
