"""Stop a request's work when its client goes away.

An ASGI server does not cancel the application when the client disconnects: it only answers the
next `receive()` with `http.disconnect`. Left alone, a request whose client gave up keeps its
statement running in PostgreSQL (and its pooled connection busy) until the statement ends. Here
the work runs in the request's own task while a watcher waits on `receive()`; a disconnect
cancels the task, and asyncpg answers a cancelled query by asking the server to cancel it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from starlette.types import Receive

T = TypeVar("T")


class ClientDisconnected(Exception):
    """The client went away before the answer was ready; there is no one to answer."""


async def unless_disconnected(receive: Receive, work: Awaitable[T]) -> T:
    """`await work`, cancelled (ClientDisconnected) if the client disconnects first.

    Call it once the request body has been read: from then on the application has no use for
    `receive()`, and each message it still yields (the empty body of a GET) is skipped until the
    disconnect. Only requests that reach execution pay for the watcher: cache hits never get here.
    """
    task = asyncio.current_task()
    assert task is not None
    disconnected = False

    async def watch() -> None:
        nonlocal disconnected
        try:
            while (await receive())["type"] != "http.disconnect":
                pass
        except Exception:  # a server that cannot tell us: nothing to watch
            return
        disconnected = True
        task.cancel()

    watcher = asyncio.create_task(watch())
    try:
        result = await work
    except asyncio.CancelledError:
        if not disconnected:
            raise  # cancelled by someone else (the server shutting down): theirs to handle
        task.uncancel()
        raise ClientDisconnected from None
    finally:
        watcher.cancel()
    if disconnected:  # the work finished although cancelled: the client is gone all the same
        task.uncancel()
        raise ClientDisconnected
    return result
