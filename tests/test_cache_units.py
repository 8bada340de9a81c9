"""The response cache's parts on their own: the byte-bounded LRU tier, keys and normalization."""

from __future__ import annotations

import time

from gateway.cache_keys import NOT_CACHEABLE, Aliases, Normalizer, decode, entry_key, key_prefix
from gateway.cache_local import ENTRY_OVERHEAD, Entry, LocalTier
from gateway.cache_stats import CacheStats

PREFIX = key_prefix("EUR", True, "type Query { x: Int }")


def entry(size: int, *tags: str, ttl: float = 60.0) -> Entry:
    return Entry(b"x" * size, b"application/json", b'"e"', "Op", tuple(tags), time.time() + ttl)


def test_the_local_tier_is_bounded_in_bytes_and_evicts_the_least_recently_used():
    stats = CacheStats()
    budget = 3 * (1000 + ENTRY_OVERHEAD)
    tier = LocalTier(budget, stats)
    for key in ("a", "b", "c"):
        assert tier.put(key, entry(1000), tier.seq)
    assert tier.bytes == budget
    assert tier.get("a") is not None  # now "b" is the least recently used
    assert tier.put("d", entry(1000), tier.seq)
    assert tier.get("b") is None and all(tier.get(k) is not None for k in "acd")
    assert tier.bytes <= budget and stats.evictions["size"] == 1
    # One entry bigger than the whole budget is refused and evicts nothing.
    assert not tier.put("huge", entry(budget), tier.seq)
    assert len(tier) == 3
    # A replaced entry does not count twice.
    assert tier.put("a", entry(500), tier.seq)
    assert tier.bytes == 2 * (1000 + ENTRY_OVERHEAD) + 500 + ENTRY_OVERHEAD


def test_a_zero_budget_stores_nothing():
    tier = LocalTier(0, CacheStats())
    assert not tier.put("a", entry(1), tier.seq) and tier.get("a") is None


def test_entries_expire():
    stats = CacheStats()
    tier = LocalTier(10_000, stats)
    tier.put("old", entry(10, ttl=-1), tier.seq)
    tier.put("new", entry(10), tier.seq)
    assert tier.get("old") is None and tier.get("new") is not None
    assert stats.evictions["expired"] == 1 and len(tier) == 1


def test_invalidation_by_tag_and_the_race_with_a_fill_in_flight():
    stats = CacheStats()
    tier = LocalTier(100_000, stats)
    tier.put("listing", entry(10, "products", "product:1", "product:7"), tier.seq)
    tier.put("detail", entry(10, "product:2"), tier.seq)
    started = tier.seq  # a fill reads the database now...
    assert tier.invalidate({"product:7"}) == 1  # ...a change commits and is announced...
    assert tier.get("listing") is None and tier.get("detail") is not None
    # ...and the fill, finished, must not put back what it read before the change.
    assert not tier.put("listing", entry(10, "products", "product:7"), started)
    assert tier.put("other", entry(10, "product:2"), started)  # untouched tags may be stored
    tier.clear()
    assert len(tier) == 0 and tier.bytes == 0
    assert not tier.put("other", entry(10, "product:2"), started)  # a clear refuses all older fills


def test_entries_survive_the_trip_through_redis_bytes():
    original = entry(20, "products", "product:3")
    copy = Entry.decode(original.encode())
    assert copy is not None and copy.body == original.body and copy.tags == original.tags
    assert copy.etag == original.etag and copy.operation == "Op" and copy.length == b"20"
    assert Entry.decode(b"garbage") is None


def test_normalization_ignores_whitespace_comments_and_commas():
    normalize = Normalizer(max_tokens=5000).normalize
    a = normalize("query Q { products(first: 2) { totalCount } }", None)
    b = normalize("# the listing\nquery   Q {\n  products(first: 2,) {\n totalCount # count\n }\n}\n", None)
    assert a is not None and a == b
    assert normalize("query Q { products(first: 3) { totalCount } }", None) != a
    # Naming the only operation explicitly is the same request.
    assert normalize("query Q { products(first: 2) { totalCount } }", "Q") == a


