"""Accounts as their owner sees them: registering, signing in, `me` and saved addresses (`accounts_admin`: managing staff)."""

from __future__ import annotations

from datetime import datetime

import strawberry
from starlette.responses import Response
from strawberry.types import Info

from loaders import Loaders
from models import Account, Permission
from models import Address as AddressModel
from resolvers import accounts
from resolvers.cart import merge_guest_cart
from resolvers.orders import list_orders
from schema.addresses import MailingAddress
from schema.context import Context
from schema.errors import RateLimited
from schema.ids import decode_id_of, encode_id
from schema.orders import Order, build_order
from schema.permissions import require_signed_in, signed_in
from schema.shared import Connection, Node, UserError, attempt

# The domain's enum, registered as GraphQL's Permission as it is: strawberry.enum returns the class it was
# given, so both layers name it alike.
strawberry.enum(Permission, name="Permission")


def build_address(address: AddressModel) -> Address:
    return Address(
        id=encode_id("Address", address.id),
        first_name=address.first_name,
        last_name=address.last_name,
        company=address.company or None,
        line1=address.line1,
        line2=address.line2 or None,
        city=address.city,
        postal_code=address.postal_code,
        region=address.region or None,
        country=address.country,
        phone=address.phone or None,
    )


@strawberry.type(description="A saved address of the signed-in customer.")
class Address(MailingAddress):
    id: strawberry.ID


async def _addresses(root: Customer) -> list[Address]:
    # Read when selected, through the loaders of the context the customer was built in.
    return [build_address(a) for a in await root._loaders.addresses_by_account_id.load(root._account_id)]


@strawberry.type
class Customer(Node):
    id: strawberry.ID
    email: str
    first_name: str
    last_name: str
    is_staff: bool
    permissions: list[Permission]
    created_at: datetime
    addresses: list[Address] = strawberry.field(resolver=_addresses)
    _account_id: strawberry.Private[int]
    _loaders: strawberry.Private[Loaders]

    @strawberry.field(description="This customer's orders, newest first.")
    async def orders(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> Connection[Order]:
        page = await list_orders(customer_id=self._account_id, first=first, after=after)
        return Connection.of(page, [build_order(info.context, o) for o in page.rows])


def build_customer(context: Context, account: Account) -> Customer:
    return Customer(
        id=encode_id("Customer", account.id),
        email=account.email,
        first_name=account.first_name,
        last_name=account.last_name,
        is_staff=account.is_staff,
        permissions=[Permission(p) for p in account.permissions or ()],
        created_at=account.created_at,
        _account_id=account.id,
        _loaders=context.loaders,
    )


@strawberry.input
class CustomerRegisterInput:
    email: str
    password: str
    first_name: str | None = None
    last_name: str | None = None


@strawberry.input(description="country: ISO 3166-1 alpha-2.")
class AddressInput:
    first_name: str
    last_name: str
    line1: str
    city: str
    postal_code: str
    country: str
    company: str | None = None
    line2: str | None = None
    region: str | None = None
    phone: str | None = None


@strawberry.type
class AddressPayload:
    address: Address | None
    user_errors: list[UserError]


@strawberry.type
class AddressDeletePayload:
    deleted_id: strawberry.ID | None
    user_errors: list[UserError]


@strawberry.type
class CustomerRegisterPayload:
    customer: Customer | None
    user_errors: list[UserError]


@strawberry.type
class TokenCreatePayload:
    access_token: str | None
    refresh_token: str | None
    customer: Customer | None
    cart_token: strawberry.ID | None = strawberry.field(
        default=None, description="With tokenCreate's cartToken: the customer's cart after the guest cart joined it."
    )
    user_errors: list[UserError]


@strawberry.type
class TokenRevokePayload:
    revoked: bool
    user_errors: list[UserError]


def _tokens(context: Context, pair: accounts.TokenPair | None, errors: list[UserError]) -> TokenCreatePayload:
    if pair is None:
        return TokenCreatePayload(access_token=None, refresh_token=None, customer=None, user_errors=errors)
    return TokenCreatePayload(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        customer=build_customer(context, pair.account),
        user_errors=[],
    )


@strawberry.type
class AccountsQuery:
    @strawberry.field(description="The signed-in account; null when the request carries no valid access token.")
    async def me(self, info: Info[Context, None]) -> Customer | None:
        account = await info.context.viewer()
        return None if account is None else build_customer(info.context, account)


@strawberry.type
class AccountsMutation:
    @strawberry.mutation
    async def customer_register(
        self, info: Info[Context, None], input: CustomerRegisterInput
    ) -> CustomerRegisterPayload:
        account, errors = await attempt(
            accounts.register_customer(input.email, input.password, input.first_name or "", input.last_name or "")
        )
        return CustomerRegisterPayload(
            customer=None if account is None else build_customer(info.context, account), user_errors=errors
        )

    @strawberry.mutation(
        description="Sign in: a 15-minute access token and a 30-day refresh token. With `cartToken`, "
        "that guest cart merges into the customer's open cart."
    )
    async def token_create(
        self, info: Info[Context, None], email: str, password: str, cart_token: strawberry.ID | None = None
    ) -> TokenCreatePayload:
        wait = await info.context.throttle_sign_in(email)
        if wait is not None:
            refusal = RateLimited("sign-in attempts", wait)
            if isinstance(info.context.response, Response):  # over HTTP (a WebSocket has no reply headers)
                info.context.response.headers["Retry-After"] = str(refusal.retry_after_seconds)
            raise refusal
        pair, errors = await attempt(
            accounts.sign_in(email, password, info.context.secret_key, info.context.token_rules)
        )
        payload = _tokens(info.context, pair, errors)
        if pair is not None and cart_token is not None:
            cart, cart_errors = await attempt(merge_guest_cart(cart_token, pair.account, info.context.cart_rules))
            payload.cart_token = strawberry.ID(cart.token) if cart is not None else None
            payload.user_errors = cart_errors  # signed in all the same; the cart problem is reported
        return payload

    @strawberry.mutation(
        description="A new token pair for a refresh token, which stops working. Sent again within a few "
        "seconds (two tabs at once), it gets the same pair; later, it signs the session out."
    )
    async def token_refresh(self, info: Info[Context, None], refresh_token: str) -> TokenCreatePayload:
        pair, errors = await attempt(accounts.refresh(refresh_token, info.context.secret_key, info.context.token_rules))
        return _tokens(info.context, pair, errors)

    @strawberry.mutation(
        description="Sign out: the refresh token, those it was rotated from or to, and their access "
        "tokens stop working at once."
    )
    async def token_revoke(self, info: Info[Context, None], refresh_token: str) -> TokenRevokePayload:
        return TokenRevokePayload(
            revoked=await accounts.revoke(refresh_token, info.context.token_rules), user_errors=[]
        )

    @strawberry.mutation(extensions=signed_in(), description="Save an address to the signed-in account.")
    async def customer_address_create(self, info: Info[Context, None], address: AddressInput) -> AddressPayload:
        account = require_signed_in(await info.context.viewer())  # as the field's extension made sure
        saved, errors = await attempt(accounts.add_address(account, vars(address)))
        return AddressPayload(address=None if saved is None else build_address(saved), user_errors=errors)

    @strawberry.mutation(extensions=signed_in())
    async def customer_address_delete(self, info: Info[Context, None], id: strawberry.ID) -> AddressDeletePayload:
        account = require_signed_in(await info.context.viewer())  # as the field's extension made sure
        removed, errors = await attempt(accounts.remove_address(account, decode_id_of(id, "Address")))
        return AddressDeletePayload(deleted_id=id if removed else None, user_errors=errors)
