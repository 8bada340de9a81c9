"""Following objects live: the one loop behind every subscription.

A subscription first sends the current state of what it follows (so a client that reconnects and
subscribes again has missed nothing that matters), then every committed change. Events carry the
row as the change left it (`models.snapshot`); a version on each row lets the loop drop an event
older than what it has already sent, since events from two processes can arrive out of order.
When the bus says events may have been lost (a message of kind `resync`: Redis came back, or this
subscriber fell too far behind), the loop sends the current state again.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Hashable
from typing import Any, TypeVar

from tortoise.models import Model

from loaders import Loaders
from models.snapshot import restore
from schema.context import Context
from schema.extensions import GatewayError

RESYNC = "resync"  # gateway.events' message for "reload the current state"
M = TypeVar("M", bound=Model)
T = TypeVar("T")


def from_message(message: dict[str, Any], model: type[M]) -> M:
    """The changed row; rebuilt once per process however many subscribers share the message."""
    restored = message.get("_restored")
    if restored is None:
        restored = message["_restored"] = restore(model, message["row"])
    return restored


async def follow(
    context: Context,
    topics: tuple[str, ...],
    model: type[M],
    current: Callable[[], Awaitable[list[M]]] | None,
    view: Callable[[Context, M], T],
    *,
    distinct: Callable[[M], Hashable] | None = None,
) -> AsyncGenerator[T, None]:
    """Current state, then changes, as views. With `distinct`, only changes of that value are sent.

    Without `current` (a stream of every order has no single current state) nothing is sent first,
    and lost events end the subscription with an error: the client reloads and subscribes again.
    """
    if context.events is None:
        raise GatewayError("Subscriptions are not available on this server.", "SERVICE_UNAVAILABLE")
    sent: dict[Any, tuple[int, Hashable]] = {}  # id -> (version, distinct value) last seen

    def fresh(row: M) -> T | None:
        previous = sent.get(row.id)
        if previous is not None and row.version <= previous[0]:
            return None  # already sent, or older than what was sent
        value = distinct(row) if distinct is not None else row.version
        sent[row.id] = (row.version, value)
        if previous is not None and value == previous[1]:
            return None
        # Relations read for this event come from the database now, not from an earlier event.
        context.loaders = Loaders()
        return view(context, row)

    # Subscribe before reading the current state: a change committed in between is then queued,
    # and its version tells whether the state read already includes it.
    subscription = context.events.subscribe(topics)
    try:
        for row in await current() if current is not None else []:
            if (item := fresh(row)) is not None:
                yield item
        async for message in subscription:
            if message["kind"] == RESYNC and current is None:
                raise GatewayError("Events may have been lost: load the current state and subscribe again.", "EVENTS_LOST")
            rows = await current() if message["kind"] == RESYNC else [from_message(message, model)]
            for row in rows:
                if (item := fresh(row)) is not None:
                    yield item
    finally:
        subscription.close()
