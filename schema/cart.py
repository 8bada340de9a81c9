"""Carts for the storefront: anyone holding a cart's token may read and change it."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from models import Cart as CartModel
from resolvers import cart as carts
from resolvers import checkout
from schema.accounts import AddressInput
from schema.addresses import MailingAddress, build_mailing_address
from schema.catalogue import ProductVariant, build_variant
from schema.checkout import ShippingMethod, build_shipping_method
from schema.context import Context
from schema.ids import decode_id_of, encode_id
from schema.shared import Money, Node, UserError, attempt, build_money


@strawberry.type
class CartLine:
    id: strawberry.ID
    variant: ProductVariant
    quantity: int
    unit_price: Money
    total: Money


@strawberry.type
class CartDiscountCode:
    code: str
    applicable: bool = strawberry.field(description="False when the cart no longer meets the code's conditions.")
    message: str | None = strawberry.field(description="Why it does not apply, when it does not.")


@strawberry.type
class Cart(Node):
    id: strawberry.ID
    token: strawberry.ID = strawberry.field(description="Unguessable: whoever holds it can read and change the cart.")
    email: str | None
    lines: list[CartLine]
    total_quantity: int
    subtotal: Money = strawberry.field(
        description="Sum of the lines at current prices, before discounts, shipping and tax."
    )
    discount_total: Money
    shipping_total: Money
    tax_total: Money = strawberry.field(
        description="Included in the prices or added on top, as the store is configured."
    )
    total: Money
    discount_codes: list[CartDiscountCode]
    completed: bool
    created_at: datetime
    updated_at: datetime
    shipping_address: MailingAddress | None
    _summary: strawberry.Private[carts.PricedCart]

    @strawberry.field(description="Methods that serve the shipping address and the cart's weight, cheapest first.")
    async def available_shipping_methods(self, info: Info[Context, None]) -> list[ShippingMethod]:
        summary = self._summary
        quotes = await checkout.available(
            summary.country, summary.weight_grams, summary.subtotal, summary.cart.currency
        )
        return [build_shipping_method(info.context, q) for q in quotes]

    @strawberry.field
    async def shipping_method(self, info: Info[Context, None]) -> ShippingMethod | None:
        summary = self._summary
        if summary.cart.shipping_method_id is None:
            return None
        method = await info.context.loaders.shipping_method_by_id.load(summary.cart.shipping_method_id)
        shipping = method and checkout.quote(
            method, summary.country, summary.weight_grams, summary.subtotal, summary.cart.currency
        )
        return build_shipping_method(info.context, shipping) if shipping else None


async def build_cart(context: Context, cart: CartModel) -> Cart:
    summary = await carts.priced(context.loaders, cart)
    figures = await carts.cart_totals(context.loaders, summary, context.prices_include_tax)
    totals = figures.totals
    codes = (
        []
        if figures.discount_code is None
        else [
            CartDiscountCode(
                code=figures.discount_code.code,
                applicable=figures.discount_problem is None,
                message=figures.discount_problem,
            )
        ]
    )
    return Cart(
        id=encode_id("Cart", cart.id),
        token=strawberry.ID(cart.token),
        email=cart.email or None,
        lines=[
            CartLine(
                id=encode_id("CartLine", p.line.id),
                variant=build_variant(context, p.variant),
                quantity=p.line.quantity,
                unit_price=build_money(p.unit_price, context),
                total=build_money(p.total, context),
            )
            for p in summary.lines
        ],
        total_quantity=summary.total_quantity,
        subtotal=build_money(summary.subtotal, context),
        discount_total=build_money(totals.discount, context),
        shipping_total=build_money(totals.shipping, context),
        tax_total=build_money(totals.tax, context),
        total=build_money(totals.total, context),
        discount_codes=codes,
        completed=cart.completed_at is not None,
        created_at=cart.created_at,
        updated_at=cart.updated_at,
        shipping_address=build_mailing_address(cart.shipping_address) if cart.shipping_address else None,
        _summary=summary,
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
    return CartPayload(cart=None if cart is None else await build_cart(context, cart), user_errors=errors)


@strawberry.type
class CartQuery:
    @strawberry.field(description="A cart by its token; null when no cart has it.")
    async def cart(self, info: Info[Context, None], token: strawberry.ID) -> Cart | None:
        cart = await carts.cart_by_token(token)
        return None if cart is None else await build_cart(info.context, cart)


@strawberry.type
class CartMutation:
    @strawberry.mutation(description="A new cart; a signed-in customer's cart is bound to them.")
    async def cart_create(self, info: Info[Context, None], input: CartCreateInput | None = None) -> CartPayload:
        input = input or CartCreateInput()
        account = await info.context.viewer()
        cart, errors = await attempt(
            carts.create_cart(
                info.context.currency, _lines(input.lines or []), input.email, account, info.context.cart_rules
            )
        )
        return await _payload(info.context, cart, errors)

    @strawberry.mutation(description="Add items; a variant already in the cart has its quantity raised.")
    async def cart_lines_add(
        self, info: Info[Context, None], cart_token: strawberry.ID, lines: list[CartLineInput]
    ) -> CartPayload:
        cart, errors = await attempt(carts.add_lines(cart_token, _lines(lines), info.context.cart_rules))
        return await _payload(info.context, cart, errors)

    @strawberry.mutation
    async def cart_lines_update(
        self, info: Info[Context, None], cart_token: strawberry.ID, lines: list[CartLineUpdateInput]
    ) -> CartPayload:
        updates = [(decode_id_of(line.line_id, "CartLine", "lineId"), line.quantity) for line in lines]
        cart, errors = await attempt(carts.update_lines(cart_token, updates, info.context.cart_rules))
        return await _payload(info.context, cart, errors)

    @strawberry.mutation
    async def cart_lines_remove(
        self, info: Info[Context, None], cart_token: strawberry.ID, line_ids: list[strawberry.ID]
    ) -> CartPayload:
        cart, errors = await attempt(
            carts.remove_lines(cart_token, [decode_id_of(i, "CartLine", "lineIds") for i in line_ids])
        )
        return await _payload(info.context, cart, errors)

    @strawberry.mutation(description="A chosen shipping method that no longer serves the address is cleared.")
    async def cart_update_shipping_address(
        self, info: Info[Context, None], cart_token: strawberry.ID, address: AddressInput
    ) -> CartPayload:
        cart, errors = await attempt(carts.update_shipping_address(info.context.loaders, cart_token, vars(address)))
        return await _payload(info.context, cart, errors)

    @strawberry.mutation
    async def cart_update_shipping_method(
        self, info: Info[Context, None], cart_token: strawberry.ID, shipping_method_id: strawberry.ID
    ) -> CartPayload:
        method_id = decode_id_of(shipping_method_id, "ShippingMethod", "shippingMethodId")
        cart, errors = await attempt(carts.update_shipping_method(info.context.loaders, cart_token, method_id))
        return await _payload(info.context, cart, errors)

    @strawberry.mutation(description="One code per cart: a new code replaces the one applied.")
    async def cart_apply_discount_code(
        self, info: Info[Context, None], cart_token: strawberry.ID, code: str
    ) -> CartPayload:
        cart, errors = await attempt(carts.apply_discount(info.context.loaders, cart_token, code))
        return await _payload(info.context, cart, errors)

    @strawberry.mutation
    async def cart_remove_discount_code(
        self, info: Info[Context, None], cart_token: strawberry.ID, code: str
    ) -> CartPayload:
        cart, errors = await attempt(carts.remove_discount(cart_token, code))
        return await _payload(info.context, cart, errors)

    @strawberry.mutation
    async def cart_update_email(self, info: Info[Context, None], cart_token: strawberry.ID, email: str) -> CartPayload:
        cart, errors = await attempt(carts.update_email(cart_token, email))
        return await _payload(info.context, cart, errors)
