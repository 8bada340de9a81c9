"""The gateway's processes, from /proc: which worker serves a connection, and what it costs in memory.

Used by the fan-out scenario and by the tests that must reach a chosen worker of a real uvicorn.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable


def worker_pids(master: int) -> list[int]:
    """The workers uvicorn's `--workers` master spawned (not its resource tracker)."""
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            if parent != master:
                continue
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                if b"multiprocessing.spawn" in cmdline.read():
                    children.append(int(entry))
        except OSError:
            continue
    return sorted(children)


def started_workers(master: int, count: int, log_tail: Callable[[], str], timeout: float = 60.0) -> list[int]:
    """The pids of `master`'s `count` worker processes, once uvicorn has started them all (else an
    error carrying what the server logged)."""
    deadline = time.monotonic() + timeout
    while len(workers := worker_pids(master)) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"uvicorn did not start {count} workers:\n{log_tail()}")
        time.sleep(0.2)
    return workers


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time a process has used so far; None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return round((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), 2)
    except OSError:
        return None


def memory_kb(pid: int) -> dict[str, int]:
    """Rss, Pss and private (USS) kilobytes of one process, from smaps_rollup."""
    values: dict[str, int] = {}
    with open(f"/proc/{pid}/smaps_rollup") as rollup:
        for line in rollup:
            name, _, rest = line.partition(":")
            if name in ("Rss", "Pss", "Private_Clean", "Private_Dirty"):
                values[name] = int(rest.split()[0])
    return {"rss": values["Rss"], "pss": values["Pss"], "uss": values["Private_Clean"] + values["Private_Dirty"]}


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def serving_workers(client_ports: list[int], workers: list[int]) -> dict[int, int | None]:
    """Client port -> the worker holding the server end of that connection (None: not found)."""
    by_remote: dict[str, str] = {}
    with open("/proc/net/tcp") as table:
        for line in table.read().splitlines()[1:]:
            fields = line.split()
            # remote address -> inode of the local end; only established sockets, since a closed
            # warm-up connection in TIME_WAIT (inode 0) may have used the same client port.
            if fields[3] == "01" and fields[9] != "0":
                by_remote[fields[2]] = fields[9]
    owner = {inode: pid for pid in workers for inode in _socket_inodes(pid)}
    result: dict[int, int | None] = {}
    for port in client_ports:
        inode = by_remote.get(f"0100007F:{port:04X}")  # 127.0.0.1:port, as /proc/net/tcp writes it
        result[port] = owner.get(inode) if inode else None
    return result


def serving_workers_retried(client_ports: list[int], workers: list[int], attempts: int = 5) -> dict[int, int | None]:
    """The same, read again for ports not found: /proc/net/tcp is not one atomic snapshot, and a
    long table read while other connections come and go can skip lines."""
    result = serving_workers(client_ports, workers)
    for _ in range(attempts - 1):
        missing = [port for port, pid in result.items() if pid is None]
        if not missing:
            break
        time.sleep(0.1)
        result.update(serving_workers(missing, workers))
    return result
