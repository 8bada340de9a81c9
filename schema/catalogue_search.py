"""`productSuggestions`: what a search box offers as the shopper types.

It answers products, not a type of its own: a suggestion box shows a name and links to the
product's page (its slug), often with a thumbnail or a price, and `Product` already has each, cache
tags included; `build_products` loads only what the query selects, so a box asking for `id name
slug` costs one statement."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from resolvers import catalogue_changes as changes
from resolvers.catalogue_search import MAX_PREFIX_LENGTH, MAX_SUGGESTIONS, product_suggestions
from schema.catalogue import Product, build_products
from schema.context import Context
from schema.selection import selection_tree

DEFAULT = 10


@strawberry.type
class CatalogueSearchQuery:
    @strawberry.field(
        description="Active products whose name completes `prefix`: names starting with it first, then names with "
        "a word starting with it, then (on PostgreSQL) names close to it despite a typo. Null, with a "
        "BAD_USER_INPUT error, when an argument is out of range."
    )
    async def product_suggestions(
        self,
        info: Info[Context, None],
        prefix: Annotated[
            str,
            strawberry.argument(
                description=f"What the shopper has typed so far; at most {MAX_PREFIX_LENGTH} characters. With no "
                "letter or digit, no suggestion."
            ),
        ],
        first: Annotated[
            int | None,
            strawberry.argument(description=f"How many suggestions, from 1 to {MAX_SUGGESTIONS}; null: {DEFAULT}."),
        ] = DEFAULT,
    ) -> list[Product] | None:
        context = info.context
        context.cache_tags.add(changes.PRODUCTS)  # which products complete it changes with any product
        rows = await product_suggestions(prefix, DEFAULT if first is None else first)
        return await build_products(context, rows, selection_tree(info), page=True)
