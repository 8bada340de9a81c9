"""Keyset pagination shared by every connection.

A cursor names the sort it belongs to and holds the sort-key values of its row plus the row id, so
it stays valid while rows are added or removed and paging forward and backward reads only one page
(plus one row to learn whether another page exists), never the whole table. The sort is named once,
when the request is read (`page_request`): the page it yields carries it, and cursors are encoded
from the page (`schema/shared.py: Connection.of`).
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from tortoise.expressions import Q

from resolvers.errors import BadInput

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
# Every integer a cursor holds (ids, positions) is a PostgreSQL `integer` column.
INT4_MIN, INT4_MAX = -(2**31), 2**31 - 1
# Cursors remembered: ~80 pages of 50 rows, about 2 MB. Every new row listed adds one, so a memo
# sized for the whole database only grows RSS for hours (100,000 were ~50 MB per worker).
MAX_MEMOISED_CURSORS = 4096


@dataclass(frozen=True)
class PageRequest:
    """A validated `first/after/last/before`: in which sort, how many rows, which way, starting after which key."""

    sort: str  # the name cursors of this list carry: one per list and order
    size: int
    backward: bool
    cursor: tuple[Any, ...] | None  # sort-key values then the id, or None for the first/last page
    has_cursor_behind: bool  # an `after` (forward) or `before` (backward) was given


@dataclass(frozen=True)
class Page:
    sort: str  # as the request named it: what this page's cursors carry
    rows: list[Any]
    keys: list[tuple[Any, ...]]
    has_next_page: bool
    has_previous_page: bool


_CURSOR_JSON = json.JSONEncoder(separators=(",", ":"), default=str)


def encode_cursor(sort: str, key: tuple[Any, ...]) -> str:
    try:
        # The value types are part of the cache key: 1, 1.0 and True are equal as keys but not as JSON.
        return _cached_cursor(sort, key, tuple(map(type, key)))
    except TypeError:  # an unhashable key value: encode it without the cache
        return _cursor(sort, key)


@lru_cache(maxsize=MAX_MEMOISED_CURSORS)
def _cached_cursor(sort: str, key: tuple[Any, ...], types: tuple[type, ...]) -> str:
    # Cached: a listing page encodes a cursor per row (~7 us each, ~0.5 ms CPU per 50-row page
    # measured inside a request), the same ones request after request.
    return _cursor(sort, key)


def _cursor(sort: str, key: tuple[Any, ...]) -> str:
    raw = _CURSOR_JSON.encode([sort, *key])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str, arity: int, argument: str) -> tuple[Any, ...]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
    except (ValueError, UnicodeError):
        raise BadInput(f"`{argument}` is not a valid cursor.", argument) from None
    if not isinstance(values, list) or len(values) != arity + 1 or values[0] != sort:
        raise BadInput(f"`{argument}` is not a cursor of this list in this sort order.", argument)
    if not all(_cursor_value(v) for v in values[1:]):
        raise BadInput(f"`{argument}` is not a valid cursor.", argument)
    return tuple(values[1:])


def _cursor_value(value: object) -> bool:
    """A value a column can hold: the driver refuses an integer past int4 (JSON allows 2^70) or an
    infinite float (Python's JSON reads `Infinity`) with an error of its own, once the statement is sent."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return INT4_MIN <= value <= INT4_MAX
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, str)


def page_request(
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    sort: str,
    arity: int,
) -> PageRequest:
    """Validate the Relay arguments; `arity` is the number of values in a cursor (sort keys + id)."""
    for name, value in (("first", first), ("last", last)):
        if value is not None and not 0 <= value <= MAX_PAGE_SIZE:
            raise BadInput(f"`{name}` must be between 0 and {MAX_PAGE_SIZE}, got {value}.", name)
    if first is not None and last is not None:
        raise BadInput("Pass either `first` or `last`, not both.", "last")
    if last is not None or (before is not None and first is None):
        cursor = decode_cursor(before, sort, arity, "before") if before else None
        if after:
            raise BadInput("`after` cannot be combined with `last`/`before`.", "after")
        size = DEFAULT_PAGE_SIZE if last is None else last
        return PageRequest(sort, size, True, cursor, before is not None)
    cursor = decode_cursor(after, sort, arity, "after") if after else None
    if before:
        raise BadInput("`before` cannot be combined with `first`/`after`.", "before")
    size = DEFAULT_PAGE_SIZE if first is None else first
    return PageRequest(sort, size, False, cursor, after is not None)


