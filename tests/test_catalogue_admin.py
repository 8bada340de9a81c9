"""Staff manage the catalogue; refusals name the field and change nothing."""

from __future__ import annotations

import uuid

import pytest

from models import Category, Permission, Product, ProductVariant
from schema.ids import encode_id
from tests.staff import bearer, token_for


@pytest.fixture
async def staff(client):
    headers = bearer(await token_for(Permission.MANAGE_PRODUCTS))

    async def call(query: str, variables: dict | None = None) -> dict:
        body = (
            await client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)
        ).json()
        assert not body.get("errors"), body
        return body["data"]

    return call


CATEGORY_CREATE = "mutation($i: CategoryCreateInput!) { categoryCreate(input: $i) { category { id slug level ancestors { slug } } userErrors { field code } } }"
CATEGORY_UPDATE = "mutation($id: ID!, $i: CategoryUpdateInput!) { categoryUpdate(id: $id, input: $i) { category { slug level ancestors { slug } } userErrors { field code } } }"
PRODUCT_CREATE = (
    "mutation($i: ProductCreateInput!) { productCreate(input: $i) { product { id slug } userErrors { field code } } }"
)
PRODUCT_UPDATE = "mutation($id: ID!, $i: ProductUpdateInput!) { productUpdate(id: $id, input: $i) { product { slug } userErrors { field code } } }"
VARIANT_CREATE = "mutation($i: VariantCreateInput!) { variantCreate(input: $i) { variant { id sku price { amount } selectedOptions { name value } quantityAvailable } userErrors { field code } } }"
VARIANT_UPDATE = "mutation($id: ID!, $i: VariantUpdateInput!) { variantUpdate(id: $id, input: $i) { variant { price { amount } compareAtPrice { amount } } userErrors { field code } } }"
STOREFRONT = "query($slug: String) { product(slug: $slug) { name priceRange { min { amount } } variants { sku } } }"


def tag() -> str:
    return uuid.uuid4().hex[:6]


async def snapshot() -> tuple:
    return (
        await Category.all().count(),
        await Product.all().count(),
        await ProductVariant.all().count(),
        await Product.all().order_by("id").values_list("slug", "min_price", "category_id", "status"),
    )


async def test_a_product_from_nothing_to_the_storefront(staff, gql):
    t = tag()
    root = (await staff(CATEGORY_CREATE, {"i": {"name": f"Root {t}"}}))["categoryCreate"]
    assert root["userErrors"] == [] and root["category"]["slug"] == f"root-{t}" and root["category"]["level"] == 0
    child = (
        await staff(CATEGORY_CREATE, {"i": {"name": "Child", "slug": f"child-{t}", "parent": root["category"]["id"]}})
    )["categoryCreate"]
    assert child["category"]["ancestors"] == [{"slug": f"root-{t}"}] and child["category"]["level"] == 1

    product = (await staff(PRODUCT_CREATE, {"i": {"name": f"Kite {t}", "category": child["category"]["id"]}}))[
        "productCreate"
    ]
    slug = product["product"]["slug"]
    assert (await gql.data(STOREFRONT, {"slug": slug}))["product"] is None  # a new product is a draft

    variant = (
        await staff(
            VARIANT_CREATE,
            {
                "i": {
                    "productId": product["product"]["id"],
                    "sku": f"KITE-{t}",
                    "price": "49.50",
                    "options": [{"name": "Colour", "value": "Red"}],
                }
            },
        )
    )["variantCreate"]
    assert variant["userErrors"] == [] and variant["variant"]["quantityAvailable"] == 0
    assert variant["variant"]["selectedOptions"] == [{"name": "Colour", "value": "Red"}]
    await staff(PRODUCT_UPDATE, {"id": product["product"]["id"], "i": {"status": "ACTIVE"}})
    shown = (await gql.data(STOREFRONT, {"slug": slug}))["product"]
    assert shown["priceRange"]["min"]["amount"] == "49.50" and shown["variants"] == [{"sku": f"KITE-{t}"}]

    # A price change moves the indexed price the listing sorts and filters on.
    await staff(VARIANT_UPDATE, {"id": variant["variant"]["id"], "i": {"price": "12.00", "compareAtPrice": "20.00"}})
    assert (await Product.get(slug=slug)).min_price == 12
    listing = await gql.data(
        "query($f: ProductFilter) { products(first: 5, filter: $f) { edges { node { slug } } } }",
        {"f": {"category": root["category"]["id"], "price": {"max": "15"}}},
    )
    assert [e["node"]["slug"] for e in listing["products"]["edges"]] == [slug]


