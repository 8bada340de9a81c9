"""N+1 freedom, counted at the driver: a listing costs the same statements for 5 or 50 products."""

from __future__ import annotations

import uuid

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


ATTRIBUTES = "attributes { attribute { name slug type unit } values }"
PICKER = (
    "options { name values optionValues { name availableForSale } } "
    'variantBySelectedOptions(selectedOptions: [{name: "Size", value: "M"}, {name: "Colour", value: "Black"}]) { sku }'
)
ATTRIBUTE_FACETS = "facets { attributes { attribute { slug unit } values { value count } range { min max } } }"


@pytest.mark.parametrize(
    "node,extra,statements",
    [
        # The page, the shown values with their attributes.
        (ATTRIBUTES, "", 2),
        # The page, the variants with their stock, their options.
        (PICKER, "", 3),
        # The page, the variants, the variants' shown values.
        ("variants { sku " + ATTRIBUTES + " }", "", 3),
        # The page; the category, option and price facets; the filterable attributes, their counted
        # values, their ranges.
        ("", ATTRIBUTE_FACETS, 7),
    ],
)
async def test_attributes_and_option_pickers_cost_a_fixed_number_of_statements(
    gql, sql_counter, node, extra, statements
):
    query = "query($first: Int!) { products(first: $first) { edges { node { id " + node + " } } " + extra + " } }"
    small = await _count(gql, sql_counter, query, {"first": 5})
    large = await _count(gql, sql_counter, query, {"first": 50})
    assert small == large == statements, sql_counter.statements


async def test_a_listing_filtered_by_attributes_with_everything_selected_stays_within_its_budget(gql, sql_counter):
    query = (
        "query($first: Int!, $f: ProductFilter) { products(first: $first, filter: $f) { totalCount "
        "edges { node { id name priceRange { min { amount } } images { url } category { name } "
        "variants { sku quantityAvailable selectedOptions { name value } } "
        + ATTRIBUTES
        + " "
        + PICKER
        + " } } "
        + ATTRIBUTE_FACETS
        + " } }"
    )
    heavy = {"attributes": [{"slug": "weight", "range": {"min": "100"}}, {"slug": "waterproof", "boolean": False}]}
    counts = []
    for first in (5, 50):
        counts.append(await _count(gql, sql_counter, query, {"first": first, "f": heavy}))
        data = await gql.data(query, {"first": first, "f": heavy})
        assert len(data["products"]["edges"]) == first
        assert all(edge["node"]["attributes"] for edge in data["products"]["edges"])
    # The attributes filtered by; the page with its count; its variants, images, categories and
    # shown values; the variants' options; three facets and three attribute facets.
    assert counts == [13, 13], sql_counter.statements


async def test_node_lookups_are_batched(gql, db, sql_counter):
    from schema.ids import encode_id

    ids = [encode_id("Product", pid) for pid in db.data.products.values()]
    query = "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Product { name variants { sku } images { url } category { name } } } }"
    statements = await _count(gql, sql_counter, query, {"ids": ids})
    # The products, their variants, images and categories: one statement each, however many ids.
    assert statements == 4, sql_counter.statements


CUSTOMERS = """
query($first: Int!, $search: String!) {
  customers(first: $first, search: $search, sort: TOTAL_SPENT_DESC) {
    totalCount
    edges { cursor node { id email createdAt orderCount totalSpent { amount } } }
  }
}
"""


async def test_customer_list_statement_count_does_not_grow_with_the_page(client, db, sql_counter):
    from models import Account, OrderStatus, Permission
    from tests.staff import bearer, token_for
    from tests.test_accounts_customers import add_order

    marker = uuid.uuid4().hex[:12]
    await Account.bulk_create(
        [
            Account(email=f"budget.{i}.{marker}@example.com", password_hash="not a hash: never signs in")
            for i in range(50)
        ]
    )
    for account in await Account.filter(email__contains=marker).order_by("id").limit(25):
        await add_order(account, OrderStatus.PAID, "12.50")
    staff = bearer(await token_for(Permission.MANAGE_CUSTOMERS))

    async def statements(first: int) -> int:
        sql_counter.statements.clear()
        variables = {"first": first, "search": marker}
        response = await client.post("/graphql", json={"query": CUSTOMERS, "variables": variables}, headers=staff)
        body = response.json()
        assert not body.get("errors") and len(body["data"]["customers"]["edges"]) == first, body
        return len(sql_counter.statements)

    # The signed-in staff account; the page of ids, its sort keys (order totals as subqueries) and
    # the count in one; the accounts; their order counts and totals, grouped, in one.
    assert await statements(5) == await statements(50) == 4, sql_counter.statements
