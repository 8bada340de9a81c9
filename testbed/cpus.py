"""Which core each side of a load run gets.

On a 2-core machine the server, the load generator, PostgreSQL and Redis otherwise migrate
between cores at the scheduler's whim, and two runs of the same server differed by up to 25%.
A single-worker server pinned to one core and the load generator to the other make the (a)/(b)
comparisons of one run like for like; servers with several workers stay unpinned (they need
every core). `taskset` (util-linux) does the pinning; without it, or on one core, nothing is.
"""

from __future__ import annotations

import os
import shutil

SERVER_CPU = "0"
LOAD_CPU = "1"


def _pinnable() -> bool:
    return shutil.which("taskset") is not None and (os.cpu_count() or 1) >= 2


def server_prefix(workers: int) -> list[str]:
    return ["taskset", "-c", SERVER_CPU] if workers == 1 and _pinnable() else []


def load_prefix() -> list[str]:
    return ["taskset", "-c", LOAD_CPU] if _pinnable() else []
