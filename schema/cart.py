"""Carts for the storefront: anyone holding a cart's token may read and change it."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from models import Cart as CartModel
from resolvers import cart as carts
from schema.catalogue import Money, ProductVariant, money, variant_view
from schema.context import Context
from schema.errors import UserError, attempt
from schema.ids import decode_id_of, encode_id
from schema.node import Node


@strawberry.type
class CartLine:
    id: strawberry.ID
    variant: ProductVariant
    quantity: int
    unit_price: Money
    total: Money


@strawberry.type
class Cart(Node):
    id: strawberry.ID
    token: strawberry.ID = strawberry.field(description="Unguessable: whoever holds it can read and change the cart.")
    email: str | None
    lines: list[CartLine]
    total_quantity: int
    subtotal: Money = strawberry.field(description="Sum of the lines at current prices, before discounts, shipping and tax.")
    completed: bool
    created_at: datetime
    updated_at: datetime


async def cart_view(context: Context, cart: CartModel) -> Cart:
    summary = await carts.priced(context.loaders, cart)
    return Cart(
        id=encode_id("Cart", cart.id),
        token=cart.token,
        email=cart.email or None,
        lines=[
            CartLine(
                id=encode_id("CartLine", p.line.id),
                variant=variant_view(context, p.variant),
                quantity=p.line.quantity,
                unit_price=money(p.unit_price, context),
                total=money(p.total, context),
            )
            for p in summary.lines
        ],
        total_quantity=summary.total_quantity,
        subtotal=money(summary.subtotal, context),
        completed=cart.completed_at is not None,
        created_at=cart.created_at,
        updated_at=cart.updated_at,
    )


@strawberry.input
class CartLineInput:
    variant_id: strawberry.ID
    quantity: int


@strawberry.input
class CartLineUpdateInput:
    line_id: strawberry.ID
    quantity: int = strawberry.field(description="0 removes the line.")


@strawberry.input
class CartCreateInput:
    lines: list[CartLineInput] | None = None
    email: str | None = None


@strawberry.type
class CartPayload:
    cart: Cart | None
    user_errors: list[UserError]


def _lines(lines: list[CartLineInput]) -> list[tuple[int, int]]:
    return [(decode_id_of(line.variant_id, "ProductVariant", "variantId"), line.quantity) for line in lines]


async def _payload(context: Context, cart: CartModel | None, errors: list[UserError]) -> CartPayload:
    return CartPayload(cart=None if cart is None else await cart_view(context, cart), user_errors=errors)


@strawberry.type
class CartQuery:
    @strawberry.field(description="A cart by its token; null when no cart has it.")
    async def cart(self, info: Info[Context, None], token: strawberry.ID) -> Cart | None:
        cart = await carts.cart_by_token(token)
        return None if cart is None else await cart_view(info.context, cart)


@strawberry.type
class CartMutation:
    @strawberry.mutation(description="A new cart; a signed-in customer's cart is bound to them.")
    async def cart_create(self, info: Info[Context, None], input: CartCreateInput | None = None) -> CartPayload:
        input = input or CartCreateInput()
        customer = await info.context.viewer()
        cart, errors = await attempt(carts.create_cart(
            info.context.currency, _lines(input.lines or []), input.email, customer
        ))
        return await _payload(info.context, cart, errors)

    @strawberry.mutation(description="Add items; a variant already in the cart has its quantity raised.")
    async def cart_lines_add(self, info: Info[Context, None], cart_token: strawberry.ID, lines: list[CartLineInput]) -> CartPayload:
        cart, errors = await attempt(carts.add_lines(cart_token, _lines(lines)))
        return await _payload(info.context, cart, errors)

    @strawberry.mutation
    async def cart_lines_update(
        self, info: Info[Context, None], cart_token: strawberry.ID, lines: list[CartLineUpdateInput]
    ) -> CartPayload:
        updates = [(decode_id_of(line.line_id, "CartLine", "lineId"), line.quantity) for line in lines]
        cart, errors = await attempt(carts.update_lines(cart_token, updates))
        return await _payload(info.context, cart, errors)

    @strawberry.mutation
    async def cart_lines_remove(self, info: Info[Context, None], cart_token: strawberry.ID, line_ids: list[strawberry.ID]) -> CartPayload:
        cart, errors = await attempt(carts.remove_lines(cart_token, [decode_id_of(i, "CartLine", "lineIds") for i in line_ids]))
        return await _payload(info.context, cart, errors)

    @strawberry.mutation
    async def cart_update_email(self, info: Info[Context, None], cart_token: strawberry.ID, email: str) -> CartPayload:
        cart, errors = await attempt(carts.update_email(cart_token, email))
        return await _payload(info.context, cart, errors)
