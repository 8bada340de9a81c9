"""Pins what schema/graphql_core.py relies on: Strawberry keeps the graphql-core schema it executes
against at `Schema._schema`."""

from __future__ import annotations

from graphql import GraphQLObjectType, GraphQLSchema


def test_the_core_schema_is_the_graphql_core_schema_of_our_types():
    from schema.graphql_core import core_schema
    from schema.root import schema

    core = core_schema(schema)
    assert isinstance(core, GraphQLSchema)
    product = core.get_type("Product")
    assert isinstance(product, GraphQLObjectType) and "variants" in product.fields
    assert core.query_type is not None and "products" in core.query_type.fields


def test_the_core_schema_is_the_one_strawberry_executes_against():
    from graphql import build_schema, lexicographic_sort_schema, print_schema

    from schema.graphql_core import core_schema
    from schema.root import schema

    # The SDL Strawberry prints (schema.graphql) is the core schema's, up to order: the same
    # types, fields, arguments and directives.
    def sdl(core: GraphQLSchema) -> str:
        return print_schema(lexicographic_sort_schema(core))

    assert sdl(core_schema(schema)) == sdl(build_schema(schema.as_str()))
