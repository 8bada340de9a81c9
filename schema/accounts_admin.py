"""Accounts for staff: managing staff accounts (MANAGE_STAFF: creating them, setting their permissions,
deactivating and activating them), and seeing customers (MANAGE_CUSTOMERS: the list with its search,
filter and sorts, and one customer by ID)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from models import Account, Permission
from resolvers import accounts_admin, accounts_listing
from resolvers.accounts_listing import MAX_SEARCH_LENGTH, CustomerSort
from resolvers.errors import BadInput, DomainError, ErrorCode
from schema.accounts import Customer, build_customer
from schema.context import Context
from schema.ids import decode_id_of
from schema.permissions import requires
from schema.selection import selection_tree
from schema.shared import After, Before, Connection, First, Last, UserError, attempt, build_user_error, described_enum


@strawberry.input(description="A new staff account.")
class StaffCreateInput:
    email: str = strawberry.field(description="The email address to sign in with; no account may have it yet.")
    password: str = strawberry.field(description="8–128 characters, not digits only, not the email address.")
    permissions: list[Permission] = strawberry.field(description="What the account may do.")


@strawberry.type(description="What a staff mutation did.")
class StaffPayload:
    staff: Customer | None = strawberry.field(description="The staff account as it now is; null when refused.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed; empty on success.")


described_enum(
    CustomerSort,
    "The order of `customers`; each sort breaks ties by the account's ID, in the same direction.",
    {
        CustomerSort.EMAIL_ASC: "By email address, A to Z.",
        CustomerSort.EMAIL_DESC: "By email address, Z to A.",
        CustomerSort.CREATED_AT_ASC: "The longest registered first.",
        CustomerSort.CREATED_AT_DESC: "The most recently registered first: the default.",
        CustomerSort.ORDER_COUNT_ASC: "The fewest orders (`orderCount`) first.",
        CustomerSort.ORDER_COUNT_DESC: "The most orders (`orderCount`) first.",
        CustomerSort.TOTAL_SPENT_ASC: "The least spent (`totalSpent`) first.",
        CustomerSort.TOTAL_SPENT_DESC: "The most spent (`totalSpent`) first.",
    },
)


@strawberry.input(description="Which customers: every condition given must hold.")
class CustomerFilter:
    created_after: datetime | None = strawberry.field(
        default=None, description="Registered at this moment or later (`createdAt`)."
    )
    created_before: datetime | None = strawberry.field(default=None, description="Registered before this moment.")
    has_orders: bool | None = strawberry.field(
        default=None,
        description="true: only customers who have placed an order (in any status); false: only those who have not.",
    )


@strawberry.type(description="A page of customers, with the number of all that match.")
class CustomerConnection(Connection[Customer]):
    nodes: list[Customer] = strawberry.field(description="The page's customers: `edges` without their cursors.")
    total_count: int = strawberry.field(description="How many customers match the filter and search, on every page.")


@strawberry.type
class AccountsAdminQuery:
    @strawberry.field(
        extensions=requires(Permission.MANAGE_CUSTOMERS),
        description="The shop's customers (accounts that are not staff), with what they ordered and spent.",
    )
    async def customers(
        self,
        info: Info[Context, None],
        search: Annotated[
            str | None,
            strawberry.argument(
                description="Text found anywhere in the email address or the full name, in any case; at most "
                f"{MAX_SEARCH_LENGTH} characters."
            ),
        ] = None,
        filter: Annotated[
            CustomerFilter | None, strawberry.argument(description="Which customers; left out: all.")
        ] = None,
        sort: Annotated[
            CustomerSort | None, strawberry.argument(description="The order; left out: CREATED_AT_DESC.")
        ] = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> CustomerConnection | None:
        filter = filter or CustomerFilter()
        spec = accounts_listing.customer_search(search, filter.created_after, filter.created_before, filter.has_orders)
        listing = await accounts_listing.list_customers(
            info.context.loaders,
            spec,
            sort,
            first,
            after,
            last,
            before,
            with_total="totalCount" in selection_tree(info),
        )
        customers = [build_customer(info.context, account) for account in listing.page.rows]
        return CustomerConnection.of(listing.page, customers, nodes=customers, total_count=listing.total_count or 0)

    @strawberry.field(
        extensions=requires(Permission.MANAGE_CUSTOMERS),
        description="A customer by ID, with `orders`, `orderCount` and `totalSpent`; null for a staff account or an "
        "ID that names no account.",
    )
    async def customer(
        self,
        info: Info[Context, None],
        id: Annotated[strawberry.ID, strawberry.argument(description="The customer (`Customer.id`).")],
    ) -> Customer | None:
        account = await accounts_listing.customer_by_id(info.context.loaders, decode_id_of(id, "Customer"))
        return None if account is None else build_customer(info.context, account)


StaffId = Annotated[strawberry.ID, strawberry.argument(description="The staff account (`Customer.id`).")]


@strawberry.type
class AccountsAdminMutation:
    @strawberry.mutation(extensions=requires(Permission.MANAGE_STAFF), description="Create a staff account.")
    async def staff_create(
        self,
        info: Info[Context, None],
        input: Annotated[StaffCreateInput, strawberry.argument(description="The account to create.")],
    ) -> StaffPayload:
        account, errors = await attempt(accounts_admin.add_staff(input.email, input.password, list(input.permissions)))
        return _payload(info.context, account, errors)

    @strawberry.mutation(
        extensions=requires(Permission.MANAGE_STAFF),
        description="Replace what a staff account may do; it counts from the account's next request.",
    )
    async def staff_permissions_set(
        self,
        info: Info[Context, None],
        staff_id: StaffId,
        permissions: Annotated[
            list[Permission],
            strawberry.argument(description="All it may do from now on; nobody can take MANAGE_STAFF from themselves."),
        ],
    ) -> StaffPayload:
        account_id = _staff_id(staff_id, "staffId")
        if isinstance(account_id, StaffPayload):
            return account_id
        actor = await info.context.viewer()
        account, errors = await attempt(accounts_admin.set_permissions(account_id, list(permissions), actor))
        return _payload(info.context, account, errors)

    @strawberry.mutation(
        extensions=requires(Permission.MANAGE_STAFF),
        description="Stop a staff account: it cannot sign in, its refresh tokens are revoked at once and its "
        "access tokens stop working at its next request. Nobody can deactivate themselves; the ID of an account "
        "that is not staff is NOT_FOUND.",
    )
    async def staff_deactivate(self, info: Info[Context, None], id: StaffId) -> StaffPayload:
        return await _set_active(info, id, active=False)

    @strawberry.mutation(
        extensions=requires(Permission.MANAGE_STAFF),
        description="Let a deactivated staff account sign in again (with its password: its old sessions stay "
        "signed out). The ID of an account that is not staff is NOT_FOUND.",
    )
    async def staff_activate(self, info: Info[Context, None], id: StaffId) -> StaffPayload:
        return await _set_active(info, id, active=True)


def _staff_id(staff_id: strawberry.ID, argument: str) -> int | StaffPayload:
    """The account's primary key, or the payload refusing a malformed ID."""
    try:
        return decode_id_of(staff_id, "Customer", argument)
    except BadInput as error:  # a malformed id is a field error here, like any other input
        return StaffPayload(
            staff=None, user_errors=[build_user_error(DomainError(ErrorCode.INVALID, error.message, [argument]))]
        )


def _payload(context: Context, account: Account | None, errors: list[UserError]) -> StaffPayload:
    return StaffPayload(staff=None if account is None else build_customer(context, account), user_errors=errors)


async def _set_active(info: Info[Context, None], id: strawberry.ID, *, active: bool) -> StaffPayload:
    account_id = _staff_id(id, "id")
    if isinstance(account_id, StaffPayload):
        return account_id
    actor = await info.context.viewer()
    account, errors = await attempt(accounts_admin.set_active(account_id, active, actor, info.context.token_rules))
    return _payload(info.context, account, errors)
