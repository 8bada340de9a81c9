"""Counts that do not read every matching product: `totalCount` exact up to a bound and, on
PostgreSQL, estimated past it; facets counted on a bounded sample and scaled to the total past it.
The bounds are lowered here so the test catalogue crosses them."""

from __future__ import annotations

import pytest

from models import Product, ProductStatus
from resolvers import catalogue_counts
from schema.ids import encode_id

# Aliased: the response cache must not keep these bound-lowered answers for other tests' queries.
COUNTED = """
query Counted($filter: ProductFilter) {
  boundedListing: products(first: 2, filter: $filter) {
    totalCount
    facets { priceRanges { count } categories { category { id } count } options { name values { count } } }
  }
}
"""


@pytest.fixture
def low_bounds(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(catalogue_counts, "COUNT_BOUND", 5)
    monkeypatch.setattr(catalogue_counts, "FACET_SAMPLE", 5)
    return 5


async def test_a_count_past_the_bound_is_estimated_on_postgres_and_exact_on_sqlite(gql, db, low_bounds):
    active = await Product.filter(status=ProductStatus.ACTIVE).count()
    assert active > low_bounds
    listing = (await gql.data(COUNTED))["boundedListing"]
    if db.name == "postgres":
        assert listing["totalCount"] > low_bounds  # the planner's estimate, never below what was counted
    else:
        assert listing["totalCount"] == active
    # The facets were counted on a sample of 5 products and scaled to the count: the price ranges,
    # which share the products between them, add up to about the total.
    buckets = sum(bucket["count"] for bucket in listing["facets"]["priceRanges"])
    assert abs(buckets - listing["totalCount"]) <= len(listing["facets"]["priceRanges"]), listing


async def test_counts_within_the_bound_stay_exact(gql, db, low_bounds):
    lab = {"category": encode_id("Category", db.data.categories["Lab"])}  # three active products
    listing = (await gql.data(COUNTED, {"filter": lab}))["boundedListing"]
    assert listing["totalCount"] == 3
    assert sum(bucket["count"] for bucket in listing["facets"]["priceRanges"]) == 3
    assert sum(category["count"] for category in listing["facets"]["categories"]) >= 3


def test_a_full_sample_scales_to_the_total():
    assert catalogue_counts.scale(3, 1000, 10_000) == 30
    assert catalogue_counts.scale(0, 1000, 10_000) == 0
    assert catalogue_counts.scale(1, 1000, 1_000_000_000) == 1_000_000
    assert catalogue_counts.scale(1, 1000, 100) == 1  # a total under the sample: the count as it is
