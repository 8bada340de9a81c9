"""The floor's schema: the real one, except that root `products` returns a page held in memory.

The page is captured once by running the real listing through the real schema, so the objects are
exactly what the gateway builds: the listing's relations are loaded with the page, and serving it
again reaches no database (the listing scenario counts the floor's statements and fails on any).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import strawberry
from graphql import GraphQLResolveInfo
from strawberry.extensions import SchemaExtension
from strawberry.types import Info, get_object_definition

from schema import catalogue, schema
from schema.catalogue import FilterArgument, ProductConnection, SearchArgument, SortArgument
from schema.context import Context
from schema.root import Mutation, Query, Subscription
from schema.shared import After, Before, First, Last
from testbed.storefront import LISTING, LISTING_ARGUMENTS

# What schema/root.py passes as `types=`: Strawberry keeps no public copy of it, so it is repeated
# here, and `build_schema` checks that the resulting SDL is the real one's.
SCHEMA_TYPES = [catalogue.Product, catalogue.ProductVariant, catalogue.Category]


class _CaptureRootField(SchemaExtension):
    """Keeps what one root field's resolver returned, before graphql-core serialises it."""

    def __init__(self, field_name: str, sink: list[Any]) -> None:
        super().__init__()
        self.field_name = field_name
        self.sink = sink

    async def resolve(
        self, _next: Callable[..., Any], root: Any, info: GraphQLResolveInfo, *args: Any, **kwargs: Any
    ) -> Any:
        result = _next(root, info, *args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        if info.path.prev is None and info.field_name == self.field_name:
            self.sink.append(result)
        return result


async def capture_listing(currency: str) -> ProductConnection:
    """Run LISTING through the real schema (Tortoise must be initialised) and keep its `products`."""
    sink: list[Any] = []
    capturing = _same_schema_class(
        query=schema.query,
        types=SCHEMA_TYPES,
        extensions=[*schema.extensions, lambda: _CaptureRootField("products", sink)],
        config=schema.config,
    )
    result = await capturing.execute(LISTING, context_value=Context(currency=currency))
    if result.errors:
        raise RuntimeError(f"floor: the listing failed while capturing it: {result.errors}")
    if len(sink) != 1 or not isinstance(sink[0], ProductConnection):
        raise RuntimeError(f"floor: expected one ProductConnection from `products`, captured {sink!r:.200}")
    connection: ProductConnection = sink[0]
    return connection


def _same_schema_class(**kwargs: Any) -> strawberry.Schema:
    # The gateway may subclass strawberry.Schema (e.g. to change error processing): keep its class.
    return type(schema)(**kwargs)


def _real_products_description() -> str | None:
    field = schema.get_field_for_type("products", "Query")
    return field.description if field is not None else None


def build_schema(page: Callable[[], ProductConnection]) -> strawberry.Schema:
    """The real schema with root `products` answered by `page()`: same types, same extensions."""

    @strawberry.type(name="Query", description=get_object_definition(Query, strict=True).description)
    class FloorQuery(Query):
        # Same name, arguments and description as CatalogueQuery.products, so the same document
        # validates and the SDL is identical; a plain (not async) resolver: nothing to wait for.
        @strawberry.field(description=_real_products_description())
        def products(
            self,
            info: Info[Context, None],
            first: First = None,
            after: After = None,
            last: Last = None,
            before: Before = None,
            filter: FilterArgument = None,
            sort: SortArgument = None,
            search: SearchArgument = None,
        ) -> ProductConnection | None:  # nullable, as the real root field is
            given = {
                "first": first,
                "after": after,
                "last": last,
                "before": before,
                "filter": filter,
                "sort": sort,
                "search": search,
            }
            if {k: v for k, v in given.items() if v is not None} != LISTING_ARGUMENTS:
                raise ValueError(f"the floor serves only products({LISTING_ARGUMENTS}), got {given}")
            return page()

    floor = _same_schema_class(
        query=FloorQuery,
        mutation=Mutation,
        subscription=Subscription,
        types=SCHEMA_TYPES,
        extensions=schema.extensions,
        config=schema.config,  # the custom scalars (schema/scalars.py)
    )
    if floor.as_str() != schema.as_str():
        raise RuntimeError("floor: the floor schema's SDL differs from the real schema's")
    return floor
