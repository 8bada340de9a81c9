"""Accounts as their owner sees them: registering, signing in, `me`, the profile, the password and saved
addresses (`accounts_admin`: managing staff)."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime
from typing import Annotated

import strawberry
from starlette.responses import Response
from strawberry.types import Info

from loaders import Loaders
from models import Account, AddressType, Permission
from models import Address as AddressModel
from models.accounts import PERSON_NAME_LENGTH
from resolvers import accounts, addresses
from resolvers import accounts_confirmation as confirmation
from resolvers import accounts_passwords as passwords
from resolvers import accounts_profile as profile
from resolvers.cart import active_cart, merge_guest_cart
from resolvers.orders import list_orders
from schema.addresses import AddressInput, MailingAddress
from schema.cart import Cart, build_cart
from schema.context import Context
from schema.errors import RateLimited
from schema.ids import decode_id_of, encode_id
from schema.orders import Order, build_order
from schema.permissions import require_signed_in, signed_in
from schema.shared import After, Connection, First, Money, Node, UserError, attempt, build_money, described_enum

# The domain's enum, registered as GraphQL's Permission as it is: strawberry.enum returns the class it was
# given, so both layers name it alike.
described_enum(
    Permission,
    "What a staff account may do; each admin field and mutation needs one.",
    {
        Permission.MANAGE_PRODUCTS: "Create, change and delete categories, products, variants and images; see "
        "DRAFT and ARCHIVED products.",
        Permission.MANAGE_INVENTORY: "Create warehouses, set and adjust stock, read the stock ledger and low stock.",
        Permission.MANAGE_ORDERS: "See every order and who acted on it, follow `orderEvents`, mark orders paid, "
        "cancel and refund them.",
        Permission.MANAGE_SHIPMENTS: "Ship orders and record what happens to their parcels.",
        Permission.MANAGE_DISCOUNTS: "Create discount codes.",
        Permission.MANAGE_SHIPPING: "Create shipping methods.",
        Permission.MANAGE_STAFF: "Create staff accounts, set their permissions, deactivate and activate them.",
        Permission.MANAGE_APPS: "Subscribe endpoints to webhooks, change, pause and delete them.",
        Permission.MANAGE_CUSTOMERS: "List and search customers (`customers`), see one with its orders (`customer`).",
        Permission.VIEW_AUDIT_LOG: "Read the staff audit log (`auditLog`): who called which admin mutation, on what, "
        "and how it ended.",
    },
)

described_enum(
    AddressType,
    "What a customer's default address is used for (`customerSetDefaultAddress`).",
    {
        AddressType.SHIPPING: "Where orders ship: a new cart starts with it as its shipping address.",
        AddressType.BILLING: "Where orders are billed: a new cart starts with it as its billing address.",
    },
)


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
    id: strawberry.ID = strawberry.field(
        description="The address's ID, for `customerAddressUpdate`, `customerAddressDelete` and "
        "`customerSetDefaultAddress`."
    )


async def _saved(root: Customer) -> list[AddressModel]:
    # Read when selected, through the loaders of the context the customer was built in: the
    # addresses and both defaults in one statement however many of them a query selects.
    return await root._loaders.addresses_by_account_id.load(root._account_id)


async def _addresses(root: Customer) -> list[Address]:
    return [build_address(a) for a in await _saved(root)]


async def _default_shipping(root: Customer) -> Address | None:
    return next((build_address(a) for a in await _saved(root) if a.default_shipping), None)


async def _default_billing(root: Customer) -> Address | None:
    return next((build_address(a) for a in await _saved(root) if a.default_billing), None)


@strawberry.type(
    description="An account: a shopper or a staff member. Its owner sees it (`me`), staff with MANAGE_STAFF any "
    "account, staff with MANAGE_CUSTOMERS a shopper's (`customers`, `customer`)."
)
class Customer(Node):
    email: str = strawberry.field(description="The email address it signs in with, lower-cased.")
    email_confirmed: bool = strawberry.field(
        description="Whether its owner followed a link sent to `email` (registration, `customerConfirmEmail`, a "
        "password reset). Accounts opened before confirmation existed count as confirmed."
    )
    first_name: str = strawberry.field(description="The account holder's first name; empty when not given.")
    last_name: str = strawberry.field(description="The account holder's last name; empty when not given.")
    phone: str | None = strawberry.field(description="The account holder's phone number; null when not given.")
    marketing_consent: bool = strawberry.field(
        description="Whether the account holder agreed to marketing emails (`customerUpdate`); false until they do."
    )
    is_staff: bool = strawberry.field(description="Whether it is a staff account.")
    permissions: list[Permission] = strawberry.field(description="What a staff account may do; empty for a shopper.")
    created_at: datetime = strawberry.field(description="When the account was created (registered).")
    is_active: bool = strawberry.field(description="False for a deactivated account, which cannot sign in.")
    addresses: list[Address] = strawberry.field(
        resolver=_addresses, description="The addresses saved to the account with `customerAddressCreate`."
    )
    default_shipping_address: Address | None = strawberry.field(
        resolver=_default_shipping,
        description="The saved address a new cart ships to (`customerSetDefaultAddress`); null when none is chosen "
        "or it was deleted.",
    )
    default_billing_address: Address | None = strawberry.field(
        resolver=_default_billing,
        description="The saved address a new cart is billed to (`customerSetDefaultAddress`); null when none is "
        "chosen or it was deleted.",
    )
    _account_id: strawberry.Private[int]
    _loaders: strawberry.Private[Loaders]

    @strawberry.field(description="How many orders the account has placed, in any status.")
    async def order_count(self) -> int:
        return (await self._loaders.order_totals_by_customer_id.load(self._account_id)).count

    @strawberry.field(
        description="The sum of the totals of the account's orders that are PAID, PARTIALLY_SHIPPED, SHIPPED or "
        "DELIVERED: not those still unpaid (PLACED), cancelled or refunded. In the store's one currency, as every "
        "amount."
    )
    async def total_spent(self, info: Info[Context, None]) -> Money:
        return build_money((await self._loaders.order_totals_by_customer_id.load(self._account_id)).spent, info.context)

    @strawberry.field(description="This customer's orders, newest first.")
    async def orders(self, info: Info[Context, None], first: First = None, after: After = None) -> Connection[Order]:
        page = await list_orders(customer_id=self._account_id, first=first, after=after)
        return Connection.of(page, [build_order(info.context, o) for o in page.rows])

    @strawberry.field(
        description="The customer's active cart, the same on every device they sign in on: the one not yet checked "
        "out that changed last (a guest cart given to `tokenCreate` joins it). Null when they have none, and unless "
        "the request is signed in as this customer: its token would let staff change it (a `tokenCreate` answer "
        "has `cartToken`)."
    )
    async def cart(self, info: Info[Context, None]) -> Cart | None:
        viewer = await info.context.viewer()
        if viewer is None or viewer.id != self._account_id:
            return None
        cart = await active_cart(self._account_id)
        return None if cart is None else await build_cart(info.context, cart)


def build_customer(context: Context, account: Account) -> Customer:
    return Customer(
        id=encode_id("Customer", account.id),
        email=account.email,
        email_confirmed=account.email_confirmed,
        first_name=account.first_name,
        last_name=account.last_name,
        phone=account.phone or None,
        marketing_consent=account.marketing_consent,
        is_staff=account.is_staff,
        permissions=[Permission(p) for p in account.permissions or ()],
        created_at=account.created_at,
        is_active=account.is_active,
        _account_id=account.id,
        _loaders=context.loaders,
    )


REDIRECT_URL = (
    "The storefront page the emailed link opens, with `?token=…` added: it must lie under one of the "
    "gateway's storefront URLs (STOREFRONT_URLS), or REDIRECT_URL_NOT_ALLOWED."
)
PASSWORD_RULES = (
    f"{passwords.MIN_LENGTH}–{passwords.MAX_LENGTH} characters, not the email address nor the part before its @, "
    "not digits only, not one of the most common passwords (PASSWORD_TOO_SHORT, TOO_LONG, PASSWORD_TOO_SIMILAR, "
    "PASSWORD_TOO_COMMON)."
)


@strawberry.input(description="A new customer account.")
class CustomerRegisterInput:
    email: str = strawberry.field(description="The email address to sign in with; unique, stored lower-cased.")
    password: str = strawberry.field(description=f"{PASSWORD_RULES} Stored only as an Argon2 hash.")
    first_name: str | None = strawberry.field(
        default=None, description=f"At most {PERSON_NAME_LENGTH} characters; left out: empty."
    )
    last_name: str | None = strawberry.field(
        default=None, description=f"At most {PERSON_NAME_LENGTH} characters; left out: empty."
    )


@strawberry.type(
    description="What `customerAddressCreate`, `customerAddressUpdate` or `customerSetDefaultAddress` did."
)
class AddressPayload:
    address: Address | None = strawberry.field(description="The saved address; null when refused.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing was saved; empty on success.")


@strawberry.type(description="What `customerUpdate` did.")
class CustomerUpdatePayload:
    customer: Customer | None = strawberry.field(description="The account as it now is; null when refused.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed; empty on success.")


@strawberry.type(description="What `customerAddressDelete` did.")
class AddressDeletePayload:
    deleted_id: strawberry.ID | None = strawberry.field(
        description="The ID of the address removed; null when nothing was."
    )
    user_errors: list[UserError] = strawberry.field(description="Why nothing was removed; empty on success.")


@strawberry.type(description="What `customerRegister` did.")
class CustomerRegisterPayload:
    customer: Customer | None = strawberry.field(
        description="The new account, not yet signed in (`tokenCreate`); null when refused."
    )
    user_errors: list[UserError] = strawberry.field(description="Why no account was created; empty on success.")


@strawberry.type(
    description="What a sign-in (`tokenCreate`), a refresh (`tokenRefresh`) or a password change "
    "(`customerChangePassword`) gives."
)
class TokenCreatePayload:
    access_token: str | None = strawberry.field(
        description="Send it as `Authorization: Bearer <accessToken>`, or in a WebSocket's `connection_init`; "
        "null when refused."
    )
    # After each token its expiry, named as Shopify's `customerAccessToken { accessToken expiresAt }`
    # would be in this flat payload.
    access_token_expires_at: datetime | None = strawberry.field(
        default=None,
        description="When `accessToken` stops working (ACCESS_TOKEN_TTL after it was issued, 15 minutes by "
        "default): refresh before then. Null when refused.",
    )
    refresh_token: str | None = strawberry.field(
        description="For `tokenRefresh` (a new pair, once) or `tokenRevoke` (sign out). Keep it secret; null when "
        "refused."
    )
    refresh_token_expires_at: datetime | None = strawberry.field(
        default=None,
        description="When `refreshToken` stops working, 30 days after it was issued; past it, sign in again. Each "
        "refresh gives a new token with a new date. Null when refused.",
    )
    customer: Customer | None = strawberry.field(description="The signed-in account; null when refused.")
    cart_token: strawberry.ID | None = strawberry.field(
        default=None, description="With tokenCreate's cartToken: the customer's cart after the guest cart joined it."
    )
    user_errors: list[UserError] = strawberry.field(
        description="Why no tokens were given (INVALID_CREDENTIALS, INVALID_TOKEN), or why the guest cart could not "
        "join (signed in all the same); empty on success."
    )


@strawberry.type(description="What `tokenRevoke` did.")
class TokenRevokePayload:
    revoked: bool = strawberry.field(
        description="True when the token was known: its session is signed out, access tokens included. False for "
        "an unknown token."
    )
    user_errors: list[UserError] = strawberry.field(description="Always empty: an unknown token is not an error.")


def build_tokens(context: Context, pair: accounts.TokenPair | None, errors: list[UserError]) -> TokenCreatePayload:
    if pair is None:
        return TokenCreatePayload(access_token=None, refresh_token=None, customer=None, user_errors=errors)
    return TokenCreatePayload(
        access_token=pair.access_token,
        access_token_expires_at=pair.access_expires_at,
        refresh_token=pair.refresh_token,
        refresh_token_expires_at=pair.refresh_expires_at,
        customer=build_customer(context, pair.account),
        user_errors=[],
    )


async def _address_payload(action: Awaitable[AddressModel]) -> AddressPayload:
    saved, errors = await attempt(action)
    return AddressPayload(address=None if saved is None else build_address(saved), user_errors=errors)


def refuse_throttled(context: Context, what: str, wait: float | None) -> None:
    """Refuse (RATE_LIMITED, with Retry-After) when a throttle said to wait `wait` seconds."""
    if wait is not None:
        refusal = RateLimited(what, wait)
        if isinstance(context.response, Response):  # over HTTP (a WebSocket has no reply headers)
            context.response.headers["Retry-After"] = str(refusal.retry_after_seconds)
        raise refusal


async def throttle_sign_in(context: Context, email: str) -> None:
    """Refuse (RATE_LIMITED) a caller that has tried too many passwords for this address: at
    sign-in, and when changing a password, which a stolen access token could otherwise guess at."""
    refuse_throttled(context, "sign-in attempts", await context.throttle_sign_in(email))


@strawberry.type
class AccountsQuery:
    @strawberry.field(description="The signed-in account; null when the request carries no valid access token.")
    async def me(self, info: Info[Context, None]) -> Customer | None:
        account = await info.context.viewer()
        return None if account is None else build_customer(info.context, account)


@strawberry.type
class AccountsMutation:
    @strawberry.mutation(
        description="Open a customer account and email a link confirming its address (`customerConfirmEmail`, "
        "valid 3 days); sign in with `tokenCreate` afterwards (with REQUIRE_EMAIL_CONFIRMATION, once confirmed)."
    )
    async def customer_register(
        self,
        info: Info[Context, None],
        input: Annotated[CustomerRegisterInput, strawberry.argument(description="The account to open.")],
        redirect_url: Annotated[
            str | None, strawberry.argument(description=f"{REDIRECT_URL} Left out: the first storefront URL.")
        ] = None,
    ) -> CustomerRegisterPayload:
        context = info.context
        account, errors = await attempt(
            confirmation.register(
                input.email,
                input.password,
                input.first_name or "",
                input.last_name or "",
                redirect_url,
                context.link_rules,
                context.secret_key,
            )
        )
        return CustomerRegisterPayload(
            customer=None if account is None else build_customer(info.context, account), user_errors=errors
        )

    @strawberry.mutation(
        description="Sign in: a 15-minute access token and a 30-day refresh token, each with the time it expires. "
        "With `cartToken`, that guest cart merges into the customer's open cart."
    )
    async def token_create(
        self,
        info: Info[Context, None],
        email: Annotated[str, strawberry.argument(description="The account's email address, in any case.")],
        password: Annotated[str, strawberry.argument(description="The account's password.")],
        cart_token: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="A guest cart's token: its lines join the customer's open cart."),
        ] = None,
    ) -> TokenCreatePayload:
        await throttle_sign_in(info.context, email)
        pair, errors = await attempt(
            accounts.sign_in(email, password, info.context.secret_key, info.context.token_rules)
        )
        payload = build_tokens(info.context, pair, errors)
        if pair is not None and cart_token is not None:
            cart, cart_errors = await attempt(merge_guest_cart(cart_token, pair.account, info.context.cart_rules))
            payload.cart_token = strawberry.ID(cart.token) if cart is not None else None
            payload.user_errors = cart_errors  # signed in all the same; the cart problem is reported
        return payload

    @strawberry.mutation(
        description="A new token pair for a refresh token, which stops working. Sent again within a few "
        "seconds (two tabs at once), it gets the same pair; later, it signs the session out."
    )
    async def token_refresh(
        self,
        info: Info[Context, None],
        refresh_token: Annotated[
            str, strawberry.argument(description="The refresh token the last sign-in or refresh gave.")
        ],
    ) -> TokenCreatePayload:
        pair, errors = await attempt(accounts.refresh(refresh_token, info.context.secret_key, info.context.token_rules))
        return build_tokens(info.context, pair, errors)

    @strawberry.mutation(
        description="Sign out: the refresh token, those it was rotated from or to, and their access "
        "tokens stop working at once."
    )
    async def token_revoke(
        self,
        info: Info[Context, None],
        refresh_token: Annotated[str, strawberry.argument(description="A refresh token of the session to end.")],
    ) -> TokenRevokePayload:
        return TokenRevokePayload(
            revoked=await accounts.revoke(refresh_token, info.context.token_rules), user_errors=[]
        )

    @strawberry.mutation(extensions=signed_in(), description="Save an address to the signed-in account.")
    async def customer_address_create(
        self,
        info: Info[Context, None],
        address: Annotated[AddressInput, strawberry.argument(description="The address; an account keeps 20 at most.")],
    ) -> AddressPayload:
        account = require_signed_in(await info.context.viewer())  # as the field's extension made sure
        return await _address_payload(addresses.add_address(account, vars(address)))

    @strawberry.mutation(extensions=signed_in(), description="Remove an address saved to the signed-in account.")
    async def customer_address_delete(
        self,
        info: Info[Context, None],
        id: Annotated[strawberry.ID, strawberry.argument(description="The address (`Address.id`).")],
    ) -> AddressDeletePayload:
        account = require_signed_in(await info.context.viewer())  # as the field's extension made sure
        removed, errors = await attempt(addresses.remove_address(account, decode_id_of(id, "Address")))
        return AddressDeletePayload(deleted_id=id if removed else None, user_errors=errors)

    @strawberry.mutation(
        extensions=signed_in(),
        description="Correct an address saved to the signed-in account; it stays the default it was. Carts and "
        "orders keep the copy they were given.",
    )
    async def customer_address_update(
        self,
        info: Info[Context, None],
        id: Annotated[strawberry.ID, strawberry.argument(description="The address (`Address.id`).")],
        input: Annotated[AddressInput, strawberry.argument(description="The whole address, as it is to be.")],
    ) -> AddressPayload:
        account = require_signed_in(await info.context.viewer())  # as the field's extension made sure
        return await _address_payload(addresses.update_address(account, decode_id_of(id, "Address"), vars(input)))

    @strawberry.mutation(
        extensions=signed_in(),
        description="Make a saved address the signed-in customer's default for shipping or billing, in place of "
        "the one before; carts they start from then on begin with it.",
    )
    async def customer_set_default_address(
        self,
        info: Info[Context, None],
        id: Annotated[strawberry.ID, strawberry.argument(description="The address (`Address.id`).")],
        type: Annotated[AddressType, strawberry.argument(description="Which default it becomes.")],
    ) -> AddressPayload:
        account = require_signed_in(await info.context.viewer())  # as the field's extension made sure
        return await _address_payload(addresses.set_default(account, decode_id_of(id, "Address"), type))

    @strawberry.mutation(
        extensions=signed_in(),
        description="Change the signed-in customer's name, phone or marketing consent; an argument left out "
        "leaves its field as it is, an empty text clears it.",
    )
    async def customer_update(
        self,
        info: Info[Context, None],
        first_name: Annotated[
            str | None, strawberry.argument(description=f"At most {PERSON_NAME_LENGTH} characters.")
        ] = None,
        last_name: Annotated[
            str | None, strawberry.argument(description=f"At most {PERSON_NAME_LENGTH} characters.")
        ] = None,
        phone: Annotated[
            str | None, strawberry.argument(description=f"At most {profile.PHONE_LENGTH} characters.")
        ] = None,
        marketing_consent: Annotated[
            bool | None, strawberry.argument(description="Whether they agree to marketing emails.")
        ] = None,
    ) -> CustomerUpdatePayload:
        account = require_signed_in(await info.context.viewer())  # as the field's extension made sure
        changes = profile.ProfileChanges(first_name, last_name, phone, marketing_consent)
        updated, errors = await attempt(profile.update_profile(account, changes))
        return CustomerUpdatePayload(
            customer=None if updated is None else build_customer(info.context, updated), user_errors=errors
        )

    @strawberry.mutation(
        extensions=signed_in(),
        description="Change the signed-in account's password. Every session of the account is signed out, "
        "refresh and access tokens alike; the answer carries a new token pair for this one. Wrong current "
        "passwords count against the same limit as sign-in attempts.",
    )
    async def customer_change_password(
        self,
        info: Info[Context, None],
        current_password: Annotated[
            str, strawberry.argument(description="The password now (INVALID_CREDENTIALS when it is not).")
        ],
        new_password: Annotated[str, strawberry.argument(description=PASSWORD_RULES)],
    ) -> TokenCreatePayload:
        account = require_signed_in(await info.context.viewer())  # as the field's extension made sure
        await throttle_sign_in(info.context, account.email)
        pair, errors = await attempt(
            profile.change_password(
                account, current_password, new_password, info.context.secret_key, info.context.token_rules
            )
        )
        return build_tokens(info.context, pair, errors)
