"""schema.graphql is the exported SDL, kept current."""

import dataclasses

from graphql import Visitor, parse, print_ast, visit
from graphql.language import Node

from gateway.cli import SCHEMA_FILE, schema_sdl


class _NoDescriptions(Visitor):
    def enter(self, node: Node, *_: object) -> Node | None:
        if getattr(node, "description", None) is not None:
            return dataclasses.replace(node, description=None)  # type: ignore[type-var]
        return None


def _signatures(sdl: str) -> str:
    """The SDL printed without its descriptions: an argument with one is printed on lines of its own,
    and the names below are written as a signature reads."""
    return print_ast(visit(parse(sdl), _NoDescriptions()))


def test_schema_file_is_current():
    assert SCHEMA_FILE.exists(), "run `python -m gateway export-schema`"
    assert SCHEMA_FILE.read_text() == schema_sdl(), "schema.graphql is stale: run `python -m gateway export-schema`"


def test_contract_names_are_in_the_schema():
    sdl = _signatures(schema_sdl())
    for name in (
        "interface Node",
        "node(id: ID!): Node",
        "nodes(ids: [ID!]!): [Node]!",
        "type ProductConnection",
        "totalCount: Int!",
        "facets: ProductFacets!",
        "quantityAvailable: Int!",
        "availableForSale: Boolean!",
        "priceRange: PriceRange",
        "type Money",
        "amount: Decimal!",
    ):
        assert name in sdl, name
