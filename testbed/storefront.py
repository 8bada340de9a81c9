"""The storefront documents that both the tests and the benchmarks send."""

from __future__ import annotations

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
