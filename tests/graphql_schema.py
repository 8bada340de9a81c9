"""The gateway's schema as graphql-core types, for the tests that walk its types and fields.

Built from the SDL that Strawberry prints (`Schema.as_str()`, public) rather than taken from the
graphql-core schema Strawberry holds, which is a private attribute of its `Schema`.
"""

from __future__ import annotations

from graphql import build_schema

from schema import schema

GRAPHQL_SCHEMA = build_schema(schema.as_str())
