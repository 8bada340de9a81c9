"""Root types and the schema object."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime

import strawberry
from graphql import GraphQLError
from strawberry.extensions import ParserCache, SchemaExtension, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext, Info, get_object_definition

from resolvers.errors import BadInput
from schema import accounts, cart, catalogue, catalogue_admin, checkout, inventory, orders, shipments
from schema.context import Context
from schema.extensions import ErrorCodes, FreshLoaders, FreshLoadersPerMutation, OperationName
from schema.ids import decode_id
from schema.input_checks import MAX_LIST_LENGTH, InputChecks
from schema.limits import Limits, limit_extensions
from schema.live import SharedEventExecution
from schema.node import Node
from schema.scalars import DATETIME
from schema.selection import Tree, selection_tree

_NODE_RESOLVERS = {name: catalogue.resolve_node for name in catalogue.NODE_TYPES}


async def _node(context: Context, global_id: str, argument: str, selected: Tree) -> Node | None:
    type_name, pk = decode_id(global_id, argument)
    resolve = _NODE_RESOLVERS.get(type_name)
    if resolve is None:
        raise BadInput(f"`{argument}` is not a valid ID: {global_id!r}.", argument)
    return await resolve(context, type_name, pk, selected)


@strawberry.type
class Query(
    catalogue.CatalogueQuery,
    cart.CartQuery,
    orders.OrdersQuery,
    orders.OrdersAdminQuery,
    shipments.ShipmentsQuery,
    accounts.AccountsQuery,
    inventory.InventoryQuery,
):
    @strawberry.field(description="Any object by its global ID; null when it does not exist or is not visible.")
    async def node(self, info: Info[Context, None], id: strawberry.ID) -> Node | None:
        return await _node(info.context, id, "id", selection_tree(info))

    @strawberry.field(description=f"Several objects by global ID, in order; at most {MAX_LIST_LENGTH}.")
    async def nodes(self, info: Info[Context, None], ids: list[strawberry.ID]) -> list[Node | None]:
        selected = selection_tree(info)
        return list(await asyncio.gather(*(_node(info.context, gid, "ids", selected) for gid in ids)))


@strawberry.type
class Mutation(
    cart.CartMutation,
    checkout.CheckoutMutation,
    checkout.CheckoutAdminMutation,
    accounts.AccountsMutation,
    catalogue_admin.CatalogueAdminMutation,
    inventory.InventoryMutation,
    orders.OrdersAdminMutation,
    shipments.ShipmentsAdminMutation,
):
    pass


for _field in get_object_definition(Mutation, strict=True).fields:
    _field.extensions.append(FreshLoadersPerMutation())


@strawberry.type
class Subscription(orders.OrdersSubscription, shipments.ShipmentsSubscription):
    pass


class GatewaySchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        # Strawberry logs every error, client mistakes included; `schema.extensions.classify`
        # logs the unexpected ones, with the request id.
        return None


def build_schema(limits: Limits = Limits(), around: Sequence[Callable[[], SchemaExtension]] = ()) -> GatewaySchema:
    """The schema under `limits`; `around` are extensions that wrap every other (tracing's span)."""
    return GatewaySchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        execution_context_class=SharedEventExecution,
        config=StrawberryConfig(scalar_map={datetime: DATETIME}),
        types=[catalogue.Product, catalogue.ProductVariant, catalogue.Category],
        extensions=[
            *around,
            lambda: ParserCache(maxsize=1024),
            lambda: ValidationCache(maxsize=1024),
            *limit_extensions(limits),
            InputChecks,
            FreshLoaders,
            ErrorCodes,
            OperationName,
        ],
    )


schema = build_schema()
