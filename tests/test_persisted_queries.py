"""Persisted queries: APQ over GET and POST, shared through Redis, an allow-list mode, and Apollo
Client's own persisted-queries link against a live gateway."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from gateway import persisted
from gateway.app import create_app
from gateway.breaker import Breaker
from gateway.graphql_http import RequestError
from gateway.persisted import DocumentStore, LocalDocuments, PersistedQueries, RedisDocuments, load_manifest, sha256_hex
from gateway.settings import ConfigError, load_settings
from models.cart import Cart
from tests.cache_client import BYPASS, HIT, STORED
from tests.node_clients import live_gateway, node_or_skip, run_node

GQL = {"accept": "application/graphql-response+json"}
NOT_FOUND = {"errors": [{"message": "PersistedQueryNotFound", "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}]}


def fresh_query() -> str:
    """A document no other test registered (the app fixture lives for the whole session)."""
    return f"query P{uuid.uuid4().hex}($first: Int!) {{ products(first: $first) {{ edges {{ node {{ slug }} }} }} }}"


def apq(sha256: str) -> dict:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256}}


async def get_hash(client: httpx.AsyncClient, sha256: str, variables: dict | None = None, headers: dict | None = None):
    """The request Apollo's link sends first with useGETForHashedQueries: no `query` at all."""
    params = {"extensions": json.dumps(apq(sha256))}
    if variables is not None:
        params["variables"] = json.dumps(variables)
    return await client.get("/graphql", params=params, headers=headers or {})


def make_client(db, **env: str) -> httpx.AsyncClient:
    app = create_app(load_settings({"DATABASE_URL": db.url, "RATE_LIMIT_PER_SECOND": "0", **env}))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway.test")


# --- The APQ flow ---------------------------------------------------------------------------


async def test_unknown_hash_then_registration_then_hash_only_over_get_and_post(client):
    query = fresh_query()
    sha256 = sha256_hex(query)

    missed = await get_hash(client, sha256, {"first": 2})
    assert missed.status_code == 200 and missed.json() == NOT_FOUND  # exactly what Apollo's link looks for
    assert missed.headers["cache-status"] == "gateway; fwd=bypass" and missed.headers["x-request-id"]
    assert missed.headers["cache-control"] == "no-store"  # a CDN must not remember the miss
    # Clients that accept application/graphql-response+json get a 4xx for a result without data.
    assert (await get_hash(client, sha256, {"first": 2}, GQL)).status_code == 404

    registered = await client.post(
        "/graphql", json={"query": query, "variables": {"first": 2}, "extensions": apq(sha256)}
    )
    assert registered.status_code == 200
    data = registered.json()["data"]
    assert len(data["products"]["edges"]) == 2

    for response in (
        await get_hash(client, sha256, {"first": 2}),
        await get_hash(client, sha256, {"first": 2}, GQL),
        await client.post("/graphql", json={"variables": {"first": 2}, "extensions": apq(sha256)}),
    ):
        assert response.status_code == 200 and response.json()["data"] == data
    # Variables still apply to a persisted document.
    one = await get_hash(client, sha256, {"first": 1})
    assert len(one.json()["data"]["products"]["edges"]) == 1


async def test_a_hash_that_does_not_match_the_query_is_refused_and_nothing_is_stored(client):
    query, other = fresh_query(), fresh_query()
    wrong = sha256_hex(other)
    for headers in ({}, GQL):
        response = await client.post(
            "/graphql", json={"query": query, "variables": {"first": 1}, "extensions": apq(wrong)}, headers=headers
        )
        assert response.status_code == 400
        assert response.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_HASH_MISMATCH"
        assert "data" not in response.json()
    assert (await get_hash(client, wrong, {"first": 1})).json() == NOT_FOUND
    assert (await get_hash(client, sha256_hex(query), {"first": 1})).json() == NOT_FOUND


async def test_a_document_that_fails_validation_is_not_stored(client):
    query = f"query Bad{uuid.uuid4().hex} {{ noSuchField }}"
    sha256 = sha256_hex(query)
    response = await client.post("/graphql", json={"query": query, "extensions": apq(sha256)})
    assert response.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert (await get_hash(client, sha256)).json() == NOT_FOUND


async def test_a_persisted_mutation_over_get_is_405_and_runs_over_post(client, db):
    mutation = f"mutation M{uuid.uuid4().hex} {{ cartCreate {{ cart {{ token }} }} }}"
    sha256 = sha256_hex(mutation)
    carts = await Cart.all().count()
    assert (await client.post("/graphql", json={"query": mutation, "extensions": apq(sha256)})).status_code == 200
    refused = await get_hash(client, sha256)
    assert refused.status_code == 405 and refused.headers["allow"] == "POST"
    assert await Cart.all().count() == carts + 1  # the GET changed nothing
    again = await client.post("/graphql", json={"extensions": apq(sha256)})
    assert again.json()["data"]["cartCreate"]["cart"]["token"]
    assert await Cart.all().count() == carts + 2