async def test_moving_a_category_moves_its_subtree(staff):
    t = tag()
    a = (await staff(CATEGORY_CREATE, {"i": {"name": f"A {t}"}}))["categoryCreate"]["category"]
    b = (await staff(CATEGORY_CREATE, {"i": {"name": f"B {t}", "parent": a["id"]}}))["categoryCreate"]["category"]
    c = (await staff(CATEGORY_CREATE, {"i": {"name": f"C {t}", "parent": b["id"]}}))["categoryCreate"]["category"]
    other = (await staff(CATEGORY_CREATE, {"i": {"name": f"Other {t}"}}))["categoryCreate"]["category"]
    moved = (await staff(CATEGORY_UPDATE, {"id": b["id"], "i": {"parent": other["id"]}}))["categoryUpdate"]
    assert moved["category"]["ancestors"] == [{"slug": other["slug"]}]
    leaf = await Category.get(slug=c["slug"])
    other_model = await Category.get(slug=other["slug"])
    assert leaf.path.startswith(other_model.path) and leaf.depth == 2
    top = (await staff(CATEGORY_UPDATE, {"id": b["id"], "i": {"parent": None}}))["categoryUpdate"]
    assert top["category"]["level"] == 0 and (await Category.get(slug=c["slug"])).depth == 1


async def test_refusals_name_the_field_and_change_nothing(staff, db):
    t = tag()
    parent = (await staff(CATEGORY_CREATE, {"i": {"name": f"P {t}"}}))["categoryCreate"]["category"]
    child = (await staff(CATEGORY_CREATE, {"i": {"name": f"Q {t}", "parent": parent["id"]}}))["categoryCreate"][
        "category"
    ]
    product = (await staff(PRODUCT_CREATE, {"i": {"name": f"Thing {t}", "slug": f"thing-{t}"}}))["productCreate"][
        "product"
    ]
    await staff(VARIANT_CREATE, {"i": {"productId": product["id"], "sku": f"SKU-{t}", "price": "5"}})
    before = await snapshot()
    cases = [
        (CATEGORY_CREATE, {"i": {"name": "Dup", "slug": f"p-{t}"}}, ("slug", "DUPLICATE")),
        (CATEGORY_UPDATE, {"id": parent["id"], "i": {"parent": child["id"]}}, ("parent", "INVALID")),
        (CATEGORY_UPDATE, {"id": parent["id"], "i": {"parent": parent["id"]}}, ("parent", "INVALID")),
        (PRODUCT_CREATE, {"i": {"name": "Dup", "slug": f"thing-{t}"}}, ("slug", "DUPLICATE")),
        (PRODUCT_CREATE, {"i": {"name": "X", "category": encode_id("Category", 999999)}}, ("category", "NOT_FOUND")),
        (PRODUCT_CREATE, {"i": {"name": "   "}}, ("name", "REQUIRED")),
        (VARIANT_CREATE, {"i": {"productId": product["id"], "sku": f"SKU-{t}", "price": "5"}}, ("sku", "DUPLICATE")),
        (
            VARIANT_CREATE,
            {"i": {"productId": product["id"], "sku": f"NEG-{t}", "price": "-1"}},
            ("price", "INVALID_AMOUNT"),
        ),
        (
            VARIANT_CREATE,
            {"i": {"productId": product["id"], "sku": f"FR-{t}", "price": "1.005"}},
            ("price", "INVALID_AMOUNT"),
        ),
        (
            VARIANT_CREATE,
            {"i": {"productId": encode_id("Product", 999999), "sku": f"NP-{t}", "price": "1"}},
            ("productId", "NOT_FOUND"),
        ),
    ]
    for query, variables, (field, code) in cases:
        payload = next(iter((await staff(query, variables)).values()))
        assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [([field], code)], variables
    assert await snapshot() == before


