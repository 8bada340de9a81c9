"""schema.graphql is the exported SDL, kept current."""

from gateway.cli import SCHEMA_FILE, schema_sdl


def test_schema_file_is_current():
    assert SCHEMA_FILE.exists(), "run `python -m gateway export-schema`"
    assert SCHEMA_FILE.read_text() == schema_sdl(), "schema.graphql is stale: run `python -m gateway export-schema`"


def test_contract_names_are_in_the_schema():
    sdl = schema_sdl()
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
