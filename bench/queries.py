"""The GraphQL operations the scenarios send, shared by the load, the floor and the SQL count."""

from __future__ import annotations

import json

# The storefront's first listing page: every field a product card and its variant picker show.
LISTING = (
    "query Listing { products(first: 50) { totalCount edges { cursor node { id name slug "
    "availableForSale priceRange { min { amount currency } max { amount currency } } "
    "category { id name slug } images { url altText } variants { id sku name "
    "price { amount currency } compareAtPrice { amount currency } quantityAvailable "
    "availableForSale } } } pageInfo { hasNextPage endCursor } } }"
)
# The arguments LISTING passes to the root `products` field; the floor serves only these.
LISTING_ARGUMENTS = {"first": 50}


def request_body(query: str, operation_name: str | None = None) -> bytes:
    """The JSON body of a GraphQL POST, encoded once so every request sends the same bytes."""
    payload: dict[str, object] = {"query": query}
    if operation_name is not None:
        payload["operationName"] = operation_name
    return json.dumps(payload, separators=(",", ":")).encode()