@pytest.mark.parametrize(
    "extensions",
    [
        {"persistedQuery": "abc"},
        {"persistedQuery": {"version": 2, "sha256Hash": "a" * 64}},
        {"persistedQuery": {"sha256Hash": "a" * 64}},
        {"persistedQuery": {"version": 1}},
        {"persistedQuery": {"version": 1, "sha256Hash": "not-a-hash"}},
        {"persistedQuery": {"version": 1, "sha256Hash": "a" * 63}},
        {"persistedQuery": {"version": 1, "sha256Hash": 12}},
    ],
)
async def test_malformed_persisted_query_extensions_are_400(client, extensions):
    for request in (
        client.post("/graphql", json={"extensions": extensions}),
        client.get("/graphql", params={"extensions": json.dumps(extensions)}),
    ):
        response = await request
        assert response.status_code == 400
        assert response.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_INVALID"


async def test_other_extensions_and_plain_queries_are_unaffected(client):
    response = await client.post("/graphql", json={"query": "{ __typename }", "extensions": {"tracing": True}})
    assert response.status_code == 200 and response.json()["data"] == {"__typename": "Query"}


async def test_persisted_queries_off_answers_not_supported(db):
    async with make_client(db, PERSISTED_QUERIES="off") as client:
        query = fresh_query()
        for request in (
            client.post(
                "/graphql", json={"query": query, "variables": {"first": 1}, "extensions": apq(sha256_hex(query))}
            ),
            get_hash(client, sha256_hex(query)),
        ):
            response = await request
            assert response.status_code == 400
            assert response.json() == {
                "errors": [
                    {"message": "PersistedQueryNotSupported", "extensions": {"code": "PERSISTED_QUERY_NOT_SUPPORTED"}}
                ]
            }
        # What Apollo's link sends next: the plain query.
        response = await client.post("/graphql", json={"query": query, "variables": {"first": 1}})
        assert response.status_code == 200 and response.json()["data"]["products"]["edges"]


# --- Shared through Redis -------------------------------------------------------------------


async def test_a_registration_on_one_worker_serves_every_worker(db, redis_url):
    query = fresh_query()
    sha256 = sha256_hex(query)
    async with make_client(db, REDIS_URL=redis_url) as worker_a, make_client(db, REDIS_URL=redis_url) as worker_b:
        assert (await get_hash(worker_b, sha256, {"first": 1})).json() == NOT_FOUND
        await worker_a.post("/graphql", json={"query": query, "variables": {"first": 1}, "extensions": apq(sha256)})
        response = await get_hash(worker_b, sha256, {"first": 1})
        assert response.status_code == 200 and response.json()["data"]["products"]["edges"]
    redis = Redis.from_url(redis_url)
    try:
        assert (await redis.get(f"apq:{sha256}")).decode() == query
        assert await redis.ttl(f"apq:{sha256}") > 29 * 24 * 3600
        await redis.delete(f"apq:{sha256}")
    finally:
        await redis.aclose()


async def test_redis_down_degrades_to_the_process_store(db, caplog):
    query = fresh_query()
    sha256 = sha256_hex(query)
    async with make_client(db, REDIS_URL="redis://127.0.0.1:1/0") as client:
        assert (await get_hash(client, sha256, {"first": 1})).json() == NOT_FOUND
        registered = await client.post(
            "/graphql", json={"query": query, "variables": {"first": 1}, "extensions": apq(sha256)}
        )
        assert registered.status_code == 200 and registered.json()["data"]
        response = await get_hash(client, sha256, {"first": 1})
        assert response.status_code == 200 and response.json()["data"] == registered.json()["data"]
    assert any("persisted queries: Redis" in record.getMessage() for record in caplog.records)


class FailingRedis:
    def __init__(self) -> None:
        self.calls = 0

    async def get(self, key: str) -> bytes:
        self.calls += 1
        raise ConnectionError("connection refused")

    async def set(self, key: str, value: bytes, ex: int) -> None:
        self.calls += 1
        raise ConnectionError("connection refused")


async def test_after_a_redis_failure_redis_is_left_alone_for_a_while():
    redis = FailingRedis()
    store = DocumentStore(LocalDocuments(), RedisDocuments(redis, breaker=Breaker(interval=60)))
    assert await store.get("a" * 64) is None
    await store.put("b" * 64, "{ __typename }")
    assert await store.get("c" * 64) is None
    assert redis.calls == 1  # one failure, then no attempt until the breaker lets a trial through
    assert await store.get("b" * 64) == "{ __typename }"  # registered locally all the same


