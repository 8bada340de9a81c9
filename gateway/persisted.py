"""Persisted queries: Apollo's automatic persisted queries (APQ) and an allow-list of documents.

A client names a document by the SHA-256 of its text in `extensions.persistedQuery.sha256Hash`
instead of sending the text. `PersistedQueries.resolve()` turns a request's `query` and
`extensions` into the document to execute, whatever the mode:

- `apq` (default): an unknown hash answers `PERSISTED_QUERY_NOT_FOUND`; the client (Apollo's
  persisted-queries link) then sends hash and text together, the hash is checked against the
  text, and once the document has been accepted (parsed and validated) it is stored.
- `allowlist`: only the documents of a manifest (`generate-persisted-query-manifest`'s format)
  run, named by hash or sent in full; nothing is ever registered.
- `off`: any `persistedQuery` extension answers `PERSISTED_QUERY_NOT_SUPPORTED`, which makes the
  Apollo link stop sending hashes.

Registered documents live in a bounded in-process LRU and, when Redis is configured, under
`apq:<sha256>` in Redis, so every worker knows what any worker registered. Redis trouble only
costs the sharing: lookups and writes fall back to the process's own store, never to an error.

Independent of Strawberry, so a pure-ASGI layer (the response cache) can resolve a request
the same way before the GraphQL view sees it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphql import GraphQLError, OperationDefinitionNode, parse
from redis.asyncio import Redis

from gateway.breaker import Breaker
from gateway.graphql_http import RequestError
from models.error_codes import GraphQLErrorCode

log = logging.getLogger("gateway.persisted")

APQ, ALLOWLIST, OFF = "apq", "allowlist", "off"
MODES = (APQ, ALLOWLIST, OFF)
REDIS_PREFIX = "apq:"
# Long enough that a deployed client's documents stay registered between releases; a document
# that expired costs one extra round trip (NOT_FOUND, then hash and text).
REDIS_TTL_SECONDS = 30 * 24 * 3600
_SHA256 = re.compile(r"[0-9a-f]{64}")


def sha256_hex(document: str) -> str:
    return hashlib.sha256(document.encode("utf-8")).hexdigest()


# --- Errors ---------------------------------------------------------------------------------
# Apollo's clients recognise the first two by message or by code, so both are kept exactly.


def not_found() -> RequestError:
    # 200 under application/json: every version of Apollo's link retries on it, while older ones
    # turn persisted queries off for good on a 400 or 500. Under graphql-response+json a result
    # without data needs a 4xx; 404 is what Apollo's own servers send there.
    return RequestError(
        404,
        "PersistedQueryNotFound",
        GraphQLErrorCode.PERSISTED_QUERY_NOT_FOUND,
        legacy_status=200,
        headers={"Cache-Control": "no-store"},
    )


def not_supported() -> RequestError:
    return RequestError(400, "PersistedQueryNotSupported", GraphQLErrorCode.PERSISTED_QUERY_NOT_SUPPORTED)


def hash_mismatch() -> RequestError:
    return RequestError(
        400,
        "The persisted query's sha256Hash does not match the query sent with it.",
        GraphQLErrorCode.PERSISTED_QUERY_HASH_MISMATCH,
    )


def not_in_list() -> RequestError:
    return RequestError(
        404,
        "This persisted query is not on the gateway's allow-list.",
        GraphQLErrorCode.PERSISTED_QUERY_NOT_IN_LIST,
        headers={"Cache-Control": "no-store"},
    )


def query_not_allowed() -> RequestError:
    return RequestError(
        403,
        "Only the operations on the gateway's allow-list may run; this one is not on it.",
        GraphQLErrorCode.QUERY_NOT_IN_ALLOWLIST,
    )


def missing_query() -> RequestError:
    return RequestError(400, "The request has no `query` (nor a persisted query hash).")


# --- Stores ---------------------------------------------------------------------------------


class LocalDocuments:
    """An LRU of documents by hash, bounded both in entries and in characters held."""

    def __init__(self, max_entries: int = 1000, max_chars: int = 16_000_000) -> None:
        self.max_entries = max_entries
        self.max_chars = max_chars
        self.chars = 0
        self.documents: OrderedDict[str, str] = OrderedDict()

    def get(self, sha256: str) -> str | None:
        document = self.documents.get(sha256)
        if document is not None:
            self.documents.move_to_end(sha256)
        return document

    def put(self, sha256: str, document: str) -> None:
        previous = self.documents.pop(sha256, None)
        if previous is not None:
            self.chars -= len(previous)
        self.documents[sha256] = document
        self.chars += len(document)
        while len(self.documents) > self.max_entries or (self.chars > self.max_chars and len(self.documents) > 1):
            _, dropped = self.documents.popitem(last=False)
            self.chars -= len(dropped)

    def __contains__(self, sha256: str) -> bool:
        return sha256 in self.documents

    def __len__(self) -> int:
        return len(self.documents)


class RedisDocuments:
    """Documents shared by every worker through Redis; any failure reads as "not stored".

    Calls go through the process's Redis circuit breaker (gateway/breaker.py), so an outage costs
    one timeout per breaker interval instead of one per request.
    """

    def __init__(self, redis: Redis, ttl: int = REDIS_TTL_SECONDS, breaker: Breaker | None = None) -> None:
        self.redis = redis
        self.ttl = ttl
        self.breaker = breaker if breaker is not None else Breaker()
        self.last_failure_log = 0.0

    async def get(self, sha256: str) -> str | None:
        try:
            with self.breaker:
                value = await self.redis.get(REDIS_PREFIX + sha256)
        except Exception as error:  # Redis trouble must never fail a request
            self._failed("read", error)
            return None
        if value is None:
            return None
        return value.decode("utf-8") if isinstance(value, bytes) else str(value)

    async def put(self, sha256: str, document: str) -> None:
        try:
            with self.breaker:
                await self.redis.set(REDIS_PREFIX + sha256, document.encode("utf-8"), ex=self.ttl)
        except Exception as error:  # Redis trouble must never fail a request
            self._failed("write", error)

    def _failed(self, action: str, error: BaseException) -> None:
        now = time.monotonic()
        if now - self.last_failure_log >= 60:
            self.last_failure_log = now
            log.warning(
                "persisted queries: Redis %s failed (%s: %s); using this process's store until it answers",
                action,
                type(error).__name__,
                error,
            )


class DocumentStore:
    """The process's LRU in front of the optional shared Redis store."""

    def __init__(self, local: LocalDocuments | None = None, shared: RedisDocuments | None = None) -> None:
        self.local = local if local is not None else LocalDocuments()
        self.shared = shared

    async def get(self, sha256: str) -> str | None:
        document = self.local.get(sha256)
        if document is None and self.shared is not None:
            document = await self.shared.get(sha256)
            # A document read back must still hash right: Redis may be shared with other code.
            if document is not None and sha256_hex(document) == sha256:
                self.local.put(sha256, document)
            else:
                document = None
        return document

    async def put(self, sha256: str, document: str) -> None:
        if sha256 in self.local:
            return  # already registered here, and so (unless it expired) in Redis too
        self.local.put(sha256, document)
        if self.shared is not None:
            await self.shared.put(sha256, document)


