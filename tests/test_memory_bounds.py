"""Process-wide memoisation stays small: a worker that serves months of new orders, carts and
pages must not hold on to a string for every ID or cursor it ever wrote (the soak, issue 12)."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest

from resolvers.pagination import _cached_cursor, encode_cursor
from schema.ids import encode_id
from schema.live import Sent

MIB = 1024 * 1024


@pytest.fixture
def traced() -> Iterator[Callable[[], int]]:
    """Bytes still allocated since the fixture started (after a collection)."""
    gc.collect()
    tracemalloc.start()
    start = tracemalloc.get_traced_memory()[0]

    def retained() -> int:
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - start

    try:
        yield retained
    finally:
        tracemalloc.stop()
        encode_id.cache_clear()
        _cached_cursor.cache_clear()


def test_ids_of_new_objects_are_not_kept_for_ever(traced: Callable[[], int]) -> None:
    # Every order, line, cart and shipment gets an ID nobody asks for again a day later.
    for pk in range(1, 100_001):
        encode_id("OrderLine", pk)
    assert traced() < 4 * MIB


def test_cursors_of_new_rows_are_not_kept_for_ever(traced: Callable[[], int]) -> None:
    for pk in range(1, 30_001):
        encode_cursor("PRICE_ASC", (Decimal(pk) / 100, pk))
    assert traced() < 4 * MIB


def test_a_listing_page_is_still_encoded_from_memory() -> None:
    # The reason the memo exists: the same page's IDs and cursors, request after request.
    encode_id.cache_clear()
    _cached_cursor.cache_clear()
    for _ in range(2):
        for pk in range(1, 301):
            encode_id("ProductVariant", pk)
        for pk in range(1, 51):
            encode_cursor("NAME_ASC", (f"product {pk}", pk))
    assert encode_id.cache_info().hits == 300
    assert _cached_cursor.cache_info().hits == 50


def test_a_subscription_remembers_the_latest_rows_it_sent_only() -> None:
    # A staff stream of every order sees a new order after another for as long as it is open.
    sent = Sent(max_rows=100)
    for order_id in range(1, 10_001):
        sent.put(order_id, 1, "PLACED")
    assert len(sent) == 100
    assert sent.get(1) is None
    assert sent.get(10_000) == (1, "PLACED")


def test_a_row_sent_again_is_remembered_as_recent() -> None:
    # The order a subscription follows keeps changing: it must not be the first forgotten.
    sent = Sent(max_rows=2)
    sent.put("followed", 1, "PLACED")
    sent.put("other", 1, "PLACED")
    sent.put("followed", 2, "PAID")
    sent.put("newest", 1, "PLACED")
    assert sent.get("followed") == (2, "PAID")
    assert sent.get("other") is None
