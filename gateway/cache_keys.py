"""Cache keys: which requests may be cached, and one key per distinct answer.

Two levels, so that a hit never parses GraphQL (nor JSON):

1. The *request digest*: BLAKE2b of the raw request as it arrived (method, `Accept`, and the raw
   query string of a GET or content type and body of a POST). Hashing ~1 KB costs about a microsecond. An
   in-process map (`Aliases`, bounded) remembers what each digest resolved to: an entry key, or
   "not cacheable". A repeated request (a storefront sends byte-identical requests all day) goes
   from digest to entry in two dict lookups.
2. The *entry key*: for a digest not seen before in this process, the request is decoded and its
   document normalized: graphql-core's `parse` + `print_ast` drop whitespace, comments and
   insignificant commas. (It is decoded by the GraphQL view's own rules, so a request the view
   would refuse is never answered from the cache; an Apollo persisted-query hash is looked up in
   the persisted-query store, so hash-only GETs share the entry of their full text.) The key hashes the normalized document, the variables (canonical JSON:
   sorted keys, so `{"a":1,"b":2}` and `{"b":2,"a":1}` agree), the operation actually selected
   (so an explicit `operationName` naming the only operation equals none), the `Accept` header
   (the response's media type follows it) and a prefix holding everything else that changes
   answers for everybody at once: the store currency, whether prices include tax, the schema
   (a deploy with a changed schema must not serve the old shapes from Redis), the format and,
   once read at start-up, the database's identity (gateway/db_identity.py: answers stored for
   another database, or for this one before a restore, must not be served).

   Spelling variants of one query therefore share an entry (in both tiers, across workers) after
   one normalization each per process; only anonymous requests reach this point (staff see
   drafts), so visibility needs no part of the key. The gateway has no per-language content, so
   `Accept-Language` is not part of it: it would only split entries.

Cacheable: one `query` operation whose root fields are all public catalogue fields (`products`,
`product`, `categories`, `category`, `__typename`), fragments at the root included. Carts, orders,
customers, admin fields, `node`/`nodes` (they can reach any type), introspection, mutations and
subscriptions are not. Parsing uses the same token cap as the schema, so a document the schema
would refuse costs no more here than there.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationType,
    SelectionSetNode,
    get_operation_ast,
    parse,
    print_ast,
)

from gateway.graphql_http import GraphQLParams, RequestError, params_from_body, params_from_query_string

PUBLIC_ROOT_FIELDS = frozenset({"products", "product", "categories", "category", "__typename"})
FORMAT = b"2"  # bump when the stored entry's layout changes


class NotCacheable:
    """What a request digest maps to when the request must go past the cache."""

    def __repr__(self) -> str:
        return "NOT_CACHEABLE"


NOT_CACHEABLE = NotCacheable()


@dataclass(frozen=True, slots=True)
class Normalized:
    document: str  # print_ast of the parsed document
    operation_name: str | None  # the operation that runs (None: an anonymous one)


def request_digest(method: bytes, accept: bytes, raw: bytes) -> bytes:
    return hashlib.blake2b(method + b"\0" + accept + b"\0" + raw, digest_size=16).digest()


def path_key(prefix: bytes, path: str) -> str:
    """The key of a non-GraphQL answer cached whole (the sitemap's), by its path: never one of a
    GraphQL request's keys, which hash the document and variables after the prefix."""
    return hashlib.blake2b(prefix + b"\0path\0" + path.encode(), digest_size=20).hexdigest()


def key_prefix(currency: str, prices_include_tax: bool, schema_sdl: str) -> bytes:
    schema_hash = hashlib.blake2b(schema_sdl.encode(), digest_size=8).hexdigest()
    return b"|".join((FORMAT, currency.encode(), b"tax" if prices_include_tax else b"net", schema_hash.encode()))


def with_database(prefix: bytes, identity: str) -> bytes:
    """The prefix for one database's answers (`gateway.db_identity.database_identity`)."""
    return prefix + b"|db:" + identity.encode()


class Normalizer:
    """Document -> `Normalized` (or None: not cacheable), remembered for recent documents."""

    def __init__(self, max_tokens: int, maxsize: int = 512) -> None:
        self.max_tokens = max_tokens
        # Keyed by the document text: a storefront sends a few documents with many variables.
        self.normalize = lru_cache(maxsize=maxsize)(self._normalize)

    def _normalize(self, query: str, operation_name: str | None) -> Normalized | None:
        try:
            document = parse(query, no_location=True, max_tokens=self.max_tokens)
        except GraphQLError:
            return None  # the schema answers it (with its error); nothing to cache
        operation = get_operation_ast(document, operation_name or None)
        if operation is None or operation.operation != OperationType.QUERY:
            return None
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        if not _public_root(operation.selection_set, fragments, set()):
            return None
        return Normalized(print_ast(document), operation.name.value if operation.name else None)


def _public_root(selections: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode], seen: set[str]) -> bool:
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            if selection.name.value not in PUBLIC_ROOT_FIELDS:
                return False
        elif isinstance(selection, InlineFragmentNode):
            if not _public_root(selection.selection_set, fragments, seen):
                return False
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is None or name in seen:
                return False  # unknown or cyclic: invalid, the schema says so
            seen.add(name)
            if not _public_root(fragment.selection_set, fragments, seen):
                return False
        else:
            return False
    return True


def decode(is_get: bool, content_type: bytes, raw: bytes) -> GraphQLParams | None:
    """The request's parameters as the GraphQL view reads them (gateway/graphql_http.py), or None
    for a request the view would refuse: the cache never answers what the view would not."""
    try:
        if is_get:
            # Decoded as Starlette decodes it for the view, so both read the same request.
            return params_from_query_string(dict(parse_qsl(raw.decode("latin-1"), keep_blank_values=True)))
        return params_from_body(content_type.decode("latin-1"), raw)
    except RequestError:
        return None


def entry_key(prefix: bytes, accept: bytes, normalized: Normalized, variables: dict[str, Any]) -> str:
    try:
        canonical = json.dumps(variables, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError):
        canonical = repr(sorted(variables.items()))  # not reachable from JSON input; keep distinct
    material = b"\0".join(
        (prefix, accept, normalized.document.encode(), canonical.encode(), (normalized.operation_name or "").encode())
    )
    return hashlib.blake2b(material, digest_size=20).hexdigest()


class Aliases:
    """Request digest -> entry key or NOT_CACHEABLE; the latest `max_items` kept (a dropped one is
    merely normalized again)."""

    def __init__(self, max_items: int = 10_000) -> None:
        self.max_items = max_items
        self._items: OrderedDict[bytes, str | NotCacheable] = OrderedDict()

    def get(self, digest: bytes) -> str | NotCacheable | None:
        return self._items.get(digest)

    def put(self, digest: bytes, target: str | NotCacheable) -> None:
        self._items[digest] = target
        if len(self._items) > self.max_items:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)
