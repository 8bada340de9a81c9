"""The customer list for staff (MANAGE_CUSTOMERS) as SQL: search, filter, sorts, keyset page and count.

A customer is an account that is not staff (staff are managed with MANAGE_STAFF). The list is one
hand-written statement, like the product listing (resolvers/catalogue_listing.py): the page of ids
with their sort keys and, riding along, the number of matches. The order count and total spent a
sort may need are correlated subqueries on the order table's `(customer_id, created_at)` index, so
the database computes them for the rows it reads, never a statement per customer; what the page
shows of them comes from one grouped statement for the whole page
(loaders/orders.py: `OrderTotalsByCustomerIdLoader`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from loaders import Loaders
from models import Account
from models.accounts import EMAIL_LENGTH
from models.orders import SPENT_STATUSES
from models.sql import connection, fetch, is_postgres, money_sum, read_money_sum
from resolvers.errors import BadInput
from resolvers.pagination import Page, PageRequest, keyset_condition, keyset_order, make_page, page_request

# An email address is the longest thing worth searching for.
MAX_SEARCH_LENGTH = EMAIL_LENGTH
# Every customer sort has one key then the id tie-break, so a cursor holds two values.
CURSOR_ARITY = 2
# A total spent in a cursor beyond this is no sum of orders (each at most 10^10): refused as input.
MAX_SPENT = Decimal(10) ** 18

_ORDER_COUNT = 'SELECT COUNT(*) FROM "order" o WHERE o.customer_id = a.id'
# The statuses are our enum's values (capitals and underscores), written into the statement so the
# sort expression carries no parameters of its own and can be repeated in the keyset condition.
_SPENT = "o.status IN ({})".format(", ".join(f"'{status.value}'" for status in SPENT_STATUSES))


class CustomerSort(StrEnum):
    EMAIL_ASC = "EMAIL_ASC"
    EMAIL_DESC = "EMAIL_DESC"
    CREATED_AT_ASC = "CREATED_AT_ASC"
    CREATED_AT_DESC = "CREATED_AT_DESC"
    ORDER_COUNT_ASC = "ORDER_COUNT_ASC"
    ORDER_COUNT_DESC = "ORDER_COUNT_DESC"
    TOTAL_SPENT_ASC = "TOTAL_SPENT_ASC"
    TOTAL_SPENT_DESC = "TOTAL_SPENT_DESC"


DEFAULT_SORT = CustomerSort.CREATED_AT_DESC


@dataclass(frozen=True)
class CustomerSearch:
    """Which customers the list shows: every condition given must hold."""

    text: str = ""  # lower-cased; matched anywhere in the email or the full name
    created_after: datetime | None = None  # registered at this moment or later
    created_before: datetime | None = None  # registered before this moment
    has_orders: bool | None = None


@dataclass(frozen=True)
class CustomerListing:
    page: Page  # its rows are Accounts
    total_count: int | None  # None when not asked for


def customer_search(
    text: str | None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    has_orders: bool | None = None,
) -> CustomerSearch:
    """The list's search box and filter, checked: the search text bounded, dates made UTC."""
    text = (text or "").strip()
    if len(text) > MAX_SEARCH_LENGTH:
        raise BadInput(f"`search` may have at most {MAX_SEARCH_LENGTH} characters, got {len(text)}.", "search")
    return CustomerSearch(text.lower(), as_utc(created_after), as_utc(created_before), has_orders)


def as_utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    # A moment without an offset is read as UTC, the zone every stored time is in.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _where(search: CustomerSearch, postgres: bool) -> tuple[str, list[Any]]:
    clauses = ["a.is_staff = ?"]
    params: list[Any] = [False]
    if search.text:
        clauses.append("(a.email LIKE ? ESCAPE '\\' OR LOWER(a.first_name || ' ' || a.last_name) LIKE ? ESCAPE '\\')")
        params.extend([_like(search.text)] * 2)
    for moment, comparison in ((search.created_after, ">="), (search.created_before, "<")):
        if moment is not None:
            clauses.append(f"a.created_at {comparison} ?")
            # SQLite holds datetimes as text, as Tortoise writes them (`isoformat(" ")` in UTC).
            params.append(moment if postgres else moment.isoformat(" "))
    if search.has_orders is not None:
        exists = 'EXISTS (SELECT 1 FROM "order" o WHERE o.customer_id = a.id)'
        clauses.append(exists if search.has_orders else f"NOT {exists}")
    return " AND ".join(clauses), params


def _sort_columns(sort: CustomerSort, postgres: bool) -> list[tuple[str, bool]]:
    """(expression, descending) pairs ending with the id tie-break."""
    spent = f'SELECT {money_sum("o.total", postgres)} FROM "order" o WHERE o.customer_id = a.id AND {_SPENT}'
    key = {
        CustomerSort.EMAIL_ASC: ("a.email", False),
        CustomerSort.EMAIL_DESC: ("a.email", True),
        CustomerSort.CREATED_AT_ASC: ("a.created_at", False),
        CustomerSort.CREATED_AT_DESC: ("a.created_at", True),
        CustomerSort.ORDER_COUNT_ASC: (f"({_ORDER_COUNT})", False),
        CustomerSort.ORDER_COUNT_DESC: (f"({_ORDER_COUNT})", True),
        CustomerSort.TOTAL_SPENT_ASC: (f"({spent})", False),
        CustomerSort.TOTAL_SPENT_DESC: (f"({spent})", True),
    }[sort]
    return [key, ("a.id", key[1])]


