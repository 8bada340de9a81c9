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
    data = await gql.data(query, variables)
    assert data
    return len(sql_counter.statements)


async def test_listing_statement_count_does_not_grow_with_the_page(gql, sql_counter):
    await gql.data(LISTING, {"first": 1})  # warm anything lazily initialised
    small = await _count(gql, sql_counter, LISTING, {"first": 5})
    large = await _count(gql, sql_counter, LISTING, {"first": 50})
    assert small == large <= 6, sql_counter.statements


async def test_fifty_products_really_were_listed(gql):
    data = await gql.data(LISTING, {"first": 50})
    assert len(data["products"]["edges"]) == 50
    assert all(edge["node"]["variants"] for edge in data["products"]["edges"])


@pytest.mark.parametrize("extra", ["variants { selectedOptions { name value } }", "facets { options { name } priceRanges { count } categories { count category { name } } }"])
async def test_optional_parts_cost_a_fixed_number_of_statements(gql, sql_counter, extra):
    query = "query($first: Int!) { products(first: $first) { edges { node { id " + (extra if "variants" in extra else "") + " } } " + ("" if "variants" in extra else extra) + " } }"
    small = await _count(gql, sql_counter, query, {"first": 5})
    large = await _count(gql, sql_counter, query, {"first": 50})
    assert small == large, sql_counter.statements


async def test_node_lookups_are_batched(gql, db, sql_counter):
    from schema.ids import encode_id

    ids = [encode_id("Product", pid) for pid in db.data.products.values()]
    query = "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Product { name variants { sku } images { url } category { name } } } }"
    statements = await _count(gql, sql_counter, query, {"ids": ids})
    assert statements <= 4, sql_counter.statements
