"""`node(id)` and `nodes(ids)`: any object by its global ID, for every type that implements Node.

The ID names the type (`schema/ids.py`); `_LOOKUPS` holds one lookup per type, each with the
visibility of that type's own root field, decided in `resolvers/` (drafts only for staff who
manage products; a cart, an order, an account or a parcel only for whoever may read it by ID).
What the caller may not see answers null, exactly like an ID that names nothing: an error would
tell them it exists. `tests/test_node.py` walks the schema, so a new Node type needs a lookup here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

import strawberry
from strawberry.types import Info

from resolvers import accounts, catalogue, orders, payments_sessions, shipments
from resolvers import cart as carts
from resolvers.errors import BadInput
from schema.accounts import build_customer
from schema.cart import build_cart
from schema.catalogue import build_category, build_image, build_product, build_variant, sees_hidden_products
from schema.context import Context
from schema.ids import decode_id
from schema.input_checks import MAX_LIST_LENGTH
from schema.orders import build_order
from schema.payments import build_payment
from schema.selection import Tree, selection_tree
from schema.shared import Node
from schema.shipments import build_shipment


async def _product(context: Context, pk: int, selected: Tree) -> Node | None:
    row = await catalogue.product_by_id(context.loaders, pk, include_hidden=await sees_hidden_products(context))
    return None if row is None else await build_product(context, row, selected)


async def _variant(context: Context, pk: int, selected: Tree) -> Node | None:
    row = await catalogue.variant_by_id(context.loaders, pk, include_hidden=await sees_hidden_products(context))
    return None if row is None else build_variant(context, row)


async def _image(context: Context, pk: int, selected: Tree) -> Node | None:
    row = await catalogue.image_by_id(context.loaders, pk, include_hidden=await sees_hidden_products(context))
    return None if row is None else build_image(row)


async def _category(context: Context, pk: int, selected: Tree) -> Node | None:
    category = await catalogue.category_by_id(context.loaders, pk)
    return None if category is None else build_category(context, category)


async def _cart(context: Context, pk: int, selected: Tree) -> Node | None:
    cart = await carts.cart_by_id(context.loaders, pk, await context.viewer())
    return None if cart is None else await build_cart(context, cart)


async def _order(context: Context, pk: int, selected: Tree) -> Node | None:
    order = await orders.order_by_id(context.loaders, pk, await context.viewer())
    return None if order is None else build_order(context, order)


async def _payment(context: Context, pk: int, selected: Tree) -> Node | None:
    payment = await payments_sessions.payment_by_id(context.loaders, pk, await context.viewer())
    return None if payment is None else build_payment(context, payment)


async def _shipment(context: Context, pk: int, selected: Tree) -> Node | None:
    shipment = await shipments.shipment_by_id(context.loaders, pk, await context.viewer())
    return None if shipment is None else build_shipment(context, shipment)


async def _customer(context: Context, pk: int, selected: Tree) -> Node | None:
    account = await accounts.account_by_id(context.loaders, pk, await context.viewer())
    return None if account is None else build_customer(context, account)


# `selected`: what the query selects on the node, so a product loads only the relations it shows.
# Every lookup reads through the request's loaders: `nodes(ids)` over many IDs of one type costs
# one statement per relation, not one per ID.
_LOOKUPS: dict[str, Callable[[Context, int, Tree], Awaitable[Node | None]]] = {
    "Product": _product,
    "ProductVariant": _variant,
    "Image": _image,
    "Category": _category,
    "Cart": _cart,
    "Order": _order,
    "Payment": _payment,
    "Shipment": _shipment,
    "Customer": _customer,
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
    async def node(
        self,
        info: Info[Context, None],
        id: Annotated[strawberry.ID, strawberry.argument(description="The object's ID (its `id` field).")],
    ) -> Node | None:
        return await _node(info.context, id, "id", selection_tree(info))

    @strawberry.field(
        description=f"Several objects by global ID, in order; at most {MAX_LIST_LENGTH}.",
        graphql_type=list[Node | None],
    )
    async def nodes(
        self,
        info: Info[Context, None],
        ids: Annotated[
            list[strawberry.ID], strawberry.argument(description="The objects' IDs; each answer is in the same place.")
        ],
    ) -> list[Awaitable[Node | None]]:
        selected = selection_tree(info)
        # Who is asking, once, before the lookups run side by side: each would otherwise check the
        # same access token (and ask Redis whether its session was signed out) on its own.
        await info.context.viewer()
        # One awaitable per ID, which graphql-core completes side by side (so the loaders batch
        # them): a malformed ID is an error at its own index and nulls only its own item.
        return [_node(info.context, gid, "ids", selected) for gid in ids]