async def test_deletes(staff):
    t = tag()
    parent = (await staff(CATEGORY_CREATE, {"i": {"name": f"D {t}"}}))["categoryCreate"]["category"]
    await staff(CATEGORY_CREATE, {"i": {"name": f"E {t}", "parent": parent["id"]}})
    delete = "mutation($id: ID!) { categoryDelete(id: $id) { deletedId userErrors { code } } }"
    assert (await staff(delete, {"id": parent["id"]}))["categoryDelete"] == {
        "deletedId": None,
        "userErrors": [{"code": "IN_USE"}],
    }
    product = (await staff(PRODUCT_CREATE, {"i": {"name": f"Gone {t}"}}))["productCreate"]["product"]
    variant = (await staff(VARIANT_CREATE, {"i": {"productId": product["id"], "sku": f"G-{t}", "price": "3"}}))[
        "variantCreate"
    ]["variant"]
    gone = await staff("mutation($id: ID!) { variantDelete(id: $id) { deletedId } }", {"id": variant["id"]})
    assert gone["variantDelete"]["deletedId"] == variant["id"]
    assert (await Product.get(slug=f"gone-{t}")).min_price is None
    gone = await staff("mutation($id: ID!) { productDelete(id: $id) { deletedId } }", {"id": product["id"]})
    assert gone["productDelete"]["deletedId"] == product["id"] and not await Product.filter(slug=f"gone-{t}").exists()


async def test_staff_read_drafts_the_storefront_never_does(client, db):
    from tests.staff import bearer, token_for

    manager = bearer(await token_for(Permission.MANAGE_PRODUCTS))
    customer = bearer(await token_for(staff=False))
    query = "query($slug: String) { product(slug: $slug) { name status } }"
    for headers, expected in (
        ({}, None),
        (customer, None),
        (manager, {"name": "Hidden Draft Jacket", "status": "DRAFT"}),
    ):
        body = (
            await client.post(
                "/graphql", json={"query": query, "variables": {"slug": "hidden-draft-jacket"}}, headers=headers
            )
        ).json()
        assert body["data"]["product"] == expected
    listing = (
        """query($f: ProductFilter) { products(first: 10, filter: $f) { totalCount edges { node { name status } } } }"""
    )
    lab = {"category": encode_id("Category", db.data.categories["Lab"])}
    staff_view = (
        await client.post(
            "/graphql",
            json={"query": listing, "variables": {"f": {**lab, "status": ["DRAFT", "ARCHIVED"]}}},
            headers=manager,
        )
    ).json()
    assert sorted(e["node"]["name"] for e in staff_view["data"]["products"]["edges"]) == [
        "Hidden Draft Jacket",
        "Old Archived Boot",
    ]
    everything = (
        await client.post("/graphql", json={"query": listing, "variables": {"f": lab}}, headers=manager)
    ).json()
    assert everything["data"]["products"]["totalCount"] == 5
    refused = (
        await client.post(
            "/graphql", json={"query": listing, "variables": {"f": {**lab, "status": ["DRAFT"]}}}, headers=customer
        )
    ).json()
    assert [e["extensions"]["code"] for e in refused["errors"]] == ["FORBIDDEN"]
    storefront = (await client.post("/graphql", json={"query": listing, "variables": {"f": lab}})).json()
    assert {e["node"]["status"] for e in storefront["data"]["products"]["edges"]} == {"ACTIVE"}
