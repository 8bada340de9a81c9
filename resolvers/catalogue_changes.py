"""Which cached catalogue data a committed change makes stale: tags, recorded in the outbox.

A tag names something a cached response may contain: one object (`product:4`, `category:2`) or a list whose membership, order or counts can change (`products`: every listing,
search, facet and lookup by slug; `categories`: the category lists and lookups). The response
cache tags each stored response with what its execution touched (schema/catalogue.py) and evicts
by these tags. They are recorded inside the change's own transaction, so a rolled-back change
evicts nothing, and they are announced only after the commit: nothing can re-cache the old state
after its eviction (gateway/cache.py checks that too, for requests already in flight).
"""

from __future__ import annotations

from collections.abc import Iterable

from models.changes import CACHE, CATALOGUE
from resolvers import outbox

PRODUCTS = "products"
CATEGORIES = "categories"


def product(product_id: int) -> str:
    """The product, its variants (price, stock, availability), options and images: a variant has no
    tag of its own, as a product's price range and availability are built from its variants, so any
    answer showing a variant changes with its product anyway; one tag per product keeps the tags
    a listing records (and stores) to one per product."""
    return f"product:{product_id}"


def category(category_id: int) -> str:
    return f"category:{category_id}"


def record(tags: Iterable[str]) -> None:
    """Note, in the current transaction, that cached responses with any of `tags` are stale."""
    stale = frozenset(tags)
    if stale:
        outbox.record(outbox.Change(CATALOGUE, {"tags": sorted(stale)}, topics=(CACHE,), tags=stale))


def availability_flipped(before: int, after: int) -> bool:
    """Whether a stock row went between "some available" and "none available".

    A variant's availability is summed over its warehouses, so a row that flips is the only way the
    variant can flip: this over-approximates (the sum may stay positive) and never misses one. A
    flip changes listings filtered on `inStock` and their counts, so it evicts `products` too.
    """
    return (before > 0) != (after > 0)