# --- Resolution -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Resolved:
    """The document a request runs. `register` says it arrived with its (checked) hash in APQ
    mode and should be stored once it has been accepted by the GraphQL engine."""

    document: str
    sha256: str | None = None
    register: bool = False


class PersistedQueries:
    def __init__(
        self, mode: str = APQ, store: DocumentStore | None = None, manifest: Mapping[str, str] | None = None
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown persisted query mode {mode!r}")
        if mode == ALLOWLIST and manifest is None:
            raise ValueError("allow-list mode needs a manifest")
        self.mode = mode
        self.store = store if store is not None else DocumentStore()
        self.manifest: Mapping[str, str] = manifest or {}

    async def resolve(self, query: str | None, extensions: Mapping[str, Any] | None) -> Resolved:
        """The document to execute; raises `RequestError` when there is none to run."""
        sha256 = requested_hash(extensions)
        if self.mode == OFF:
            if sha256 is not None:
                raise not_supported()
            return _free_form(query)
        if self.mode == ALLOWLIST:
            return self._from_allowlist(query, sha256)
        if sha256 is None:
            return _free_form(query)
        if query is not None:
            if sha256_hex(query) != sha256:
                raise hash_mismatch()
            return Resolved(query, sha256, register=sha256 not in self.store.local)
        document = await self.store.get(sha256)
        if document is None:
            raise not_found()
        return Resolved(document, sha256)

    async def register(self, resolved: Resolved) -> None:
        """Store an APQ document after the engine accepted it (garbage is never stored)."""
        if resolved.register and resolved.sha256 is not None and self.mode == APQ:
            await self.store.put(resolved.sha256, resolved.document)

    def _from_allowlist(self, query: str | None, sha256: str | None) -> Resolved:
        if sha256 is None:
            if query is None:
                raise missing_query()
            # A client that sends the full text of an allowed document is let through too.
            if sha256_hex(query) not in self.manifest:
                raise query_not_allowed()
            return Resolved(query)
        if query is not None and sha256_hex(query) != sha256:
            raise hash_mismatch()
        document = self.manifest.get(sha256)
        if document is None:
            # Registration is refused: an unknown hash with its text is still not allowed.
            raise query_not_allowed() if query is not None else not_in_list()
        return Resolved(document, sha256)


def requested_hash(extensions: Mapping[str, Any] | None) -> str | None:
    """The hash named by `extensions.persistedQuery`, None when there is none; 400 when malformed."""
    if not extensions or extensions.get("persistedQuery") is None:
        return None
    persisted = extensions["persistedQuery"]
    if not isinstance(persisted, dict):
        raise RequestError(
            400, "`extensions.persistedQuery` must be an object.", GraphQLErrorCode.PERSISTED_QUERY_INVALID
        )
    if persisted.get("version") != 1:
        raise RequestError(
            400,
            "Unsupported persisted query version: only version 1 is known.",
            GraphQLErrorCode.PERSISTED_QUERY_INVALID,
        )
    sha256 = persisted.get("sha256Hash")
    if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256.lower()):
        raise RequestError(
            400,
            "`extensions.persistedQuery.sha256Hash` must be a SHA-256 in hex (64 characters).",
            GraphQLErrorCode.PERSISTED_QUERY_INVALID,
        )
    return sha256.lower()