def make_page(request: PageRequest, rows: list[Any], keys: list[tuple[Any, ...]]) -> Page:
    """`rows` were fetched in the request's direction with one extra row as a look-ahead."""
    more = len(rows) > request.size
    rows, keys = rows[: request.size], keys[: request.size]
    if request.backward:
        rows.reverse()
        keys.reverse()
        return Page(request.sort, rows, keys, has_next_page=request.has_cursor_behind, has_previous_page=more)
    return Page(request.sort, rows, keys, has_next_page=more, has_previous_page=request.has_cursor_behind)


def keyset_order(columns: list[tuple[str, bool]], backward: bool) -> tuple[str, str]:
    """For a hand-written page statement: the select list naming each (expression, descending)
    sort key `sort_<i>`, and the ORDER BY over them in the direction the page is read (backward:
    the reverse order, which `make_page` turns round)."""
    selected = ", ".join(f"{expression} AS sort_{i}" for i, (expression, _) in enumerate(columns))
    order = ", ".join(
        f"sort_{i} {'DESC' if descending != backward else 'ASC'}" for i, (_, descending) in enumerate(columns)
    )
    return selected, order


def keyset_condition(columns: list[tuple[str, bool]], values: tuple[Any, ...]) -> tuple[str, list[Any]]:
    """SQL for "strictly after `values`" in the order given by (expression, descending) pairs.

    Written as an OR-chain rather than a row comparison so each column may sort its own way.
    """
    clauses: list[str] = []
    params: list[Any] = []
    for position, (column, descending) in enumerate(columns):
        parts = [f"{prev} = ?" for prev, _ in columns[:position]]
        params.extend(values[:position])
        parts.append(f"{column} {'<' if descending else '>'} ?")
        params.append(values[position])
        clauses.append("(" + " AND ".join(parts) + ")")
    return "(" + " OR ".join(clauses) + ")", params


async def newest_first(queryset: Any, sort: str, first: int | None, after: str | None) -> Page:
    """Forward pages of a Tortoise queryset, newest first by id (ids grow with time).

    For ledgers and order lists, which are only ever paged forward from the newest.
    """
    request = page_request(first, after, None, None, sort, 1)
    if request.cursor is not None:
        (last_id,) = request.cursor
        if not isinstance(last_id, int):
            raise BadInput("`after` is not a valid cursor.", "after")
        queryset = queryset.filter(id__lt=last_id)
    rows = list(await queryset.order_by("-id").limit(request.size + 1))
    return make_page(request, rows, [(row.id,) for row in rows])


async def queryset_page(queryset: Any, request: PageRequest, columns: list[tuple[str, bool, type]]) -> Page:
    """A keyset page of a Tortoise queryset in the order of `columns`, (field, descending, int or
    str) triples ending with the id tie-break. For the small admin lists (discount codes, shipping
    methods), whose sorts are plain integer or text columns; the listings with computed sort keys
    write their statement by hand (`keyset_condition`)."""
    if request.cursor is not None:
        if not all(isinstance(value, kind) for value, (_, _, kind) in zip(request.cursor, columns, strict=True)):
            argument = "before" if request.backward else "after"
            raise BadInput(f"`{argument}` is not a valid cursor.", argument)
        queryset = queryset.filter(_after(columns, request.cursor, request.backward))
    order = [f"{'-' if descending != request.backward else ''}{field}" for field, descending, _ in columns]
    rows = list(await queryset.order_by(*order).limit(request.size + 1))
    keys = [tuple(getattr(row, field) for field, _, _ in columns) for row in rows]
    return make_page(request, rows, keys)


def _after(columns: list[tuple[str, bool, type]], values: tuple[Any, ...], backward: bool) -> Q:
    """Tortoise's Q for "strictly after `values`" in the order read (`keyset_condition`'s OR-chain)."""
    chain = []
    for position, (field, descending, _) in enumerate(columns):
        equal = {prev: value for (prev, _, _), value in zip(columns[:position], values, strict=False)}
        comparison = "lt" if descending != backward else "gt"
        chain.append(Q(**equal, **{f"{field}__{comparison}": values[position]}))
    return Q(*chain, join_type="OR")
