"""The listing's cheaper paths: the count riding on the page statement, variants that do not point
back at their product view unless asked, relations loaded only when selected, loads that leave the
loader cache alone, typed rows, cached cursors."""

from __future__ import annotations

import gc
from datetime import datetime
from decimal import Decimal

import pytest

from loaders import Loaders
from models import Product, ProductImage, ProductStatus, ProductVariant
from models.rows import ImageRow, ProductRow, VariantRow, image_row, product_row
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


def _views_left_for_the_collector() -> list[str]:
    """GraphQL type names of the Product and ProductVariant objects that only the cyclic garbage
    collector could free (they sit in a reference cycle), found with gc's DEBUG_SAVEALL: call it
    with the collector disabled since before the objects were made."""
    gc.garbage.clear()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        definitions = (getattr(type(o), "__strawberry_definition__", None) for o in gc.garbage)
        return [d.name for d in definitions if d is not None and d.name in ("Product", "ProductVariant")]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


async def test_variants_point_back_at_their_product_only_when_asked(gql):
    asked = "{ products(first: 5) { edges { node { id variants { sku product { id name } } } } } }"
    for edge in (await gql.data(asked))["products"]["edges"]:
        assert edge["node"]["variants"]
        assert all(v["product"]["id"] == edge["node"]["id"] for v in edge["node"]["variants"])

    # Not asked, nothing points back: a page of product views and their variants' views is freed
    # as soon as the response is written, not left in cycles for the collector. (An alias of this
    # test's own keeps the response cache from answering it without building any view.)
    not_asked = "{ unlinked: products(first: 5) { edges { node { id variants { sku price { amount } } } } } }"
    gc.collect()
    gc.disable()
    try:
        response = await gql.http.post("/graphql", json={"query": not_asked})
        assert response.headers["cache-status"] != "gateway; hit"
        assert response.json()["data"]["unlinked"]["edges"][0]["node"]["variants"]
        assert _views_left_for_the_collector() == []
    finally:
        gc.enable()


# Relations selected only through a named fragment, an inline fragment and an alias: the listing's
# look-ahead must find them all, and they must answer as the single-product query (which loads them
# through the loaders, one product at a time) does.
RELATIONS = """
fragment Card on Product {
  slug
  variants { sku options: selectedOptions { name value } product { slug } }
  category { slug ... on Category { parent { slug } ancestors { slug } children { slug } } }
}
"""
LISTED = RELATIONS + "query { products(first: 20) { nodes { id ...Card } } }"
SINGLE = RELATIONS + "query($id: ID!) { product(id: $id) { id ...Card } }"


async def test_relations_selected_through_fragments_and_aliases_are_built(gql):
    listed = (await gql.data(LISTED))["products"]["nodes"]
    assert any(v["options"] for node in listed for v in node["variants"])
    assert any(node["category"] and node["category"]["ancestors"] for node in listed)
    for node in listed:
        assert node == (await gql.data(SINGLE, {"id": node["id"]}))["product"]


async def test_load_all_without_remember_leaves_the_cache_alone(db):
    ids = [p.id for p in await Product.all().order_by("id").limit(3)]
    loaders = Loaders()
    transient = await loaders.variants_by_product_id.load_all(ids, remember=False)
    assert not loaders.variants_by_product_id.futures
    kept = await loaders.variants_by_product_id.load_all(ids)
    assert set(loaders.variants_by_product_id.futures) == set(ids)
    assert [[v.id for v in rows] for rows in transient] == [[v.id for v in rows] for rows in kept]
    # Served from the cache now: the same instances again.
    again = await loaders.variants_by_product_id.load_all(ids, remember=False)
    assert all(a is b for a, b in zip(again, kept, strict=True))


async def test_rows_are_one_typed_shape_on_either_database_and_match_their_models(db):
    # The loaders read rows with hand-written SQL, converted per database: each field must hold
    # what the model holds, with the Python type the row declares.
    variant = await ProductVariant.all().order_by("id").first()
    product = await Product.get(id=variant.product_id)
    image = await ProductImage.all().order_by("id").first()
    loaders = Loaders()
    variant_read = await loaders.variant_by_id.load(variant.id)
    product_read = await loaders.product_by_id.load(product.id)
    images_read = await loaders.images_by_product_id.load(image.product_id)
    assert type(variant_read) is VariantRow and type(product_read) is ProductRow
    assert all(type(row) is ImageRow for row in images_read)
    for name in VariantRow._fields[:-1]:  # the last, quantity_available, no column: computed
        assert getattr(variant_read, name) == getattr(variant, name), name
    assert isinstance(variant_read.price, Decimal) and variant_read.quantity_available >= 0
    assert product_read == product_row(product)
    assert type(product_read.status) is ProductStatus and isinstance(product_read.created_at, datetime)
    assert image_row(image) in images_read
    with pytest.raises(AttributeError):
        variant_read.price = Decimal(0)  # frozen: a row is what the database said


def test_cached_cursors_keep_int_and_float_apart():
    assert encode_cursor("S", (1, 2)) != encode_cursor("S", (1.0, 2))
    assert decode_cursor(encode_cursor("S", (1.0, 2)), "S", 2, "after") == (1.0, 2)
    assert decode_cursor(encode_cursor("S", ("a", 2)), "S", 2, "after") == ("a", 2)


async def test_the_look_ahead_follows_a_named_fragment_around_the_listing_itself(gql):
    # A named fragment on the way down to `products`: its definition is not on the operation, so the
    # look-ahead must ask Strawberry for it rather than miss the relations it selects.
    wrapped = RELATIONS + "query { ...Page } fragment Page on Query { products(first: 20) { nodes { id ...Card } } }"
    assert (await gql.data(wrapped))["products"]["nodes"] == (await gql.data(LISTED))["products"]["nodes"]
