"""Carts for the storefront: anyone holding a cart's token may read and change it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from models import Cart as CartModel
from resolvers import cart as carts
from resolvers import checkout
from schema.addresses import AddressInput, MailingAddress, build_mailing_address
from schema.catalogue import ProductVariant, build_variant
from schema.checkout import ShippingMethod, build_shipping_method
from schema.context import Context
from schema.ids import decode_id_of, encode_id
from schema.shared import Money, Node, UserError, attempt, build_money

# The argument naming the cart in every cart mutation.
CartToken = Annotated[
    strawberry.ID,
    strawberry.argument(
        description="The cart's token (`Cart.token`), as `cartCreate` gave it. A checked-out cart no longer "
        "changes (CART_COMPLETED)."
    ),
]


@strawberry.type(description="One item in a cart: a variant and how many of it.")
class CartLine:
    id: strawberry.ID = strawberry.field(description="The line's ID, for `cartLinesUpdate` and `cartLinesRemove`.")
    variant: ProductVariant = strawberry.field(description="What is bought.")
    quantity: int = strawberry.field(description="How many units: from 1 to the store's most per line (99 by default).")
    unit_price: Money = strawberry.field(
        description="The variant's price today: a cart always shows current prices, and checkout charges them."
    )
    total: Money = strawberry.field(description="`unitPrice` times `quantity`, rounded to the currency's minor unit.")


@strawberry.type(description="A discount code applied to a cart, and whether it counts now.")
class CartDiscountCode:
    code: str = strawberry.field(description="The code, in capitals: codes match whatever the case they are typed in.")
    applicable: bool = strawberry.field(description="False when the cart no longer meets the code's conditions.")
    message: str | None = strawberry.field(description="Why it does not apply, when it does not.")


@strawberry.type(
    description="A shopper's basket, read and changed through its token. Its totals are worked out from today's "
    "prices each time it is read."
)
class Cart(Node):
    token: strawberry.ID = strawberry.field(description="Unguessable: whoever holds it can read and change the cart.")
    email: str | None = strawberry.field(
        description="Where the order's messages go, lower-cased; null until given (a signed-in customer's cart "
        "starts with their own)."
    )
    lines: list[CartLine] = strawberry.field(description="The items; a variant staff deleted has left the cart.")
    total_quantity: int = strawberry.field(description="Units over all lines.")
    subtotal: Money = strawberry.field(
        description="Sum of the lines at current prices, before discounts, shipping and tax."
    )
    discount_total: Money = strawberry.field(
        description="What the applied discount code takes off the subtotal; zero without one, or while it does not apply."
    )
    shipping_total: Money = strawberry.field(
        description="The chosen shipping method's price for this cart; zero until one is chosen or with free shipping."
    )
    tax_total: Money = strawberry.field(
        description="Included in the prices or added on top, as the store is configured."
    )
    total: Money = strawberry.field(
        description="What checkout charges: subtotal less discount plus shipping, plus tax where prices do not include it."
    )
    discount_codes: list[CartDiscountCode] = strawberry.field(
        description="The applied discount code (a cart holds one at most), with whether it counts now."
    )
    completed: bool = strawberry.field(
        description="Whether the cart has been checked out: it can no longer change, and `checkoutComplete` with it "
        "answers the same order."
    )
    created_at: datetime = strawberry.field(description="When the cart was created.")
    updated_at: datetime = strawberry.field(
        description="When items were last added or its email, address, shipping method or discount code last set."
    )
    shipping_address: MailingAddress | None = strawberry.field(description="Where the order ships; null until set.")
    billing_address: MailingAddress | None = strawberry.field(
        description="Where the order is billed: the address `cartUpdateBillingAddress` set, or else the shipping "
        "address (the one checkout copies onto the order); null while neither is set."
    )
    _summary: strawberry.Private[carts.PricedCart]

    @strawberry.field(description="Methods that serve the shipping address and the cart's weight, cheapest first.")
    async def available_shipping_methods(self, info: Info[Context, None]) -> list[ShippingMethod]:
        summary = self._summary
        quotes = await checkout.available(
            summary.country, summary.weight_grams, summary.subtotal, summary.cart.currency
        )
        return [build_shipping_method(info.context, q) for q in quotes]

    @strawberry.field(
        description="The chosen method, priced for this cart; null when none is chosen or it no longer serves the cart."
    )
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
        billing_address=build_mailing_address(billing) if (billing := carts.billing_address(cart)) else None,
        _summary=summary,
    )


@strawberry.input(description="A variant and how many units of it to add.")
class CartLineInput:
    variant_id: strawberry.ID = strawberry.field(
        description="The variant (`ProductVariant.id`); its product must be on sale."
    )
    quantity: int = strawberry.field(
        description="Units to add: 1 or more. With what the cart already holds of it, at most the most per line and "
        "what is available."
    )


@strawberry.input(description="A cart line and its new quantity.")
class CartLineUpdateInput:
    line_id: strawberry.ID = strawberry.field(description="The line (`CartLine.id`).")
    quantity: int = strawberry.field(description="0 removes the line.")


@strawberry.input(description="What a new cart starts with; everything is optional.")
class CartCreateInput:
    lines: list[CartLineInput] | None = strawberry.field(default=None, description="Items to put in it.")
    email: str | None = strawberry.field(
        default=None, description="The shopper's email address; left out, a signed-in customer's own."
    )


@strawberry.type(description="What a cart mutation did.")
class CartPayload:
    cart: Cart | None = strawberry.field(description="The cart as it now is; null when the mutation was refused.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed; empty on success.")


def _lines(lines: list[CartLineInput]) -> list[tuple[int, int]]:
    return [(decode_id_of(line.variant_id, "ProductVariant", "variantId"), line.quantity) for line in lines]


async def _payload(context: Context, cart: CartModel | None, errors: list[UserError]) -> CartPayload:
    return CartPayload(cart=None if cart is None else await build_cart(context, cart), user_errors=errors)


@strawberry.type
class CartQuery:
    @strawberry.field(description="A cart by its token; null when no cart has it.")
    async def cart(
        self,
        info: Info[Context, None],
        token: Annotated[strawberry.ID, strawberry.argument(description="The cart's token (`Cart.token`).")],
    ) -> Cart | None:
        cart = await carts.cart_by_token(token)
        return None if cart is None else await build_cart(info.context, cart)


@strawberry.type
class CartMutation:
    @strawberry.mutation(description="A new cart; a signed-in customer's cart is bound to them.")
    async def cart_create(
        self,
        info: Info[Context, None],
        input: Annotated[CartCreateInput | None, strawberry.argument(description="What it starts with.")] = None,
    ) -> CartPayload:
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
        self,
        info: Info[Context, None],
        cart_token: CartToken,
        lines: Annotated[
            list[CartLineInput],
            strawberry.argument(description="The items to add; a variant given twice is added twice."),
        ],
    ) -> CartPayload:
        cart, errors = await attempt(carts.add_lines(cart_token, _lines(lines), info.context.cart_rules))
        return await _payload(info.context, cart, errors)

    @strawberry.mutation(description="Set the quantity of some lines; 0 removes a line.")
    async def cart_lines_update(
        self,
        info: Info[Context, None],
        cart_token: CartToken,
        lines: Annotated[list[CartLineUpdateInput], strawberry.argument(description="The lines and their quantities.")],
    ) -> CartPayload:
        updates = [(decode_id_of(line.line_id, "CartLine", "lineId"), line.quantity) for line in lines]
        cart, errors = await attempt(carts.update_lines(cart_token, updates, info.context.cart_rules))
        return await _payload(info.context, cart, errors)

    @strawberry.mutation(description="Take lines out of the cart.")
    async def cart_lines_remove(
        self,
        info: Info[Context, None],
        cart_token: CartToken,
        line_ids: Annotated[list[strawberry.ID], strawberry.argument(description="The lines (`CartLine.id`).")],
    ) -> CartPayload:
        cart, errors = await attempt(
            carts.remove_lines(cart_token, [decode_id_of(i, "CartLine", "lineIds") for i in line_ids])
        )
        return await _payload(info.context, cart, errors)

    @strawberry.mutation(description="A chosen shipping method that no longer serves the address is cleared.")
    async def cart_update_shipping_address(
        self,
        info: Info[Context, None],
        cart_token: CartToken,
        address: Annotated[AddressInput, strawberry.argument(description="Where the order is to go.")],
    ) -> CartPayload:
        cart, errors = await attempt(carts.update_shipping_address(info.context.loaders, cart_token, vars(address)))
        return await _payload(info.context, cart, errors)

    @strawberry.mutation(
        description="Set where the order is billed, when that is not where it ships (without one, the order is "
        "billed to its shipping address). Checked as a shipping address is."
    )
    async def cart_update_billing_address(
        self,
        info: Info[Context, None],
        cart_token: CartToken,
        address: Annotated[AddressInput, strawberry.argument(description="The billing address.")],
    ) -> CartPayload:
        cart, errors = await attempt(carts.update_billing_address(cart_token, vars(address)))
        return await _payload(info.context, cart, errors)

    @strawberry.mutation(description="Choose how the order ships; the cart needs its shipping address first.")
    async def cart_update_shipping_method(
        self,
        info: Info[Context, None],
        cart_token: CartToken,
        shipping_method_id: Annotated[
            strawberry.ID, strawberry.argument(description="One of the cart's `availableShippingMethods`.")
        ],
    ) -> CartPayload:
        method_id = decode_id_of(shipping_method_id, "ShippingMethod", "shippingMethodId")
        cart, errors = await attempt(carts.update_shipping_method(info.context.loaders, cart_token, method_id))
        return await _payload(info.context, cart, errors)

    @strawberry.mutation(description="One code per cart: a new code replaces the one applied.")
    async def cart_apply_discount_code(
        self,
        info: Info[Context, None],
        cart_token: CartToken,
        code: Annotated[str, strawberry.argument(description="The discount code, in any case.")],
    ) -> CartPayload:
        cart, errors = await attempt(carts.apply_discount(info.context.loaders, cart_token, code))
        return await _payload(info.context, cart, errors)

    @strawberry.mutation(description="Take the applied discount code off the cart.")
    async def cart_remove_discount_code(
        self,
        info: Info[Context, None],
        cart_token: CartToken,
        code: Annotated[str, strawberry.argument(description="The applied code, in any case.")],
    ) -> CartPayload:
        cart, errors = await attempt(carts.remove_discount(cart_token, code))
        return await _payload(info.context, cart, errors)

    @strawberry.mutation(description="Set the email address the order's messages go to.")
    async def cart_update_email(
        self,
        info: Info[Context, None],
        cart_token: CartToken,
        email: Annotated[str, strawberry.argument(description="The shopper's email address.")],
    ) -> CartPayload:
        cart, errors = await attempt(carts.update_email(cart_token, email))
        return await _payload(info.context, cart, errors)
