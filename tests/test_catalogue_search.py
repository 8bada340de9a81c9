"""Search that forgives, through the GraphQL API: typo-tolerant matching on PostgreSQL (pg_trgm),
the simpler word match of SQLite, exact SKUs first, and `productSuggestions` for a search box."""

from __future__ import annotations

from decimal import Decimal

import pytest

from models import Product, ProductStatus, ProductVariant
from models.sql import connection
from resolvers import catalogue_listing
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


async def test_suggestions_cost_one_statement_and_one_more_to_forgive_a_typo(gql, db, sql_counter):
    if db.name == "postgres":  # "aurra" starts no name and no word: the typo tier's own statement
        sql_counter.statements.clear()
        assert (await suggested(gql, "aurra"))[0] == "Aurora Wool Sweater"
        assert len(sql_counter.statements) == 2, sql_counter.statements
    for first in (3, 20):
        sql_counter.statements.clear()
        response = await gql.http.post(
            "/graphql", json={"query": SUGGEST, "variables": {"prefix": "c", "first": first}}
        )
        assert len(response.json()["data"]["productSuggestions"]) == first
        assert response.headers["cache-status"] != "gateway; hit"
        assert len(sql_counter.statements) == 1, sql_counter.statements


async def test_a_search_reads_its_page_and_count_in_one_statement(gql, db, sql_counter):
    # The page with its count, whatever matched it: words, a SKU or (PostgreSQL) a typo'd name.
    # PostgreSQL first finds the matching products once, by their words, and when those find nothing
    # by similarity (`with_matches`); the page then reads them by id, counted as they were found.
    searches = {"wool sweat": 1, "AUR-L": 1, "classic": 1}
    if db.name == "postgres":
        searches = {"wool sweat": 2, "AUR-L": 2, "classic": 2, "wool swetaer": 3}
    for search, statements in searches.items():
        sql_counter.statements.clear()
        response = await gql.http.post("/graphql", json={"query": SEARCH, "variables": {"first": 5, "search": search}})
        assert response.json()["data"]["products"]["nodes"], search
        assert response.headers["cache-status"] != "gateway; hit"
        assert len(sql_counter.statements) == statements, (search, sql_counter.statements)


async def test_words_found_as_typed_are_not_diluted_by_near_misses_on_postgres(gql, db):
    # "wool" is found as typed, so a product merely close to it ("Wood Tray": word similarity 0.6)
    # does not join the answer; "woood" is found nowhere as typed, so then typos are forgiven.
    postgres_only(db)
    tray = await Product.create(name="Wood Tray", slug="wood-tray", description="Oak.", status=ProductStatus.ACTIVE)
    try:
        data = await gql.data(
            "query($s: String) { products(first: 100, search: $s) { nodes { name description } } }", {"s": "wool"}
        )
        nodes = data["products"]["nodes"]
        assert nodes and all("wool" in (n["name"] + " " + n["description"]).lower() for n in nodes), nodes
        names = [n["name"] for n in nodes]
        # The name weighs more than the description: the sweater before the tee that mentions wool.
        assert names.index("Aurora Wool Sweater") < names.index("Nimbus Cotton Tee")
        assert "Wood Tray" in await found(gql, "woood")
    finally:
        await tray.delete()


async def test_a_broad_search_ranks_a_pool_of_its_matches_names_first_on_postgres(gql, db, monkeypatch):
    # Past RANKED_MATCHES matches a relevance page ranks a pool of them, those with the words in
    # their name first, and its pages end with the pool (a result window); sorted otherwise, a search
    # still pages through every match. The pool is made small here to show it on a small catalogue.
    postgres_only(db)
    query = """query($s: String, $sort: ProductSort, $after: String) {
      products(first: 3, search: $s, sort: $sort, after: $after) {
        totalCount pageInfo { hasNextPage endCursor } nodes { name description } } }"""
    everything = await found(gql, "wool")
    in_name = [name for name in everything if "wool" in name.lower()]
    assert len(everything) > len(in_name) >= 4, everything

    monkeypatch.setattr(catalogue_listing, "RANKED_MATCHES", 4)
    pages, after = [], None
    while True:
        data = (await gql.data(query, {"s": "wool", "sort": "RELEVANCE", "after": after}))["products"]
        pages.append([node["name"] for node in data["nodes"]])
        assert data["totalCount"] > 4  # past the pool, the count is estimated, not the pool's size
        if not data["pageInfo"]["hasNextPage"]:
            break
        after = data["pageInfo"]["endCursor"]
    ranked = [name for page in pages for name in page]
    assert len(ranked) == 4 and len(set(ranked)) == 4, pages
    assert all("wool" in name.lower() for name in ranked), ranked  # the names first

    by_name, after = [], None
    while True:
        data = (await gql.data(query, {"s": "wool", "sort": "NAME_ASC", "after": after}))["products"]
        by_name += [node["name"] for node in data["nodes"]]
        if not data["pageInfo"]["hasNextPage"]:
            break
        after = data["pageInfo"]["endCursor"]
    assert sorted(by_name) == sorted(everything)


async def test_suggestions_follow_a_renamed_or_hidden_product(gql, db):
    # The words a suggestion reads are kept by the database on every write of a name or status.
    product = await Product.get(id=db.data.products["Zephyr Linen Shirt"])
    try:
        product.name = "Zephyr Quokka Shirt"
        await product.save(update_fields=["name"])
        assert await suggested(gql, "quokk") == ["Zephyr Quokka Shirt"]
        assert "Zephyr Linen Shirt" not in await suggested(gql, "linen", 20)
        product.status = ProductStatus.DRAFT
        await product.save(update_fields=["status"])
        assert await suggested(gql, "quokk") == []
    finally:
        product.name, product.status = "Zephyr Linen Shirt", ProductStatus.ACTIVE
        await product.save(update_fields=["name", "status"])
    assert "Zephyr Linen Shirt" in await suggested(gql, "linen", 20)
    added = await Product.create(name="Quokka Mug", slug="quokka-mug", description="", status=ProductStatus.ACTIVE)
    assert await suggested(gql, "quok") == ["Quokka Mug"]
    await added.delete()
    assert await suggested(gql, "quok") == []


async def test_every_search_is_planned_for_its_own_words_on_postgres(db):
    # A prepared statement's generic plan, made without the words, scanned the catalogue for a
    # typo'd search after its fifth execution: every connection asks for custom plans.
    postgres_only(db)
    rows = await connection().execute_query_dict("SELECT current_setting('plan_cache_mode') AS mode")
    assert rows[0]["mode"] == "force_custom_plan"
