"""Links sent by email for the account (resolvers/account_tokens.py): a forgotten password
(`customerRequestPasswordReset`, `customerResetPassword`), the address confirmed or changed
(`customerConfirmEmail`, `customerRequestEmailChange`), the account deleted (`customerRequestDeletion`,
`customerDelete`). The ones that act on a token need no sign-in: the link may be opened anywhere."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from resolvers import accounts_confirmation as confirmation
from resolvers import accounts_deletion as deletion
from resolvers import accounts_recovery as recovery
from schema.accounts import (
    PASSWORD_RULES,
    REDIRECT_URL,
    Customer,
    TokenCreatePayload,
    build_customer,
    build_tokens,
    refuse_throttled,
    throttle_sign_in,
)
from schema.context import Context
from schema.ids import encode_id
from schema.permissions import require_signed_in, signed_in
from schema.shared import UserError, attempt

OPTIONAL_REDIRECT_URL = f"{REDIRECT_URL} Left out: the first storefront URL."


@strawberry.type(
    description="What a request for a link by email did (`customerRequestPasswordReset`, "
    "`customerRequestEmailChange`, `customerRequestDeletion`). Whether an email was sent is not said: the "
    "answer is the same for an address with no account (or, for a change, one another account has)."
)
class CustomerRequestPayload:
    user_errors: list[UserError] = strawberry.field(
        description="Why the request was refused (REDIRECT_URL_NOT_ALLOWED, ...); empty when it was taken."
    )


async def throttle_email_links(context: Context, email: str) -> None:
    """Refuse (RATE_LIMITED) a caller that asked for too many links, or for too many to this address."""
    refuse_throttled(context, "links sent by email", await context.throttle_email_links(email))


@strawberry.type(description="What `customerConfirmEmail` did.")
class CustomerConfirmEmailPayload:
    customer: Customer | None = strawberry.field(
        description="The account with its address confirmed (after a change link: the new address); null when refused."
    )
    user_errors: list[UserError] = strawberry.field(
        description="Why nothing changed (INVALID_TOKEN; DUPLICATE when another account took the new address "
        "meanwhile); empty on success."
    )


@strawberry.type(description="What `customerDelete` did.")
class CustomerDeletePayload:
    deleted_id: strawberry.ID | None = strawberry.field(
        description="The ID of the account erased; null when nothing was."
    )
    user_errors: list[UserError] = strawberry.field(
        description="Why nothing was erased (INVALID_TOKEN); empty on success."
    )


@strawberry.type
class AccountsLinksMutation:
    @strawberry.mutation(
        description="Email a link to reset the password of the account with this address, customer or staff. The "
        "answer is the same, in about the same time, whether or not there is such an account; requests are "
        "limited per client and per address (RATE_LIMITED). The link works once, for PASSWORD_RESET_TTL (an "
        "hour by default)."
    )
    async def customer_request_password_reset(
        self,
        info: Info[Context, None],
        email: Annotated[str, strawberry.argument(description="The account's email address, in any case.")],
        redirect_url: Annotated[str, strawberry.argument(description=REDIRECT_URL)],
    ) -> CustomerRequestPayload:
        await throttle_email_links(info.context, email)
        context = info.context
        _, errors = await attempt(recovery.request_reset(email, redirect_url, context.link_rules, context.secret_key))
        return CustomerRequestPayload(user_errors=errors)

    @strawberry.mutation(
        description="Set a new password with the token of a reset link, and sign in. The account's other reset "
        "links stop working, and so does every session it had (refresh and access tokens); the address counts as "
        "confirmed. INVALID_TOKEN for a link used, expired or unknown; a password refused leaves the link usable."
    )
    async def customer_reset_password(
        self,
        info: Info[Context, None],
        token: Annotated[str, strawberry.argument(description="The `token` of the link sent by email.")],
        password: Annotated[str, strawberry.argument(description=PASSWORD_RULES)],
    ) -> TokenCreatePayload:
        context = info.context
        pair, errors = await attempt(recovery.reset_password(token, password, context.secret_key, context.token_rules))
        return build_tokens(context, pair, errors)

    @strawberry.mutation(
        description="Follow a link sent by email: a registration's (the address is confirmed) or an email change's "
        "(the account signs in with the new address from now on, confirmed). Each link works once; INVALID_TOKEN "
        "for one used, expired, unknown, or confirming an address the account no longer has."
    )
    async def customer_confirm_email(
        self,
        info: Info[Context, None],
        token: Annotated[str, strawberry.argument(description="The `token` of the link sent by email.")],
    ) -> CustomerConfirmEmailPayload:
        account, errors = await attempt(confirmation.confirm(token))
        return CustomerConfirmEmailPayload(
            customer=None if account is None else build_customer(info.context, account), user_errors=errors
        )

    @strawberry.mutation(
        extensions=signed_in(),
        description="Move the signed-in account to another email address: a link goes to the new address "
        "(`customerConfirmEmail`, valid a day) and the change takes effect only when it is followed; the current "
        "address is told at once. A wrong password counts against the sign-in limit.",
    )
    async def customer_request_email_change(
        self,
        info: Info[Context, None],
        new_email: Annotated[str, strawberry.argument(description="The address to sign in with from now on.")],
        password: Annotated[
            str, strawberry.argument(description="The account's password (INVALID_CREDENTIALS when it is not).")
        ],
        redirect_url: Annotated[str | None, strawberry.argument(description=OPTIONAL_REDIRECT_URL)] = None,
    ) -> CustomerRequestPayload:
        context = info.context
        account = require_signed_in(await context.viewer())  # as the field's extension made sure
        await throttle_sign_in(context, account.email)
        await throttle_email_links(context, new_email)
        _, errors = await attempt(
            confirmation.request_change(
                account, new_email, password, redirect_url, context.link_rules, context.secret_key
            )
        )
        return CustomerRequestPayload(user_errors=errors)

    @strawberry.mutation(
        extensions=signed_in(),
        description="Email the signed-in customer a link that deletes their account (`customerDelete`, valid an "
        "hour). Staff accounts are not deleted this way (INVALID): they are deactivated.",
    )
    async def customer_request_deletion(
        self,
        info: Info[Context, None],
        redirect_url: Annotated[str | None, strawberry.argument(description=OPTIONAL_REDIRECT_URL)] = None,
    ) -> CustomerRequestPayload:
        context = info.context
        account = require_signed_in(await context.viewer())  # as the field's extension made sure
        await throttle_email_links(context, account.email)
        _, errors = await attempt(
            deletion.request_deletion(account, redirect_url, context.link_rules, context.secret_key)
        )
        return CustomerRequestPayload(user_errors=errors)

    @strawberry.mutation(
        description="Erase the account a deletion link names, for good: its name, email address, phone, saved "
        "addresses, carts and sessions. Its orders stay for the shop's books, totals intact, with no email, name, "
        "street or phone left (only the country). The address may register again."
    )
    async def customer_delete(
        self,
        info: Info[Context, None],
        token: Annotated[str, strawberry.argument(description="The `token` of the link sent by email.")],
    ) -> CustomerDeletePayload:
        deleted, errors = await attempt(deletion.delete_account(token, info.context.token_rules))
        return CustomerDeletePayload(
            deleted_id=None if deleted is None else strawberry.ID(encode_id("Customer", deleted)), user_errors=errors
        )
