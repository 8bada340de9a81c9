"""The change record: what a committed change announces, and the topics and messages that carry it.

Shared by the domain (resolvers/ record changes in the outbox) and the infrastructure that delivers
them (gateway/events.py to subscribers, gateway/cache.py for invalidation), so it depends on
neither: like the rest of models/, it imports nothing of the project.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

# A message on the event bus: a change's kind and payload (`{"kind": "order", "id": 3, "row": …}`).
Message = dict[str, Any]

# The bus message that says events may have been lost (Redis came back, or a subscriber fell too
# far behind): whoever follows something reloads its current state. The bus queues this very
# object, so receivers compare by identity (`message is RESYNC`).
RESYNC: Message = {"kind": "resync"}

ORDERS = "orders"  # every order, for staff watching them all
CACHE = "cache"  # catalogue invalidations, for every worker's in-process response cache
CATALOGUE = "catalogue"  # the kind of a change that makes cached catalogue data stale (its `tags`)
PRODUCT = "product"  # a product created, changed or deleted by staff: its `row` as committed
STOCK_LOW = "stock_low"  # a variant's available stock fell to its low-stock threshold
# An email about an account (a password reset link, an address to confirm, ...), for the email
# consumer only: it has no topics (resolvers/account_tokens.py says what its payload holds).
ACCOUNT_MESSAGE = "account_message"
# A customer account erased (`customerDelete`): `id`, and the topics of its orders' followers.
CUSTOMER_DELETED = "customer_deleted"

# What happened to the object, in a change's payload under `event`, where creation and deletion
# matter to whoever hears of it (a product): an object created in a transaction and changed again
# in it is announced once, as created (resolvers/outbox.py keeps the word when it supersedes).
EVENT = "event"
CREATED, UPDATED, DELETED = "created", "updated", "deleted"
# An order change that records a refund carries it under this key (its id, amount and currency):
# the ORDER_REFUNDED webhook and the `refunded` email go out once per such change (resolvers/refunds.py).
REFUND = "refund"
# What happened to a return (its id, order and status): the return emails (resolvers/returns.py).
RETURN = "return"


@dataclass(frozen=True)
class Change:
    """One committed change: what kind of object, which one, and its state after the change.

    `topics` name who is interested (`order:12`, `orders`, `customer:3`, `shipment:1Z999`);
    `tags` name the cached catalogue data it makes stale (`product:4`, `category:2`, `products`).
    `event_id` is given when the change is written to the outbox (a UUID): consumers act once per
    event id, however often the same event reaches them.
    """

    kind: str
    payload: dict[str, Any] = field(default_factory=dict)
    topics: tuple[str, ...] = ()
    tags: frozenset[str] = frozenset()
    event_id: str = ""


# Where committed changes go: the gateway's announcer (the response cache, then the event bus).
Sink = Callable[[list[Change]], Awaitable[None]]


def order_topic(order_id: int) -> str:
    """One order, for whoever holds its token."""
    return f"order:{order_id}"


def customer_topic(account_id: int) -> str:
    """Every order of one customer."""
    return f"customer:{account_id}"


def shipment_topic(tracking_number: str) -> str:
    """One parcel, by its tracking number."""
    return f"shipment:{tracking_number}"
