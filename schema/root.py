"""Root types and the schema object."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import strawberry
from graphql import GraphQLError
from strawberry.extensions import ParserCache, SchemaExtension, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext, get_object_definition

from schema import (
    accounts,
    accounts_admin,
    accounts_export,
    accounts_links,
    attributes_admin,
    audit_admin,
    cart,
    catalogue,
    catalogue_admin,
    catalogue_search,
    checkout,
    checkout_admin,
    imports_admin,
    inventory,
    media_admin,
    node,
    orders,
    orders_admin,
    payments,
    returns_admin,
    returns_request,
    shipments,
    shipments_admin,
    webhooks_out,
)
from schema.audit import audit_staff_mutations
from schema.cost_limit import CostLimitedQueries
from schema.extensions import ErrorCodes, FreshLoaders, FreshLoadersPerMutation, OperationName
from schema.input_checks import InputChecks
from schema.limits import Limits, QueryLimits, limit_extensions
from schema.live import SharedEventExecution
from schema.scalars import SCALARS


@strawberry.type(
    description="What can be read: the catalogue by everyone; a cart or an order by whoever holds its token; the "
    "account by its owner; the rest by staff holding the permission each field names."
)
class Query(
    catalogue.CatalogueQuery,
    catalogue_search.CatalogueSearchQuery,
    cart.CartQuery,
    orders.OrdersQuery,
    orders_admin.OrdersAdminQuery,
    shipments.ShipmentsQuery,
    accounts.AccountsQuery,
    accounts_admin.AccountsAdminQuery,
    inventory.InventoryQuery,
    checkout_admin.CheckoutAdminQuery,
    imports_admin.ImportsAdminQuery,
    webhooks_out.WebhooksOutQuery,
    audit_admin.AuditAdminQuery,
    node.NodeQuery,
):
    pass


@strawberry.type(
    description="What can be changed. Each mutation answers a payload whose `userErrors` say why a business rule "
    "refused it, in which case nothing changed."
)
class Mutation(
    cart.CartMutation,
    checkout.CheckoutMutation,
    payments.PaymentsMutation,
    checkout_admin.CheckoutAdminMutation,
    accounts.AccountsMutation,
    accounts_export.AccountsExportMutation,
    accounts_admin.AccountsAdminMutation,
    accounts_links.AccountsLinksMutation,
    catalogue_admin.CatalogueAdminMutation,
    media_admin.MediaAdminMutation,
    attributes_admin.AttributesAdminMutation,
    inventory.InventoryMutation,
    imports_admin.ImportsAdminMutation,
    orders_admin.OrdersAdminMutation,
    returns_admin.ReturnsMutation,
    returns_request.ReturnsRequestMutation,
    shipments_admin.ShipmentsAdminMutation,
    webhooks_out.WebhooksOutMutation,
):
    pass


for _field in get_object_definition(Mutation, strict=True).fields:
    _field.extensions.append(FreshLoadersPerMutation())
# Every mutation needing a staff permission is audited, one added tomorrow as well (schema/audit.py).
audit_staff_mutations(get_object_definition(Mutation, strict=True).fields)


@strawberry.type(
    description="Live updates over a WebSocket on /graphql (graphql-transport-ws or graphql-ws): the current state "
    "first, where there is one, then the object after every committed change."
)
class Subscription(orders.OrdersSubscription, orders_admin.OrdersAdminSubscription, shipments.ShipmentsSubscription):
    pass


class GatewaySchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        # Strawberry logs every error, client mistakes included; `schema.extensions.classify`
        # logs the unexpected ones, with the request id.
        return None


def build_schema(
    limits: Limits = Limits(),
    cost_limited: bool = False,
    around: Sequence[Callable[[], SchemaExtension]] = (),
) -> GatewaySchema:
    """The schema under `limits`; `cost_limited` draws each operation's cost from the client's
    bucket (the context's `cost_bucket`), at the price of an asynchronous hook on every execution;
    `around` are extensions that wrap every other (tracing's span)."""
    return GatewaySchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        execution_context_class=SharedEventExecution,
        config=StrawberryConfig(scalar_map=SCALARS),
        types=[catalogue.Product, catalogue.ProductVariant, catalogue.Category],
        extensions=[
            *around,
            lambda: ParserCache(maxsize=1024),
            lambda: ValidationCache(maxsize=1024),
            *limit_extensions(limits, CostLimitedQueries if cost_limited else QueryLimits),
            InputChecks,
            FreshLoaders,
            ErrorCodes,
            OperationName,
        ],
    )


schema = build_schema()