async def test_a_redis_value_that_does_not_hash_right_is_ignored():
    class Tampered:
        async def get(self, key: str) -> bytes:
            return b"{ somethingElse }"

    store = DocumentStore(LocalDocuments(), RedisDocuments(Tampered()))
    assert await store.get(sha256_hex("{ __typename }")) is None


def test_the_local_store_is_bounded_in_entries_and_size():
    store = LocalDocuments(max_entries=3, max_chars=1000)
    for n in range(5):
        store.put(f"{n:064x}", "x" * 10)
    assert len(store) == 3 and f"{0:064x}" not in store and f"{4:064x}" in store
    store.get(f"{2:064x}")  # recently used: kept
    store.put("f" * 64, "y" * 990)
    assert "f" * 64 in store and f"{2:064x}" in store and store.chars <= 1000


# --- Allow-list mode ------------------------------------------------------------------------

ALLOWED = "query Allowed($first: Int!) { products(first: $first) { edges { node { slug } } } }"


def write_manifest(path: Path, *bodies: str, ids: list[str] | None = None) -> Path:
    operations = [
        {"id": (ids[i] if ids else sha256_hex(body)), "body": body, "name": f"Op{i}", "type": "query"}
        for i, body in enumerate(bodies)
    ]
    path.write_text(json.dumps({"format": "apollo-persisted-query-manifest", "version": 1, "operations": operations}))
    return path


async def test_allowlist_runs_only_registered_documents(db, tmp_path):
    manifest = write_manifest(tmp_path / "manifest.json", ALLOWED)
    async with make_client(db, PERSISTED_QUERIES="allowlist", PERSISTED_QUERIES_MANIFEST=str(manifest)) as client:
        sha256 = sha256_hex(ALLOWED)
        by_hash = await get_hash(client, sha256, {"first": 1})
        assert by_hash.status_code == 200 and len(by_hash.json()["data"]["products"]["edges"]) == 1
        posted = await client.post("/graphql", json={"extensions": apq(sha256), "variables": {"first": 1}})
        assert posted.json()["data"] == by_hash.json()["data"]
        # The full text of an allowed document is accepted too.
        full = await client.post("/graphql", json={"query": ALLOWED, "variables": {"first": 1}})
        assert full.status_code == 200 and full.json()["data"] == by_hash.json()["data"]

        other = fresh_query()
        unknown = await get_hash(client, sha256_hex(other), {"first": 1})
        assert unknown.status_code == 404
        assert unknown.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_IN_LIST"
        # Registration is refused, and stays refused.
        registering = await client.post(
            "/graphql", json={"query": other, "variables": {"first": 1}, "extensions": apq(sha256_hex(other))}
        )
        assert registering.status_code == 403 and "data" not in registering.json()
        assert registering.json()["errors"][0]["extensions"]["code"] == "QUERY_NOT_IN_ALLOWLIST"
        assert (await get_hash(client, sha256_hex(other), {"first": 1})).status_code == 404
        free_form = await client.post("/graphql", json={"query": "{ __typename }"})
        assert free_form.status_code == 403
        assert free_form.json()["errors"][0]["extensions"]["code"] == "QUERY_NOT_IN_ALLOWLIST"
        mismatch = await client.post("/graphql", json={"query": other, "extensions": apq(sha256)})
        assert mismatch.status_code == 400
        assert mismatch.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_HASH_MISMATCH"


def test_manifest_loading(tmp_path):
    good = write_manifest(tmp_path / "good.json", ALLOWED, "{ __typename }")
    assert load_manifest(good) == {sha256_hex(ALLOWED): ALLOWED, sha256_hex("{ __typename }"): "{ __typename }"}
    bad_id = write_manifest(tmp_path / "bad-id.json", ALLOWED, ids=["0" * 64])
    (tmp_path / "not-json.json").write_text("{nope")
    (tmp_path / "other.json").write_text(json.dumps({"format": "something-else", "version": 1, "operations": []}))
    (tmp_path / "no-body.json").write_text(
        json.dumps({"format": "apollo-persisted-query-manifest", "version": 1, "operations": [{"id": "0" * 64}]})
    )
    for path, words in (
        (bad_id, "not the SHA-256"),
        (tmp_path / "not-json.json", "not valid JSON"),
        (tmp_path / "other.json", "not an apollo-persisted-query-manifest"),
        (tmp_path / "no-body.json", "needs a string"),
        (tmp_path / "missing.json", "cannot read"),
    ):
        with pytest.raises(ValueError, match=words):
            load_manifest(path)


