"""Order state: one table of allowed transitions, how a change is recorded, and reading orders.

Every transition locks the order row (`locked_order`), checks the table (anything else is
INVALID_TRANSITION), does its work and records an OrderEvent (`record_change`), in one
transaction. Staff transitions are in `orders_admin`, shipping in `shipments_admin`, parcels
moving in `shipments`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from loaders import Loaders
from models import (
    Account,
    Order,
    OrderEvent,
    OrderStatus,
    Permission,
    ShipmentStatus,
    changes,
)
from models.snapshot import snapshot
from resolvers import outbox
from resolvers.errors import DomainError, ErrorCode
from resolvers.pagination import Page, newest_first

S = OrderStatus
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    # The provider confirms (PAID, or PLACED when it only authorized), or the payment fails or times out.
    S.AWAITING_PAYMENT: frozenset({S.PAID, S.PLACED, S.CANCELLED}),
    S.PLACED: frozenset({S.PAID, S.CANCELLED}),
    S.PAID: frozenset({S.PARTIALLY_SHIPPED, S.SHIPPED, S.CANCELLED, S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.PARTIALLY_SHIPPED: frozenset({S.SHIPPED, S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.SHIPPED: frozenset({S.DELIVERED, S.PARTIALLY_REFUNDED, S.REFUNDED}),
    # Back to SHIPPED when a delivered parcel moves again (sent back, a scan after the delivery).
    S.DELIVERED: frozenset({S.SHIPPED, S.PARTIALLY_REFUNDED, S.REFUNDED}),
    # Another partial refund keeps it here; what is left of it may still ship.
    S.PARTIALLY_REFUNDED: frozenset({S.PARTIALLY_REFUNDED, S.PARTIALLY_SHIPPED, S.SHIPPED, S.REFUNDED}),
    S.CANCELLED: frozenset(),
    S.REFUNDED: frozenset(),
}


def status_from_parcels(current: OrderStatus, parcels: list[ShipmentStatus]) -> OrderStatus:
    """What a shipped order's status is, given where each of its parcels is now.

    A fully shipped order is DELIVERED while every parcel is, SHIPPED otherwise. Parcels do not
    change whether everything has shipped (only new shipments do), so an order that is not
    SHIPPED or DELIVERED keeps its status: PARTIALLY_SHIPPED waits for the rest, and CANCELLED and
    REFUNDED are final.
    """
    if OrderStatus(current) not in (S.SHIPPED, S.DELIVERED) or not parcels:
        return OrderStatus(current)
    return S.DELIVERED if all(p == ShipmentStatus.DELIVERED for p in parcels) else S.SHIPPED


def check_transition(current: OrderStatus, target: OrderStatus) -> None:
    if target not in TRANSITIONS[OrderStatus(current)]:
        raise DomainError(
            ErrorCode.INVALID_TRANSITION, f"An order that is {current} cannot become {target}.", ["orderId"]
        )


async def locked_order(order_id: int) -> Order:
    """The order, locked FOR UPDATE until the transaction ends; NOT_FOUND on `orderId`."""
    order = await Order.filter(id=order_id).select_for_update().first()
    if order is None:
        raise DomainError(ErrorCode.NOT_FOUND, "No order has this ID.", ["orderId"])
    return order


def order_topics(order: Order) -> tuple[str, ...]:
    """Who follows an order: its token holders, staff watching every order, and its customer."""
    topics = (changes.order_topic(order.id), changes.ORDERS)
    return (*topics, changes.customer_topic(order.customer_id)) if order.customer_id else topics


def announce_order(order: Order, extra: dict[str, Any] | None = None) -> None:
    """Record the order, as it now is, for its subscribers (sent once the transaction commits);
    `extra` goes in the change's payload beside it (what a refund gave back: resolvers/refunds.py)."""
    payload = {"id": order.id, "row": snapshot(order), **(extra or {})}
    outbox.record(outbox.Change("order", payload, order_topics(order)))


async def record_change(
    order: Order,
    fields: list[str],
    events: list[tuple[str, str]],
    actor: Account | None,
    extra: dict[str, Any] | None = None,
) -> None:
    """What happened to the order: the changed `fields` saved with a new version (one UPDATE), a
    history entry per (kind, message), and the announcement to its subscribers (with `extra`)."""
    order.version += 1
    await order.save(update_fields=[*fields, "version"])
    by = actor.email if actor else ""
    await OrderEvent.bulk_create(
        [OrderEvent(order_id=order.id, kind=kind, message=message, actor=by) for kind, message in events]
    )
    announce_order(order, extra)


async def list_orders(
    *,
    customer_id: int | None = None,
    statuses: tuple[OrderStatus, ...] = (),
    email: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    first: int | None = None,
    after: str | None = None,
) -> Page:
    """Newest first."""
    queryset = Order.all()
    if customer_id is not None:
        queryset = queryset.filter(customer_id=customer_id)
    if statuses:
        queryset = queryset.filter(status__in=[s.value for s in statuses])
    if email:
        queryset = queryset.filter(email=email.strip().lower())
    if created_after is not None:
        queryset = queryset.filter(created_at__gte=created_after)
    if created_before is not None:
        queryset = queryset.filter(created_at__lt=created_before)
    return await newest_first(queryset, "orders", first, after)


# What a customer still waits for: sent first to a `myOrderUpdates` subscriber (at most this many).
OPEN_STATUSES = (
    OrderStatus.AWAITING_PAYMENT,
    OrderStatus.PLACED,
    OrderStatus.PAID,
    OrderStatus.PARTIALLY_SHIPPED,
    OrderStatus.SHIPPED,
    OrderStatus.PARTIALLY_REFUNDED,  # what is left of it may still ship
)
MAX_OPEN_ORDERS = 20


async def order_by_token(token: str) -> Order | None:
    """The order this token follows, if any: whoever holds it may read the order."""
    return await Order.get_or_none(token=token)


def sees_order(viewer: Account | None, order: Order) -> bool:
    """Who may read an order named by its ID (a counter anyone can guess, unlike its token): the
    customer who placed it, in their order history, and staff with MANAGE_ORDERS, in `orders`."""
    if viewer is None:
        return False
    return order.customer_id == viewer.id or viewer.has_permission(Permission.MANAGE_ORDERS)


async def order_by_id(loaders: Loaders, order_id: int, viewer: Account | None) -> Order | None:
    order = await loaders.order_by_id.load(order_id)
    return order if order is not None and sees_order(viewer, order) else None


async def orders_by_id(order_id: int) -> list[Order]:
    """The order as it is now (none if it is gone): a subscription's current state."""
    return list(await Order.filter(id=order_id))


async def open_orders(customer_id: int) -> list[Order]:
    """The customer's orders still on their way (at most `MAX_OPEN_ORDERS`, the newest), oldest first."""
    rows = (
        await Order.filter(customer_id=customer_id, status__in=list(OPEN_STATUSES))
        .order_by("-id")
        .limit(MAX_OPEN_ORDERS)
    )
    return rows[::-1]
