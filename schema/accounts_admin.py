"""Managing staff accounts (MANAGE_STAFF): creating them and setting their permissions."""

from __future__ import annotations

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


@strawberry.input
class StaffCreateInput:
    email: str
    password: str
    permissions: list[Permission]


@strawberry.type
class StaffPayload:
    staff: Customer | None
    user_errors: list[UserError]


@strawberry.type
class AccountsAdminMutation:
    @strawberry.mutation(extensions=requires(Permission.MANAGE_STAFF))
    async def staff_create(self, info: Info[Context, None], input: StaffCreateInput) -> StaffPayload:
        account, errors = await attempt(accounts_admin.add_staff(input.email, input.password, list(input.permissions)))
        return StaffPayload(
            staff=None if account is None else build_customer(info.context, account), user_errors=errors
        )

    @strawberry.mutation(extensions=requires(Permission.MANAGE_STAFF))
    async def staff_permissions_set(
        self, info: Info[Context, None], staff_id: strawberry.ID, permissions: list[Permission]
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
