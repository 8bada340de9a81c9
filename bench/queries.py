"""The GraphQL operations the scenarios send, shared by the load, the floor and the SQL count.

The storefront listing, which the tests send too, is `testbed.storefront.LISTING`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any


def request_body(query: str, variables: dict[str, object] | None = None, operation_name: str | None = None) -> bytes:
    """The JSON body of a GraphQL POST, encoded once so every request sends the same bytes."""
    payload: dict[str, object] = {"query": query}
    if variables:
        payload["variables"] = variables
    if operation_name is not None:
        payload["operationName"] = operation_name
    return json.dumps(payload, separators=(",", ":")).encode()


# Scenario `checkout`: what a storefront sends to turn a fresh cart into an order.
# In-stock variants, a page of products at a time (the checkout client picks its stock pool from these).
STOCK_PAGE = (
    "query StockPage($after: String) { products(first: 100, after: $after, filter: {inStock: true}) { "
    "edges { node { variants { id quantityAvailable } } } pageInfo { hasNextPage endCursor } } }"
)
CART_CREATE = (
    "mutation CartCreate($input: CartCreateInput) { cartCreate(input: $input) { "
    "cart { token totalQuantity } userErrors { field code message } } }"
)
CART_ADDRESS = (
    "mutation CartAddress($token: ID!, $address: AddressInput!) { "
    "cartUpdateShippingAddress(cartToken: $token, address: $address) { "
    "cart { availableShippingMethods { id name } } userErrors { field code message } } }"
)
CART_SHIPPING = (
    "mutation CartShipping($token: ID!, $method: ID!) { "
    "cartUpdateShippingMethod(cartToken: $token, shippingMethodId: $method) { "
    "cart { token total { amount currency } } userErrors { field code message } } }"
)
CHECKOUT_COMPLETE = (
    "mutation CheckoutComplete($token: ID!, $payment: PaymentInput!) { "
    "checkoutComplete(cartToken: $token, payment: $payment) { "
    "order { id number status total { amount currency } } userErrors { field code message } } }"
)
PAYMENT_INITIALIZE = (
    "mutation PaymentInitialize($token: ID!, $provider: String!, $card: String) { "
    "checkoutPaymentInitialize(cartToken: $token, provider: $provider, token: $card) { "
    "payment { id status amount currency clientSecret } userErrors { field code message } } }"
)
CHECKOUT_WITH_PAYMENT = (
    "mutation CheckoutWithPayment($token: ID!, $paymentId: ID!) { "
    "checkoutComplete(cartToken: $token, paymentId: $paymentId) { "
    "order { id number status total { amount currency } } userErrors { field code message } } }"
)
SHIPPING_ADDRESS = {
    "firstName": "Ada",
    "lastName": "Lovelace",
    "line1": "1 Main St",
    "city": "Berlin",
    "postalCode": "10115",
    "country": "DE",
}
PAYMENT = {"provider": "test-card", "token": "tok_visa"}
# How a shopper pays: `session` (checkoutPaymentInitialize, then checkoutComplete with its payment,
# as a storefront with a card form does) or `one-step` (checkoutComplete with the card at once).
SESSION, ONE_STEP = "session", "one-step"
FLOWS = (SESSION, ONE_STEP)
SHIPPING_METHOD_NAME = "Standard"
LINES_PER_CART = 3
MIN_VARIANT_STOCK = 20  # variants with fewer units available are left out of the pool


def shipping_method_id(cart: dict[str, Any]) -> str | None:
    """The SHIPPING_METHOD_NAME method among a cart's `availableShippingMethods`; None if not offered."""
    return next((m["id"] for m in cart["availableShippingMethods"] if m["name"] == SHIPPING_METHOD_NAME), None)


def stocked_variants(page: dict[str, Any]) -> list[tuple[str, int]]:
    """(variant id, units available) on a STOCK_PAGE page, for variants with MIN_VARIANT_STOCK or more."""
    return [
        (v["id"], v["quantityAvailable"])
        for edge in page["edges"]
        for v in edge["node"]["variants"]
        if (v["quantityAvailable"] or 0) >= MIN_VARIANT_STOCK
    ]


Call = Callable[[str, dict[str, Any], str], Awaitable[dict[str, Any]]]


async def place_order(call: Call, cart_token: str, flow: str) -> dict[str, Any]:
    """Pay for the ready cart as `flow` says, through `call` (query, variables, root field -> its
    payload); the checkoutComplete payload."""
    if flow == ONE_STEP:
        return await call(CHECKOUT_COMPLETE, {"token": cart_token, "payment": PAYMENT}, "checkoutComplete")
    session = await call(
        PAYMENT_INITIALIZE,
        {"token": cart_token, "provider": PAYMENT["provider"], "card": PAYMENT["token"]},
        "checkoutPaymentInitialize",
    )
    payment_id = session["payment"]["id"]
    return await call(CHECKOUT_WITH_PAYMENT, {"token": cart_token, "paymentId": payment_id}, "checkoutComplete")


# Scenario `scale`: what a storefront asks of a growing catalogue, 24 cards a page.
_CARD = (
    "edges { cursor node { id name slug availableForSale priceRange { min { amount currency } } "
    "images { url altText } } } pageInfo { hasNextPage endCursor }"
)
_FACETS = (
    "facets { categories { category { id } count } options { name values { value count } } "
    "priceRanges { min { amount } max { amount } count } }"
)
SCALE_CATEGORY_PAGE = (
    "query CategoryPage($category: ID!) { products(first: 24, filter: {category: $category}) { "
    f"totalCount {_CARD} }} }}"
)
SCALE_FILTERED_PAGE = (
    "query FilteredPage { products(first: 24, sort: PRICE_ASC, "
    'filter: {inStock: true, price: {min: "25", max: "100"}}) { '
    f"totalCount {_FACETS} {_CARD} }} }}"
)
# The public `products(search:)`, so the scenario measures whichever search matching is merged.
SCALE_SEARCH = f'query Search {{ products(first: 24, search: "wool") {{ totalCount {_FACETS} {_CARD} }} }}'
SCALE_DEEP_PAGE = f"query DeepPage($after: String!) {{ products(first: 24, after: $after) {{ totalCount {_CARD} }} }}"
