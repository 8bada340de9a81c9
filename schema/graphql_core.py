"""The graphql-core schema under a Strawberry schema: the one place that reads `Schema._schema`.

The query limits, the input checks and the cost accounting walk the operation with graphql-core's
`TypeInfo` before it runs, which needs the `GraphQLSchema`. Strawberry builds one and executes
against it but exposes it only as `Schema._schema` (its own extensions, such as the validation
cache, read it the same way). tests/test_graphql_core.py pins that it is a `GraphQLSchema` holding
our types, so a Strawberry release that moves it fails there first.
"""

from __future__ import annotations

from graphql import GraphQLSchema
from strawberry.schema import Schema


def core_schema(schema: Schema) -> GraphQLSchema:
    """The graphql-core schema Strawberry executes `schema`'s operations against."""
    return schema._schema
