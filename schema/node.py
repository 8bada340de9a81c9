"""`node(id)` and `nodes(ids)`: any object by its global ID, for every type that answers them.

The ID names the type (`schema/ids.py`); `_LOOKUPS` says how each type is found and built, with
the same visibility as the type's own root field (drafts only for staff who manage products).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import strawberry
from strawberry.types import Info

from resolvers import catalogue
from resolvers.errors import BadInput
from schema.catalogue import build_category, build_product, build_variant, sees_hidden_products
from schema.context import Context
from schema.ids import decode_id
from schema.input_checks import MAX_LIST_LENGTH
from schema.selection import Tree, selection_tree
from schema.shared import Node


async def _product(context: Context, pk: int, selected: Tree) -> Node | None:
    row = await catalogue.product_by_id(context.loaders, pk, include_hidden=await sees_hidden_products(context))
    return None if row is None else await build_product(context, row, selected)


async def _variant(context: Context, pk: int, selected: Tree) -> Node | None:
    row = await catalogue.variant_by_id(context.loaders, pk, include_hidden=await sees_hidden_products(context))
    return None if row is None else build_variant(context, row)


async def _category(context: Context, pk: int, selected: Tree) -> Node | None:
    category = await catalogue.category_by_id(context.loaders, pk)
    return None if category is None else build_category(context, category)


# `selected`: what the query selects on the node, so a product loads only the relations it shows.
_LOOKUPS: dict[str, Callable[[Context, int, Tree], Awaitable[Node | None]]] = {
    "Product": _product,
    "ProductVariant": _variant,
    "Category": _category,
}


async def _node(context: Context, global_id: str, argument: str, selected: Tree) -> Node | None:
    type_name, pk = decode_id(global_id, argument)
    lookup = _LOOKUPS.get(type_name)
    if lookup is None:
        raise BadInput(f"`{argument}` is not a valid ID: {global_id!r}.", argument)
    return await lookup(context, pk, selected)


@strawberry.type
class NodeQuery:
    @strawberry.field(description="Any object by its global ID; null when it does not exist or is not visible.")
    async def node(self, info: Info[Context, None], id: strawberry.ID) -> Node | None:
        return await _node(info.context, id, "id", selection_tree(info))

    @strawberry.field(description=f"Several objects by global ID, in order; at most {MAX_LIST_LENGTH}.")
    async def nodes(self, info: Info[Context, None], ids: list[strawberry.ID]) -> list[Node | None]:
        selected = selection_tree(info)
        return list(await asyncio.gather(*(_node(info.context, gid, "ids", selected) for gid in ids)))