def _free_form(query: str | None) -> Resolved:
    if query is None or not query.strip():
        raise missing_query()
    return Resolved(query)


# --- Allow-list manifest --------------------------------------------------------------------


def load_manifest(path: str | Path) -> dict[str, str]:
    """The operations of a persisted query manifest, hash -> document; ValueError when unusable.

    The format is the one `@apollo/generate-persisted-query-manifest` writes:
    `{"format": "apollo-persisted-query-manifest", "version": 1,
      "operations": [{"id": sha256, "body": document, "name": ..., "type": ...}]}`.
    Every id must be the SHA-256 of its body: a wrong one would silently never match.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise ValueError(f"cannot read {str(path)!r}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{str(path)!r} is not UTF-8 text") from None
    try:
        data = json.loads(text)
    except ValueError as error:
        raise ValueError(f"{str(path)!r} is not valid JSON ({error})") from None
    if (
        not isinstance(data, dict)
        or data.get("format") != "apollo-persisted-query-manifest"
        or data.get("version") != 1
    ):
        raise ValueError(f"{str(path)!r} is not an apollo-persisted-query-manifest, version 1")
    operations = data.get("operations")
    if not isinstance(operations, list):
        raise ValueError(f"{str(path)!r} has no list of operations")
    documents: dict[str, str] = {}
    for index, operation in enumerate(operations):
        if (
            not isinstance(operation, dict)
            or not isinstance(operation.get("body"), str)
            or not isinstance(operation.get("id"), str)
        ):
            raise ValueError(f"{str(path)!r}: operation {index} needs a string `id` and `body`")
        sha256 = operation["id"].lower()
        if sha256 != sha256_hex(operation["body"]):
            raise ValueError(
                f"{str(path)!r}: operation {index} ({operation.get('name') or 'unnamed'}): "
                "`id` is not the SHA-256 of its `body`"
            )
        documents[sha256] = operation["body"]
    return documents


def operation_names(manifest: Mapping[str, str]) -> set[str]:
    """The names of the operations an allow-list holds: the only GraphQL names metrics use as labels
    (a set the operator wrote, where a client could make up any number of names)."""
    names: set[str] = set()
    for document in manifest.values():
        try:
            parsed = parse(document, no_location=True)
        except GraphQLError:
            continue  # never runs: refused when requested, like any document that does not parse
        names.update(
            definition.name.value
            for definition in parsed.definitions
            if isinstance(definition, OperationDefinitionNode) and definition.name is not None
        )
    return names
