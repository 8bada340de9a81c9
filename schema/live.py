"""Following objects live: the one loop behind every subscription.

A subscription first sends the current state of what it follows (so a client that reconnects and
subscribes again has missed nothing that matters), then every committed change. Events carry the
row as the change left it (`models.snapshot`); a version on each row lets the loop drop an event
older than what it has already sent, since events from two processes can arrive out of order.
Many subscribers usually follow the same object with the same query (a thousand shoppers on one
order page): for an event, this process executes each distinct (document, variables, viewer) once
and hands every such subscriber the same result (`SharedEventExecution`). The GraphQL object
built for an event is built once per process too, and shared by every subscriber of that event.

When the bus says events may have been lost (a message of kind `resync`: Redis came back, or this
subscriber fell too far behind), the loop sends the current state again.

Whoever opened a subscription is looked at again before every event, not only at the start: a
subscription opened with an access token ends with UNAUTHENTICATED when the token expires (at
that moment, event or not), its session is signed out or its account deactivated, and one that
needs a right ends with FORBIDDEN once the right is taken away; nothing more is sent after that.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from collections.abc import AsyncGenerator, Awaitable, Callable, Hashable
from typing import Any, TypeVar

from graphql import Executor
from graphql.pyutils import is_awaitable
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from loaders import Loaders
from models import Account, Order, Shipment
from models.changes import RESYNC, Message
from models.snapshot import restore
from resolvers.accounts import access_claims
from resolvers.errors import GraphQLErrorCode
from schema.context import Context, Feed
from schema.errors import GatewayError, Unauthenticated

SHARED_RESULTS = "_shared_results"  # on an object built from an event: that event's results, by query
M = TypeVar("M", Order, Shipment)  # what subscriptions follow: rows with an id and a version
T = TypeVar("T")
Requirement = Callable[[Account | None], object]  # raises Unauthenticated or Forbidden (schema.errors)
SIGNED_OUT = "The access token has expired or its session has ended: refresh it and subscribe again."
MAX_REMEMBERED_ROWS = 1_000  # rows a subscription remembers having sent (see `Sent`)


class Sent:
    """What a subscription last sent of each row (version, distinct value), for its latest `max_rows` rows.

    It is there to drop an event older than what was sent: events from two processes arrive out
    of order by moments, not by a thousand rows. Unbounded, a stream of every order
    (`orderEvents`) kept an entry per order for as long as its connection stayed open.
    """

    def __init__(self, max_rows: int = MAX_REMEMBERED_ROWS) -> None:
        self.max_rows = max_rows
        self._rows: OrderedDict[Any, tuple[int, Hashable]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._rows)

    def get(self, row_id: Any) -> tuple[int, Hashable] | None:
        return self._rows.get(row_id)

    def put(self, row_id: Any, version: int, value: Hashable) -> None:
        self._rows[row_id] = (version, value)
        self._rows.move_to_end(row_id)
        if len(self._rows) > self.max_rows:
            self._rows.popitem(last=False)  # the row least recently sent


def from_message(message: Message, model: type[M]) -> M:
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
    build: Callable[[Context, M], T],
    *,
    distinct: Callable[[M], Hashable] | None = None,
    requirement: Requirement | None = None,
) -> AsyncGenerator[T, None]:
    """Current state, then changes, as GraphQL objects made by `build`. With `distinct`, only changes
    of that value are sent.

    Without `current` (a stream of every order has no single current state) nothing is sent first,
    and lost events end the subscription with an error: the client reloads and subscribes again.
    `requirement` is what the subscriber's account must satisfy, checked again before each event.
    """
    events = context.events
    if events is None:
        raise GatewayError("Subscriptions are not available on this server.", GraphQLErrorCode.SERVICE_UNAVAILABLE)
    subscription: Feed  # opened below, once the subscriber is known to be allowed
    token = context.credentials()
    claims = access_claims(token, context.secret_key) if token is not None else None
    expires_at = claims.expires_at if claims is not None else None

    async def still_allowed() -> None:
        if token is None and requirement is None:
            return  # anonymous on a public subscription: nothing can change
        account = await context.fresh_viewer()  # one read by primary key, and the deny-list
        if token is not None and account is None:
            raise Unauthenticated(SIGNED_OUT)
        if requirement is not None:
            requirement(account)

    async def next_message() -> Message:
        if expires_at is None:
            return await anext(subscription)
        try:
            async with asyncio.timeout(max(0.0, expires_at - time.time())):
                return await anext(subscription)
        except TimeoutError:
            raise Unauthenticated(SIGNED_OUT) from None

    sent = Sent(MAX_REMEMBERED_ROWS)

    def fresh(row: M, message: Message | None = None) -> T | None:
        previous = sent.get(row.id)
        if previous is not None and row.version <= previous[0]:
            return None  # already sent, or older than what was sent
        value = distinct(row) if distinct is not None else row.version
        sent.put(row.id, row.version, value)
        if previous is not None and value == previous[1]:
            return None
        if message is None:
            # Relations read for this state come from the database now, not from an earlier event.
            context.loaders = Loaders()
            return build(context, row)
        # Every subscriber of this event in this process gets the same object (it depends on the
        # context only through the store's currency and the loaders, which it shares too); what
        # depends on the viewer is decided while executing, where results are shared per viewer.
        built: dict[str, T] = message.setdefault("_built", {})
        item = built.get(context.currency)
        if item is None:
            shared = Context(currency=context.currency, prices_include_tax=context.prices_include_tax)
            item = built[context.currency] = build(shared, row)
            setattr(item, SHARED_RESULTS, message.setdefault("_results", {}))
        return item

    await still_allowed()
    # Subscribe before reading the current state: a change committed in between is then queued,
    # and its version tells whether the state read already includes it.
    subscription = events.subscribe(topics)
    try:
        for row in await current() if current is not None else []:
            if (item := fresh(row)) is not None:
                yield item
        while True:
            message = await next_message()
            await still_allowed()
            if message is RESYNC:
                if current is None:
                    raise GatewayError(
                        "Events may have been lost: load the current state and subscribe again.",
                        GraphQLErrorCode.EVENTS_LOST,
                    )
                for row in await current():
                    if (item := fresh(row)) is not None:
                        yield item
            elif (item := fresh(from_message(message, model), message)) is not None:
                yield item
    finally:
        subscription.close()


class SharedEventExecution(StrawberryGraphQLCoreExecutionContext):
    """Executes an event once per process for all subscribers asking the same of it.

    graphql-core builds one executor per subscription and copies it for each event. When the
    event's value carries `SHARED_RESULTS` (a dict that lives on the bus message, shared by every
    subscriber of this process), the copy looks up its key there: the document, the operation,
    the variables, the currency and the caller's credentials (fields such as an order event's
    actor depend on who asks). The first subscriber executes; the others await its result.
    """

    _share: tuple[dict[Hashable, Any], Hashable] | None = None
    _share_key: Hashable = None

    def build_per_event_executor(self, payload: Any) -> Executor[Any]:
        executor = super().build_per_event_executor(payload)  # a copy of this executor
        results = getattr(payload, SHARED_RESULTS, None)
        if results is not None and isinstance(executor, SharedEventExecution):
            if self._share_key is None:
                self._share_key = self._key()
            executor._share = (results, self._share_key)
        return executor

    def _key(self) -> Hashable:
        operation = self.operation
        source = operation.loc.source.body if operation.loc is not None else repr(operation)
        variables = json.dumps(self.variable_values.coerced, sort_keys=True, default=str)
        context = self.context_value
        credentials = context.credentials() if isinstance(context, Context) else None
        currency = getattr(context, "currency", None)
        return (source, operation.name.value if operation.name else None, variables, credentials, currency)

    def execute_operation(self, serially: bool | None = None) -> Any:
        if self._share is None:
            return super().execute_operation(serially)
        results, key = self._share
        result = results.get(key)
        if result is None:
            result = super().execute_operation(serially)
            if is_awaitable(result):
                result = asyncio.ensure_future(result)  # a future many subscribers can await
            results[key] = result
        # Shielded: a subscriber that goes away mid-execution must not cancel everyone's result.
        return asyncio.shield(result) if isinstance(result, asyncio.Future) else result
