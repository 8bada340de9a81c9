"""The actual cost of a result: the requested cost's rules applied to what came back."""

from __future__ import annotations

from graphql import parse

from schema.actual_cost import actual_cost
from schema.limits import analyze
from tests.graphql_schema import GRAPHQL_SCHEMA

LISTING = """
query Listing($n: Int) {
  products(first: $n) {
    totalCount
    pageInfo { hasNextPage }
    edges { cursor node { ...ProductFields } }
  }
}
fragment ProductFields on Product { name variants { sku price { amount } } category { name } }
"""


def cost(document: str, data: object, operation: str | None = None) -> int:
    return actual_cost(GRAPHQL_SCHEMA, parse(document), operation, data)


def product(variants: int, category: bool = True) -> dict:
    return {
        "name": "P",
        "variants": [{"sku": f"S{n}", "price": {"amount": "1.00"}} for n in range(variants)],
        "category": {"name": "C"} if category else None,
    }


def listing(products: list[dict]) -> dict:
    return {
        "products": {
            "totalCount": len(products),
            "pageInfo": {"hasNextPage": False},
            "edges": [{"cursor": "c", "node": node} for node in products],
        }
    }


def test_a_result_as_large_as_its_bound_costs_what_was_requested():
    requested = analyze(GRAPHQL_SCHEMA, parse(LISTING), None, {"n": 3})
    assert requested is not None and requested.cost == 42
    # Full pages, and plain lists as long as the requested cost supposes (schema/limits.py's LIST_SIZE).
    assert cost(LISTING, listing([product(5) for _ in range(3)])) == 42


def test_a_short_page_costs_what_it_returned():
    # The connection 2, pageInfo 1, then per edge: itself 1, its product 1, one variant and its price 2.
    assert cost(LISTING, listing([product(1, category=False) for _ in range(2)])) == 3 + 2 * 4
    assert cost(LISTING, listing([])) == 3
    assert cost(LISTING, {"products": None}) == 0


def test_fields_merged_from_fragments_count_once_as_the_response_holds_them_once():
    document = "{ products(first: 2) { nodes { name category { name } ... on Product { category { slug } } } } }"
    data = {"products": {"nodes": [{"name": "P", "category": {"name": "C", "slug": "c"}}] * 2}}
    assert cost(document, data) == 2 + 2 * (1 + 1)


def test_aliases_count_each_answer():
    document = "{ a: products(first: 1) { nodes { id } } b: products(first: 1) { nodes { id } } }"
    data = {"a": {"nodes": [{"id": "1"}]}, "b": {"nodes": [{"id": "2"}]}}
    assert cost(document, data) == 2 * (2 + 1)


def test_introspection_and_scalars_are_free():
    document = "{ __typename t: __typename __schema { types { name } } }"
    assert cost(document, {"__typename": "Query", "t": "Query", "__schema": {"types": [{"name": "Q"}] * 40}}) == 0


def test_an_interface_counts_only_when_something_under_it_does():
    document = '{ node(id: "x") { id ... on Product { name category { name } } } }'
    assert cost(document, {"node": {"id": "x", "name": "P", "category": {"name": "C"}}}) == 2
    assert cost(document, {"node": {"id": "x"}}) == 0  # the same as requested for `{ node { id } }`


def test_the_named_operation_is_the_one_counted():
    document = "query A { products(first: 1) { nodes { id } } } query B { categories(first: 1) { nodes { id } } }"
    assert cost(document, {"categories": {"nodes": [{"id": "1"}]}}, "B") == 3
    assert cost(document, {"categories": {"nodes": [{"id": "1"}]}}, "C") == 0
    assert cost(document, None) == 0