def test_only_public_catalogue_queries_are_cacheable():
    normalize = Normalizer(max_tokens=5000).normalize
    assert normalize('{ product(slug: "x") { name } category(slug: "y") { name } __typename }', None)
    assert normalize("query { ...F } fragment F on Query { categories { totalCount } }", None)
    assert normalize("query { ... on Query { products { totalCount } } }", None)
    for query in (
        '{ cart(token: "t") { id } }',
        '{ products { totalCount } cart(token: "t") { id } }',
        '{ order(token: "t") { id } }',
        "{ me { email } }",
        "{ orders { totalCount } }",
        '{ node(id: "x") { id } }',
        "{ __schema { types { name } } }",
        'mutation { tokenCreate(email: "a", password: "b") { accessToken } }',
        "subscription { orderEvents { id } }",
        "query { ...F } fragment F on Query { me { email } }",
        "query A { products { totalCount } } query B { me { email } }",  # two operations, no name
        "{ products { ",  # a syntax error is the schema's to answer
    ):
        assert normalize(query, None) is None, query
    two = "query A { products { totalCount } } query B { me { email } }"
    assert normalize(two, "A") is not None and normalize(two, "B") is None


def test_the_key_covers_variables_operation_and_accept_but_not_variable_order():
    normalize = Normalizer(max_tokens=5000).normalize
    doc = normalize(
        "query A($n: Int) { products(first: $n) { totalCount } } query B { categories { totalCount } }", "A"
    )
    other = normalize(
        "query A($n: Int) { products(first: $n) { totalCount } } query B { categories { totalCount } }", "B"
    )
    assert doc is not None and other is not None
    key = entry_key(PREFIX, b"application/json", doc, {"n": 2, "m": 1})
    assert entry_key(PREFIX, b"application/json", doc, {"m": 1, "n": 2}) == key
    assert entry_key(PREFIX, b"application/json", doc, {"n": 3, "m": 1}) != key
    assert entry_key(PREFIX, b"application/json", other, {"n": 2, "m": 1}) != key
    assert entry_key(PREFIX, b"application/graphql-response+json", doc, {"n": 2, "m": 1}) != key
    assert (
        entry_key(key_prefix("USD", True, "type Query { x: Int }"), b"application/json", doc, {"n": 2, "m": 1}) != key
    )
    assert (
        entry_key(key_prefix("EUR", False, "type Query { x: Int }"), b"application/json", doc, {"n": 2, "m": 1}) != key
    )
    assert (
        entry_key(key_prefix("EUR", True, "type Query { y: Int }"), b"application/json", doc, {"n": 2, "m": 1}) != key
    )


def test_requests_are_decoded_as_the_view_decodes_them():
    get = decode(True, b"", b"query=%7B+products+%7B+totalCount+%7D+%7D&variables=%7B%22a%22%3A1%7D&operationName=")
    assert get is not None and get.query == "{ products { totalCount } }" and get.variables == {"a": 1}
    assert get.operation_name is None
    assert decode(True, b"", b"query=x&variables=%7Bnot-json") is None
    json_type = b"application/json"
    assert decode(False, json_type, b'{"query": "{ x }", "variables": null}').variables is None
    assert decode(False, json_type, b'[{"query": "{ x }"}]') is None  # batches are refused by the view
    assert decode(False, json_type, b'{"query": "{ x }", "variables": [1]}') is None
    assert decode(False, json_type, b'{"query": "{ x }", "operationName": 0}') is None
    assert decode(False, b"application/json; charset=latin1", b'{"query": "{ x }"}') is None  # 415 at the view
    persisted = decode(False, json_type, b'{"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "ab"}}}')
    assert persisted is not None and persisted.query is None  # the persisted-query store finds its text


def test_aliases_are_bounded():
    aliases = Aliases(max_items=2)
    aliases.put(b"1", "k1")
    aliases.put(b"2", NOT_CACHEABLE)
    aliases.put(b"3", "k3")
    assert aliases.get(b"1") is None and aliases.get(b"2") is NOT_CACHEABLE and len(aliases) == 2