@pytest.mark.parametrize(
    "env,variable,words",
    [
        ({"PERSISTED_QUERIES": "sometimes"}, "PERSISTED_QUERIES", "expected one of apq, allowlist, off"),
        ({"PERSISTED_QUERIES": "allowlist"}, "PERSISTED_QUERIES_MANIFEST", "needs the path"),
        (
            {"PERSISTED_QUERIES": "allowlist", "PERSISTED_QUERIES_MANIFEST": "/nonexistent/manifest.json"},
            "PERSISTED_QUERIES_MANIFEST",
            "cannot read",
        ),
        (
            {"PERSISTED_QUERIES_MANIFEST": "/some/manifest.json"},
            "PERSISTED_QUERIES_MANIFEST",
            "only used with PERSISTED_QUERIES=allowlist",
        ),
        ({"PERSISTED_QUERIES_CACHE_SIZE": "0"}, "PERSISTED_QUERIES_CACHE_SIZE", "whole number"),
    ],
)
def test_bad_persisted_query_settings_name_the_variable(env, variable, words):
    with pytest.raises(ConfigError, match=words) as caught:
        load_settings(env)
    assert str(caught.value).startswith(f"{variable}:") and "\n" not in str(caught.value)


async def test_resolution_needs_no_http_layer():
    # What a pure-ASGI layer in front of the view (the response cache) would call.
    queries = PersistedQueries(persisted.APQ)
    sha256 = sha256_hex("{ __typename }")
    with pytest.raises(RequestError) as caught:
        await queries.resolve(None, apq(sha256))
    assert caught.value.code == "PERSISTED_QUERY_NOT_FOUND"
    resolved = await queries.resolve("{ __typename }", apq(sha256))
    assert resolved.register
    await queries.register(resolved)
    assert (await queries.resolve(None, apq(sha256))).document == "{ __typename }"
    assert (await queries.resolve("{ x }", None)).document == "{ x }"


# --- Apollo Client, unchanged ---------------------------------------------------------------


@pytest.fixture(scope="module")
def apollo_url(tmp_path_factory: pytest.TempPathFactory):
    node = node_or_skip()
    with live_gateway(tmp_path_factory.mktemp("apollo")) as url:
        yield node, url


@pytest.mark.parametrize(
    "accept,miss_status",
    [
        ("default", 404),  # Apollo Client 4 asks for application/graphql-response+json first
        ("application/json", 200),  # legacy clients (Apollo Client 3's "*/*" negotiates the same)
    ],
)
@pytest.mark.slow  # Node and a gateway process
def test_apollo_clients_persisted_queries_link_works_unchanged(apollo_url, accept, miss_status):
    node, url = apollo_url
    report = run_node(node, "apollo_apq.mjs", url, accept)
    assert [r["error"] for r in report["results"]] == [None] * 4
    first, second, mutation, other_client = (r["data"] for r in report["results"])
    assert len(first["products"]["edges"]) == 2 and first == second == other_client
    assert mutation["cartCreate"]["cart"]["token"] and mutation["cartCreate"]["userErrors"] == []
    assert [(r["method"], r["hasQuery"], r["status"]) for r in report["requests"]] == [
        ("GET", False, miss_status),  # hash only: unknown
        ("POST", True, 200),  # the link retries with the query, which registers it
        ("GET", False, 200),  # from now on the hash is enough
        ("POST", False, miss_status),  # mutations go by POST, hash first too
        ("POST", True, 200),
        ("GET", False, 200),  # a second client: the server already knows the hash
    ]


async def test_hash_only_gets_are_cached_and_share_the_entry_of_their_text(client):
    query = fresh_query()
    sha256 = sha256_hex(query)
    first = await get_hash(client, sha256, {"first": 2})
    assert first.json() == NOT_FOUND and first.headers["cache-status"] == BYPASS
    # The registration goes past the cache (the view must see it to store the document) ...
    registered = await client.post(
        "/graphql", json={"query": query, "variables": {"first": 2}, "extensions": apq(sha256)}
    )
    assert registered.headers["cache-status"] == BYPASS and registered.json()["data"]["products"]["edges"]
    # ... after which the hash alone is an ordinary cacheable GET, and its answer is the full text's.
    stored = await get_hash(client, sha256, {"first": 2})
    assert stored.headers["cache-status"] == STORED
    assert (await get_hash(client, sha256, {"first": 2})).headers["cache-status"] == HIT
    by_text = await client.post("/graphql", json={"query": query, "variables": {"first": 2}})
    assert by_text.headers["cache-status"] == HIT and by_text.json() == stored.json()