def _cursor_key(sort: CustomerSort, value: Any, postgres: bool) -> Any:
    """A row's sort key as its cursor holds it: the same on both databases."""
    if sort in (CustomerSort.CREATED_AT_ASC, CustomerSort.CREATED_AT_DESC):
        return value.isoformat() if isinstance(value, datetime) else value  # SQLite's text as stored
    if sort in (CustomerSort.TOTAL_SPENT_ASC, CustomerSort.TOTAL_SPENT_DESC):
        return str(read_money_sum(value, postgres))
    return value if isinstance(value, str) else int(value)


def _key_param(sort: CustomerSort, value: Any, postgres: bool, argument: str) -> Any:
    """A cursor's sort key as a statement parameter; BAD_USER_INPUT when it is of the wrong kind
    or out of range (the driver would refuse it only once the statement is sent)."""
    refused = BadInput(f"`{argument}` is not a valid cursor.", argument)
    if sort in (CustomerSort.EMAIL_ASC, CustomerSort.EMAIL_DESC):
        if isinstance(value, str):
            return value
    elif sort in (CustomerSort.ORDER_COUNT_ASC, CustomerSort.ORDER_COUNT_DESC):
        if isinstance(value, int):  # decode_cursor has kept it within an integer column's range
            return value
    elif sort in (CustomerSort.TOTAL_SPENT_ASC, CustomerSort.TOTAL_SPENT_DESC):
        if isinstance(value, str):
            try:
                amount = Decimal(value)
            except InvalidOperation:
                raise refused from None
            if amount.is_finite() and abs(amount) <= MAX_SPENT:
                return amount if postgres else int((amount * 100).to_integral_value())
    elif isinstance(value, str):  # a registration time
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise refused from None
        if moment.tzinfo is not None:
            try:
                return moment.astimezone(UTC) if postgres else value
            except OverflowError:  # past year 1 or 9999 once in UTC
                pass
    raise refused


async def list_customers(
    loaders: Loaders,
    search: CustomerSearch,
    sort: CustomerSort | None,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    *,
    with_total: bool = False,
) -> CustomerListing:
    sort = sort or DEFAULT_SORT
    request = page_request(first, after, last, before, f"customers:{sort.value}", CURSOR_ARITY)
    ids, keys, total = await _customer_page(search, sort, request, with_total)
    accounts = await loaders.account_by_id.load_all(ids)
    # An account deleted between the two statements is left out of the page.
    found = [(account, key) for account, key in zip(accounts, keys, strict=True) if account is not None]
    page = make_page(request, [account for account, _ in found], [key for _, key in found])
    return CustomerListing(page, total)


async def _customer_page(
    search: CustomerSearch, sort: CustomerSort, request: PageRequest, with_total: bool
) -> tuple[list[int], list[tuple[Any, ...]], int | None]:
    """One statement: the ids of the page (plus one look-ahead row) with their sort keys, and with
    `with_total` the number of customers matching (as the product listing, an uncorrelated scalar
    subquery evaluated once)."""
    conn = connection()
    postgres = is_postgres(conn)
    columns = _sort_columns(sort, postgres)
    where, where_params = _where(search, postgres)
    page_where, keyset_params = where, list[Any]()
    if request.cursor is not None:
        argument = "before" if request.backward else "after"
        key, last_id = request.cursor
        if not isinstance(last_id, int):
            raise BadInput(f"`{argument}` is not a valid cursor.", argument)
        values = (_key_param(sort, key, postgres, argument), last_id)
        # Going backward reads the rows before the cursor in the reverse order.
        directed = [(expression, descending != request.backward) for expression, descending in columns]
        condition, keyset_params = keyset_condition(directed, values)
        page_where = f"{where} AND {condition}"
    selected, order = keyset_order(columns, request.backward)
    count_params: list[Any] = []
    if with_total:
        selected += f", (SELECT COUNT(*) FROM account a WHERE {where}) AS total_count"
        count_params = where_params
    rows = await fetch(
        f"SELECT a.id AS id, {selected} FROM account a WHERE {page_where} ORDER BY {order} LIMIT ?",
        [*count_params, *where_params, *keyset_params, request.size + 1],
        conn,
    )
    ids = [int(row["id"]) for row in rows]
    keys = [(_cursor_key(sort, row["sort_0"], postgres), int(row["sort_1"])) for row in rows]
    total = None
    if with_total:
        total = int(rows[0]["total_count"]) if rows else await _customer_count(search, postgres)
    return ids, keys, total


async def _customer_count(search: CustomerSearch, postgres: bool) -> int:
    where, params = _where(search, postgres)
    rows = await fetch(f"SELECT COUNT(*) AS count FROM account a WHERE {where}", params)
    return int(rows[0]["count"])


async def customer_by_id(loaders: Loaders, account_id: int) -> Account | None:
    """A customer (an account that is not staff) by its ID; None for a staff account or no account."""
    account = await loaders.account_by_id.load(account_id)
    return account if account is not None and not account.is_staff else None
