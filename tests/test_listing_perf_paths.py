"""The listing's cheaper paths: the count riding on the page statement, variants that do not point
back at their product view unless asked, loads that leave the loader cache alone, cached cursors."""

from __future__ import annotations

from loaders import Loaders
from models import Product, ProductStatus
from resolvers.pagination import decode_cursor, encode_cursor

COUNTED = """
query($first: Int, $after: String) {
  products(first: $first, after: $after) { totalCount pageInfo { endCursor hasNextPage } edges { node { id } } }
}
"""


async def test_a_page_with_no_row_still_has_the_total_count(gql):
    # The count rides on the page's rows; past the last row there is none to carry it.
    active = await Product.filter(status=ProductStatus.ACTIVE).count()
    first = (await gql.data(COUNTED, {"first": 100}))["products"]
    assert first["totalCount"] == active and not first["pageInfo"]["hasNextPage"]
    past_the_end = (await gql.data(COUNTED, {"first": 5, "after": first["pageInfo"]["endCursor"]}))["products"]
    assert past_the_end["edges"] == [] and past_the_end["totalCount"] == active


async def test_variants_point_back_at_their_product_only_when_asked(gql):
    query = "{ products(first: 5) { edges { node { id variants { sku product { id name } } } } } }"
    for edge in (await gql.data(query))["products"]["edges"]:
        assert edge["node"]["variants"]
        assert all(v["product"]["id"] == edge["node"]["id"] for v in edge["node"]["variants"])


async def test_load_all_without_remember_leaves_the_cache_alone(db):
    ids = [p.id for p in await Product.all().order_by("id").limit(3)]
    loaders = Loaders()
    transient = await loaders.variants_by_product_id.load_all(ids, remember=False)
    assert not loaders.variants_by_product_id._cache
    kept = await loaders.variants_by_product_id.load_all(ids)
    assert set(loaders.variants_by_product_id._cache) == set(ids)
    assert [[v.id for v in rows] for rows in transient] == [[v.id for v in rows] for rows in kept]
    # Served from the cache now: the same instances again.
    again = await loaders.variants_by_product_id.load_all(ids, remember=False)
    assert all(a is b for a, b in zip(again, kept))


def test_cached_cursors_keep_int_and_float_apart():
    assert encode_cursor("S", (1, 2)) != encode_cursor("S", (1.0, 2))
    assert decode_cursor(encode_cursor("S", (1.0, 2)), "S", 2, "after") == (1.0, 2)
    assert decode_cursor(encode_cursor("S", ("a", 2)), "S", 2, "after") == ("a", 2)
