"""The GraphQL schema: types per domain, the root Query, and the extensions always on."""

from schema.root import schema

__all__ = ["schema"]
