"""Managing staff accounts (MANAGE_STAFF): creating them and setting their permissions."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from models import Permission
from resolvers import accounts_admin
from resolvers.errors import BadInput, DomainError, ErrorCode
from schema.accounts import Customer, build_customer
from schema.context import Context
from schema.ids import decode_id_of
from schema.permissions import requires
from schema.shared import UserError, attempt, build_user_error


@strawberry.input(description="A new staff account.")
class StaffCreateInput:
    email: str = strawberry.field(description="The email address to sign in with; no account may have it yet.")
    password: str = strawberry.field(description="8–128 characters, not digits only, not the email address.")
    permissions: list[Permission] = strawberry.field(description="What the account may do.")


@strawberry.type(description="What a staff mutation did.")
class StaffPayload:
    staff: Customer | None = strawberry.field(description="The staff account as it now is; null when refused.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed; empty on success.")


@strawberry.type
class AccountsAdminMutation:
    @strawberry.mutation(extensions=requires(Permission.MANAGE_STAFF), description="Create a staff account.")
    async def staff_create(
        self,
        info: Info[Context, None],
        input: Annotated[StaffCreateInput, strawberry.argument(description="The account to create.")],
    ) -> StaffPayload:
        account, errors = await attempt(accounts_admin.add_staff(input.email, input.password, list(input.permissions)))
        return StaffPayload(
            staff=None if account is None else build_customer(info.context, account), user_errors=errors
        )

    @strawberry.mutation(
        extensions=requires(Permission.MANAGE_STAFF),
        description="Replace what a staff account may do; it counts from the account's next request.",
    )
    async def staff_permissions_set(
        self,
        info: Info[Context, None],
        staff_id: Annotated[strawberry.ID, strawberry.argument(description="The staff account (`Customer.id`).")],
        permissions: Annotated[
            list[Permission],
            strawberry.argument(description="All it may do from now on; nobody can take MANAGE_STAFF from themselves."),
        ],
    ) -> StaffPayload:
        try:
            account_id = decode_id_of(staff_id, "Customer", "staffId")
        except BadInput as error:  # a malformed id is a field error here, like any other input
            return StaffPayload(
                staff=None, user_errors=[build_user_error(DomainError(ErrorCode.INVALID, error.message, ["staffId"]))]
            )
        actor = await info.context.viewer()
        account, errors = await attempt(accounts_admin.set_permissions(account_id, list(permissions), actor))
        return StaffPayload(
            staff=None if account is None else build_customer(info.context, account), user_errors=errors
        )
