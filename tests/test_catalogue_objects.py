"""Single objects: product, category, node and nodes, availability and visibility."""

from __future__ import annotations

from schema.ids import encode_id

PRODUCT = """
query P($id: ID, $slug: String) {
  product(id: $id, slug: $slug) {
    id name slug availableForSale
    priceRange { min { amount currency } max { amount currency } }
    category { name ancestors { name } }
    images { url altText }
    variants { sku quantityAvailable availableForSale price { amount } compareAtPrice { amount }
               selectedOptions { name value } product { name } }
  }
}
"""


async def test_product_by_slug_and_id_agree(gql, db):
    by_slug = (await gql.data(PRODUCT, {"slug": "zephyr-linen-shirt"}))["product"]
    by_id = (await gql.data(PRODUCT, {"id": encode_id("Product", db.data.products["Zephyr Linen Shirt"])}))["product"]
    assert by_slug == by_id
    assert by_slug["category"] == {"name": "Lab Leaf", "ancestors": [{"name": "Lab"}, {"name": "Lab Sub"}]}
    assert by_slug["priceRange"] == {
        "min": {"amount": "19.99", "currency": "EUR"},
        "max": {"amount": "19.99", "currency": "EUR"},
    }


async def test_quantity_available_is_on_hand_minus_reserved_over_warehouses(gql):
    zephyr = (await gql.data(PRODUCT, {"slug": "zephyr-linen-shirt"}))["product"]
    variants = {v["sku"]: v for v in zephyr["variants"]}
    assert variants["ZEP-S"]["quantityAvailable"] == 5 and variants["ZEP-S"]["availableForSale"] is True
    assert variants["ZEP-M"]["quantityAvailable"] == 0 and variants["ZEP-M"]["availableForSale"] is False
    assert variants["ZEP-S"]["compareAtPrice"] == {"amount": "29.99"}
    assert variants["ZEP-S"]["selectedOptions"] == [{"name": "Size", "value": "S"}, {"name": "Colour", "value": "Blue"}]
    assert variants["ZEP-S"]["product"] == {"name": "Zephyr Linen Shirt"}
    assert zephyr["availableForSale"] is True

    aurora = (await gql.data(PRODUCT, {"slug": "aurora-wool-sweater"}))["product"]
    assert {v["sku"]: v["quantityAvailable"] for v in aurora["variants"]} == {"AUR-M": 0, "AUR-L": 2}
    assert aurora["priceRange"]["min"]["amount"] == "89.00" and aurora["priceRange"]["max"]["amount"] == "95.00"

    nimbus = (await gql.data(PRODUCT, {"slug": "nimbus-cotton-tee"}))["product"]
    assert nimbus["availableForSale"] is False and nimbus["variants"][0]["quantityAvailable"] == 0


async def test_drafts_and_archived_products_are_invisible(gql, db):
    for name, slug in (("Hidden Draft Jacket", "hidden-draft-jacket"), ("Old Archived Boot", "old-archived-boot")):
        assert (await gql.data(PRODUCT, {"slug": slug}))["product"] is None
        gid = encode_id("Product", db.data.products[name])
        assert (await gql.data(PRODUCT, {"id": gid}))["product"] is None
        assert (await gql.data("query($id: ID!) { node(id: $id) { id } }", {"id": gid}))["node"] is None
    variant = encode_id("ProductVariant", db.data.variants["HID-1"])
    assert (await gql.data("query($id: ID!) { node(id: $id) { id } }", {"id": variant}))["node"] is None


NODE = """
query N($id: ID!, $ids: [ID!]!) {
  node(id: $id) { __typename id ... on ProductVariant { sku product { name } } ... on Product { name } ... on Category { name } }
  nodes(ids: $ids) { __typename id ... on Product { name } ... on Category { slug } }
}
"""


async def test_node_and_nodes_resolve_each_type(gql, db):
    variant = encode_id("ProductVariant", db.data.variants["AUR-L"])
    product = encode_id("Product", db.data.products["Nimbus Cotton Tee"])
    category = encode_id("Category", db.data.categories["Lab Sub"])
    missing = encode_id("Product", 987654)
    data = await gql.data(NODE, {"id": variant, "ids": [product, category, missing]})
    assert data["node"] == {
        "__typename": "ProductVariant",
        "id": variant,
        "sku": "AUR-L",
        "product": {"name": "Aurora Wool Sweater"},
    }
    assert data["nodes"] == [
        {"__typename": "Product", "id": product, "name": "Nimbus Cotton Tee"},
        {"__typename": "Category", "id": category, "slug": "lab-sub"},
        None,
    ]


CATEGORY = """
query C($slug: String, $id: ID) {
  category(slug: $slug, id: $id) {
    id name level
    parent { name }
    ancestors { name }
    children { name }
    products(first: 10, sort: NAME_ASC) { totalCount edges { node { name } } }
  }
}
"""


async def test_category_with_breadcrumbs_children_and_products(gql, db):
    sub = (await gql.data(CATEGORY, {"slug": "lab-sub"}))["category"]
    assert sub["level"] == 1 and sub["parent"] == {"name": "Lab"}
    assert sub["ancestors"] == [{"name": "Lab"}] and sub["children"] == [{"name": "Lab Leaf"}]
    assert sub["products"]["totalCount"] == 2
    assert [e["node"]["name"] for e in sub["products"]["edges"]] == ["Aurora Wool Sweater", "Zephyr Linen Shirt"]
    top = (await gql.data(CATEGORY, {"id": encode_id("Category", db.data.categories["Lab"])}))["category"]
    assert top["parent"] is None and top["ancestors"] == [] and top["level"] == 0
    assert (await gql.data(CATEGORY, {"slug": "no-such-category"}))["category"] is None


CATEGORIES = """
query($first: Int, $after: String, $last: Int, $before: String, $topLevel: Boolean, $parent: ID) {
  categories(first: $first, after: $after, last: $last, before: $before, topLevel: $topLevel, parent: $parent) {
    totalCount pageInfo { hasNextPage hasPreviousPage endCursor startCursor } edges { cursor node { name level } }
  }
}
"""


async def test_categories_connection_pages_one_level(gql, db):
    top = (await gql.data(CATEGORIES, {"first": 100, "topLevel": True}))["categories"]
    assert {e["node"]["level"] for e in top["edges"]} == {0}
    assert "Lab" in [e["node"]["name"] for e in top["edges"]] and top["totalCount"] == len(top["edges"])
    first = (await gql.data(CATEGORIES, {"first": 2, "topLevel": True}))["categories"]
    rest = (await gql.data(CATEGORIES, {"first": 100, "topLevel": True, "after": first["pageInfo"]["endCursor"]}))[
        "categories"
    ]
    assert [e["node"]["name"] for e in first["edges"] + rest["edges"]] == [e["node"]["name"] for e in top["edges"]]
    back = (await gql.data(CATEGORIES, {"last": 2, "topLevel": True}))["categories"]
    assert [e["node"]["name"] for e in back["edges"]] == [e["node"]["name"] for e in top["edges"]][-2:]
    children = (await gql.data(CATEGORIES, {"first": 10, "parent": encode_id("Category", db.data.categories["Lab"])}))[
        "categories"
    ]
    assert [e["node"]["name"] for e in children["edges"]] == ["Lab Sub"]
