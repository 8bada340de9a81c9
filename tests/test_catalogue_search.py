"""Search that forgives, through the GraphQL API: typo-tolerant matching on PostgreSQL (pg_trgm),
the simpler word match of SQLite, exact SKUs first, and `productSuggestions` for a search box."""

from __future__ import annotations

from decimal import Decimal

import pytest

from models import ProductVariant
from schema.ids import encode_id

SEARCH = """
query Search($search: String, $filter: ProductFilter, $first: Int, $after: String) {
  products(first: $first, after: $after, search: $search, filter: $filter) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { name }
  }
}
"""
SUGGEST = """
query Suggest($prefix: String!, $first: Int) {
  productSuggestions(prefix: $prefix, first: $first) { id name slug }
}
"""


def postgres_only(db) -> None:
    if db.name != "postgres":
        pytest.skip("typo tolerance is PostgreSQL's (pg_trgm); SQLite matches words as typed")


async def found(gql, search: str, **variables) -> list[str]:
    data = await gql.data(SEARCH, {"first": 50, "search": search, **variables})
    return [node["name"] for node in data["products"]["nodes"]]


async def suggested(gql, prefix: str, first: int | None = None) -> list[str]:
    data = await gql.data(SUGGEST, {"prefix": prefix, "first": first})
    return [product["name"] for product in data["productSuggestions"]]


async def test_a_typo_still_finds_the_wool_sweater_on_postgres(gql, db):
    postgres_only(db)
    names = await found(gql, "wool swetaer")
    assert names[0] == "Aurora Wool Sweater"
    # Close to "Wool Sweater", not merely sharing "wool": no hoodie or blend follows it.
    assert all("Sweater" in name for name in names), names
    assert (await found(gql, "aurra"))[0] == "Aurora Wool Sweater"
    assert await found(gql, "qzxv wplk") == []


async def test_sqlite_matches_every_word_as_typed(gql, db):
    if db.name != "sqlite":
        pytest.skip("SQLite's simpler match")
    assert await found(gql, "wool swetaer") == []  # no typo tolerance here
    assert await found(gql, "wool sweat") == ["Aurora Wool Sweater"]
    assert await found(gql, "sweater wool") == ["Aurora Wool Sweater"]  # any order, any place


async def test_full_text_matches_still_rank_by_relevance(gql, db):
    lab = {"category": encode_id("Category", db.data.categories["Lab"])}
    # A word of the name beats the same word in a description, on either database.
    assert await found(gql, "wool", filter=lab) == ["Aurora Wool Sweater", "Nimbus Cotton Tee"]


async def test_a_sku_typed_exactly_finds_its_product_first(gql, db):
    assert (await found(gql, "AUR-L"))[0] == "Aurora Wool Sweater"
    assert (await found(gql, "aur-l"))[0] == "Aurora Wool Sweater"  # in any case
    lab = {"category": encode_id("Category", db.data.categories["Lab"])}
    nimbus = db.data.products["Nimbus Cotton Tee"]
    # A SKU equal to the search word outranks a product that has the word in its name.
    variant = await ProductVariant.create(product_id=nimbus, sku="WOOL", name="Wool", price=Decimal("9.50"))
    try:
        assert await found(gql, "wool", filter=lab, first=10) == ["Nimbus Cotton Tee", "Aurora Wool Sweater"]
    finally:
        await variant.delete()


async def test_a_typo_tolerant_search_pages_by_relevance(gql, db):
    postgres_only(db)
    full = await found(gql, "clasic")
    assert len(full) > 3, "the seeded catalogue has Classic products"
    first = await gql.data(SEARCH, {"first": 2, "search": "clasic"})
    rest = await gql.data(
        SEARCH, {"first": 50, "search": "clasic", "after": first["products"]["pageInfo"]["endCursor"]}
    )
    paged = [n["name"] for n in first["products"]["nodes"] + rest["products"]["nodes"]]
    assert paged == full
    assert first["products"]["totalCount"] == len(full)


async def test_suggestions_complete_a_prefix_name_starts_first(gql, db):
    assert (await suggested(gql, "Aur"))[0] == "Aurora Wool Sweater"
    assert await suggested(gql, "zephyr li") == ["Zephyr Linen Shirt"]
    linen = await suggested(gql, "linen", 20)
    assert "Zephyr Linen Shirt" in linen
    starts = [name for name in linen if name.lower().startswith("linen")]
    assert linen[: len(starts)] == starts  # names starting with it, then names with a word starting with it
    assert all(" linen" in name.lower() for name in linen[len(starts) :]) or db.name == "postgres"
    data = await gql.data(SUGGEST, {"prefix": "zeph"})
    assert data["productSuggestions"] == [
        {
            "id": encode_id("Product", db.data.products["Zephyr Linen Shirt"]),
            "name": "Zephyr Linen Shirt",
            "slug": "zephyr-linen-shirt",
        }
    ]


async def test_suggestions_forgive_a_typo_on_postgres(gql, db):
    postgres_only(db)
    assert (await suggested(gql, "aurra"))[0] == "Aurora Wool Sweater"
    assert (await suggested(gql, "zephir lin"))[0] == "Zephyr Linen Shirt"


async def test_inactive_products_are_never_suggested(gql, db):
    for prefix in ("hidden", "Hidden Draft Jacket", "old archived", "Old Archived Boot", "hiden draft"):
        assert await suggested(gql, prefix, 20) == [], prefix


async def test_suggestions_are_bounded(gql, db):
    assert len(await suggested(gql, "c", 3)) == 3
    assert len(await suggested(gql, "c")) == 10  # the default
    assert await suggested(gql, "  -- ") == []  # no letter or digit: nothing to complete
    for variables in ({"prefix": "a", "first": 0}, {"prefix": "a", "first": 21}, {"prefix": "a" * 101}):
        body = await gql.post(SUGGEST, variables)
        assert body["data"] == {"productSuggestions": None}, body
        assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]
    # LIKE's wildcards are plain characters in a prefix: "z%r" is no "Zephyr".
    assert await suggested(gql, "%") == [] and await suggested(gql, "z%r") == []


async def test_suggestions_cost_one_statement(gql, sql_counter):
    for first in (3, 20):
        sql_counter.statements.clear()
        response = await gql.http.post(
            "/graphql", json={"query": SUGGEST, "variables": {"prefix": "c", "first": first}}
        )
        assert len(response.json()["data"]["productSuggestions"]) == first
        assert response.headers["cache-status"] != "gateway; hit"
        assert len(sql_counter.statements) == 1, sql_counter.statements


async def test_a_search_costs_one_statement_with_its_count(gql, sql_counter):
    # The page with its count, whatever matched it: words, a name or a SKU.
    for search in ("wool sweat", "AUR-L", "classic"):
        sql_counter.statements.clear()
        response = await gql.http.post("/graphql", json={"query": SEARCH, "variables": {"first": 5, "search": search}})
        assert response.json()["data"]["products"]["nodes"], search
        assert response.headers["cache-status"] != "gateway; hit"
        assert len(sql_counter.statements) == 1, sql_counter.statements
