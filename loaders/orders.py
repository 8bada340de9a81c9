"""Order relations."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from loaders.base import Loader, many_per_key, one_per_key
from models import Order, OrderEvent, OrderLine
from models.orders import SPENT_STATUSES
from models.sql import connection, fetch, in_condition, is_postgres, money_sum, read_money_sum, select_in


class OrderByIdLoader(Loader[int, Order | None]):
    async def batch_load_fn(self, keys: list[int]) -> list[Order | None]:
        return one_per_key(keys, await select_in(Order, "id", keys), lambda order: order.id)


class OrderLinesByOrderIdLoader(Loader[int, list[OrderLine]]):
    async def batch_load_fn(self, keys: list[int]) -> list[list[OrderLine]]:
        rows = await select_in(OrderLine, "order_id", keys, order_by="t.order_id, t.id")
        return many_per_key(keys, rows, lambda line: line.order_id)


class OrderEventsByOrderIdLoader(Loader[int, list[OrderEvent]]):
    async def batch_load_fn(self, keys: list[int]) -> list[list[OrderEvent]]:
        rows = await select_in(OrderEvent, "order_id", keys, order_by="t.order_id, t.id")
        return many_per_key(keys, rows, lambda event: event.order_id)


@dataclass(frozen=True)
class OrderTotals:
    """A customer's orders summed up: how many were placed (any status), and the sum of the totals
    of those whose money the shop keeps (`SPENT_STATUSES`)."""

    count: int
    spent: Decimal


NO_ORDERS = OrderTotals(0, Decimal("0.00"))


class OrderTotalsByCustomerIdLoader(Loader[int, OrderTotals]):
    """One grouped statement for a whole page of customers (`Customer.orderCount`, `totalSpent`)."""

    async def batch_load_fn(self, keys: list[int]) -> list[OrderTotals]:
        conn = connection()
        postgres = is_postgres(conn)
        statuses = [status.value for status in SPENT_STATUSES]
        spent = money_sum(f"CASE WHEN t.status IN ({', '.join('?' * len(statuses))}) THEN t.total END", postgres)
        condition, values = in_condition("t.customer_id", keys, postgres)
        rows = await fetch(
            f'SELECT t.customer_id AS customer_id, COUNT(*) AS count, {spent} AS spent FROM "order" t '
            f"WHERE {condition} GROUP BY t.customer_id",
            [*statuses, *values],
            conn,
        )
        totals = {
            int(row["customer_id"]): OrderTotals(int(row["count"]), read_money_sum(row["spent"], postgres))
            for row in rows
        }
        return [totals.get(key, NO_ORDERS) for key in keys]
