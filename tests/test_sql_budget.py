"""N+1 freedom, counted at the driver: a listing costs the same statements for 5 or 50 products."""

from __future__ import annotations

import pytest

LISTING = """
query Listing($first: Int!) {
  products(first: $first) {
    totalCount
    edges { cursor node {
      id name slug availableForSale
      priceRange { min { amount currency } max { amount currency } }
      category { id name slug }
      images { url altText }
      variants { id sku name price { amount currency } compareAtPrice { amount } quantityAvailable availableForSale }
    } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


async def _count(gql, sql_counter, query: str, variables: dict) -> int:
    sql_counter.statements.clear()
    response = await gql.http.post("/graphql", json={"query": query, "variables": variables})
    body = response.json()
    assert body.get("data") and not body.get("errors"), body
    # An answer from the response cache runs no SQL at all: count only executed requests.
    assert response.headers["cache-status"] != "gateway; hit"
    return len(sql_counter.statements)


async def test_listing_statement_count_does_not_grow_with_the_page(gql, sql_counter):
    await gql.data(LISTING, {"first": 1})  # warm anything lazily initialised
    small = await _count(gql, sql_counter, LISTING, {"first": 5})
    large = await _count(gql, sql_counter, LISTING, {"first": 50})
    # The page with its total count, the variants with their stock summed, the images, the categories.
    assert small == large == 4, sql_counter.statements


async def test_fifty_products_really_were_listed(gql):
    data = await gql.data(LISTING, {"first": 50})
    assert len(data["products"]["edges"]) == 50
    assert all(edge["node"]["variants"] for edge in data["products"]["edges"])


@pytest.mark.parametrize(
    "extra,statements",
    [
        # The page, the variants, their options.
        ("variants { selectedOptions { name value } }", 3),
        # The page, then the category, option and price range facets, and the facets' categories.
        ("facets { options { name } priceRanges { count } categories { count category { name } } }", 5),
    ],
)
async def test_optional_parts_cost_a_fixed_number_of_statements(gql, sql_counter, extra, statements):
    query = (
        "query($first: Int!) { products(first: $first) { edges { node { id "
        + (extra if "variants" in extra else "")
        + " } } "
        + ("" if "variants" in extra else extra)
        + " } }"
    )
    small = await _count(gql, sql_counter, query, {"first": 5})
    large = await _count(gql, sql_counter, query, {"first": 50})
    assert small == large == statements, sql_counter.statements


async def test_node_lookups_are_batched(gql, db, sql_counter):
    from schema.ids import encode_id

    ids = [encode_id("Product", pid) for pid in db.data.products.values()]
    query = "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Product { name variants { sku } images { url } category { name } } } }"
    statements = await _count(gql, sql_counter, query, {"ids": ids})
    # The products, their variants, images and categories: one statement each, however many ids.
    assert statements == 4, sql_counter.statements
