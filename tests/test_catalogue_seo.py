"""Findable pages: search-engine titles and descriptions, the sitemap, related products."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET

import pytest

from gateway.settings import ConfigError, load_settings
from models import Category, Permission, Product, ProductRelated, ProductStatus
from models.catalogue import SEO_DESCRIPTION_LENGTH, SEO_TITLE_LENGTH
from resolvers import catalogue_seo, catalogue_sitemap
from schema.ids import encode_id
from tests.cache_client import HIT, STORED, gateway
from tests.staff import bearer, token_for

NS = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
PRODUCT_CREATE = (
    "mutation($i: ProductCreateInput!) { productCreate(input: $i) { product { id seoTitle seoDescription } "
    "userErrors { field code } } }"
)
PRODUCT_UPDATE = (
    "mutation($id: ID!, $i: ProductUpdateInput!) { productUpdate(id: $id, input: $i) { product { seoTitle "
    "seoDescription } userErrors { field code } } }"
)
CATEGORY_CREATE = (
    "mutation($i: CategoryCreateInput!) { categoryCreate(input: $i) { category { id seoTitle seoDescription } "
    "userErrors { field code } } }"
)
CATEGORY_UPDATE = (
    "mutation($id: ID!, $i: CategoryUpdateInput!) { categoryUpdate(id: $id, input: $i) { category { seoTitle "
    "seoDescription } userErrors { field code } } }"
)
RELATED_SET = (
    "mutation($p: ID!, $r: [ID!]!) { productRelatedSet(productId: $p, relatedIds: $r) { product { id } "
    "userErrors { field code } } }"
)
RELATED = "query($id: ID!, $n: Int) { product(id: $id) { related(first: $n) { slug } } }"


def tag() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture(autouse=True)
async def drop_own_rows(db):
    """The catalogue is shared by the session: other tests count its products and categories."""
    yield
    await Product.filter(slug__startswith="seo-").delete()
    await Category.filter(slug__startswith="seo-").delete()


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


# --- titles and descriptions -----------------------------------------------------------------


def test_shortening_keeps_whole_words_within_the_limit():
    assert catalogue_seo.shorten("  Wool \n sweater ", 70) == "Wool sweater"
    words = "alpha beta gamma delta epsilon"
    assert catalogue_seo.shorten(words, 16) == "alpha beta…"  # "alpha beta gamma" would need 17 with "…"
    assert catalogue_seo.shorten(words, 17) == "alpha beta gamma…"
    assert catalogue_seo.shorten("x" * 100, 10) == "x" * 9 + "…"  # one word longer than the limit
    assert catalogue_seo.shorten("", 10) == ""


async def test_product_fields_fall_back_to_name_and_description_then_follow_staff(staff, gql):
    t = tag()
    name = f"Seo {t} " + "merino " * 15  # over 70 characters
    text = "A soft,\nwarm sweater. " * 30  # over 300 characters, on several lines
    created = (await staff(PRODUCT_CREATE, {"i": {"name": name, "slug": f"seo-{t}", "description": text}}))[
        "productCreate"
    ]
    product = created["product"]
    assert created["userErrors"] == []
    title, description = product["seoTitle"], product["seoDescription"]
    assert len(title) <= SEO_TITLE_LENGTH and title.endswith("…") and name.startswith(title[:-1])
    assert len(description) <= SEO_DESCRIPTION_LENGTH and description.endswith("…") and "\n" not in description
    flat = " ".join(text.split())
    assert flat.startswith(description[:-1]) and flat[len(description) - 1] == " "  # cut after a whole word

    changed = (
        await staff(
            PRODUCT_UPDATE, {"id": product["id"], "i": {"seoTitle": " Merino  sweaters ", "seoDescription": "Warm."}}
        )
    )["productUpdate"]
    assert changed["product"] == {"seoTitle": "Merino sweaters", "seoDescription": "Warm."}
    row = await Product.get(slug=f"seo-{t}")
    assert (row.seo_title, row.seo_description) == ("Merino sweaters", "Warm.")
    # Left out: unchanged; empty: the fallback again.
    kept = (await staff(PRODUCT_UPDATE, {"id": product["id"], "i": {"name": f"Seo {t} jumper"}}))["productUpdate"]
    assert kept["product"]["seoTitle"] == "Merino sweaters"
    cleared = (await staff(PRODUCT_UPDATE, {"id": product["id"], "i": {"seoTitle": ""}}))["productUpdate"]
    assert cleared["product"] == {"seoTitle": f"Seo {t} jumper", "seoDescription": "Warm."}
    assert (await Product.get(slug=f"seo-{t}")).seo_title is None


async def test_limits_are_refused_naming_the_field_and_change_nothing(staff):
    t = tag()
    created = (await staff(PRODUCT_CREATE, {"i": {"name": "Seo", "slug": f"seo-{t}", "seoTitle": "x" * 71}}))[
        "productCreate"
    ]
    assert created == {"product": None, "userErrors": [{"field": ["seoTitle"], "code": "TOO_LONG"}]}
    assert not await Product.filter(slug=f"seo-{t}").exists()
    product = (await staff(PRODUCT_CREATE, {"i": {"name": "Seo", "slug": f"seo-{t}", "seoTitle": "x" * 70}}))[
        "productCreate"
    ]["product"]
    assert product["seoTitle"] == "x" * 70
    refused = (await staff(PRODUCT_UPDATE, {"id": product["id"], "i": {"seoDescription": "y" * 301}}))["productUpdate"]
    assert refused["userErrors"] == [{"field": ["seoDescription"], "code": "TOO_LONG"}]
    assert (await Product.get(slug=f"seo-{t}")).seo_description is None


async def test_category_fields_fall_back_and_follow_staff(staff, gql):
    t = tag()
    created = (
        await staff(CATEGORY_CREATE, {"i": {"name": f"Seo {t} knitwear", "slug": f"seo-{t}", "description": "Wool."}})
    )["categoryCreate"]
    category = created["category"]
    assert (category["seoTitle"], category["seoDescription"]) == (f"Seo {t} knitwear", "Wool.")
    refused = (await staff(CATEGORY_UPDATE, {"id": category["id"], "i": {"seoTitle": "z" * 71}}))["categoryUpdate"]
    assert refused == {"category": None, "userErrors": [{"field": ["seoTitle"], "code": "TOO_LONG"}]}
    changed = (await staff(CATEGORY_UPDATE, {"id": category["id"], "i": {"seoDescription": "All the knitwear."}}))[
        "categoryUpdate"
    ]
    assert changed["category"] == {"seoTitle": f"Seo {t} knitwear", "seoDescription": "All the knitwear."}
    storefront = await gql.data(
        "query($s: String) { category(slug: $s) { seoTitle seoDescription } }", {"s": f"seo-{t}"}
    )
    assert storefront["category"] == changed["category"]


# --- the sitemap -----------------------------------------------------------------------------


def _locs(body: bytes, element: str) -> list[str]:
    root = ET.fromstring(body)
    return [node.findtext("s:loc", namespaces=NS) or "" for node in root.findall(f"s:{element}", NS)]


async def _active_slugs() -> set[str]:
    return set(await Product.filter(status=ProductStatus.ACTIVE).values_list("slug", flat=True))


async def test_the_index_names_pages_holding_every_active_product_and_every_category(db):
    draft = await Product.create(name="Seo draft", slug=f"seo-draft-{tag()}", status=ProductStatus.DRAFT)
    async with gateway(db, STOREFRONT_URLS="https://shop.example.com/") as (client, _):
        index = await client.get("/sitemap.xml")
        assert index.status_code == 200 and index.headers["content-type"] == "application/xml"
        pages = _locs(index.content, "sitemap")
        assert pages == ["http://gateway.test/sitemap-products-1.xml", "http://gateway.test/sitemap-categories-1.xml"]
        assert all(node.findtext("s:lastmod", namespaces=NS) for node in ET.fromstring(index.content))
        products = await client.get("/sitemap-products-1.xml")
        assert products.headers["content-type"] == "application/xml"
        urls = _locs(products.content, "url")
        expected = {f"https://shop.example.com/products/{slug}" for slug in await _active_slugs()}
        assert set(urls) == expected and len(urls) == len(expected)
        assert f"https://shop.example.com/products/{draft.slug}" not in urls
        categories = _locs((await client.get("/sitemap-categories-1.xml")).content, "url")
        slugs = await Category.all().values_list("slug", flat=True)
        assert sorted(categories) == sorted(f"https://shop.example.com/categories/{s}" for s in slugs)
        assert (await client.get("/sitemap-products-2.xml")).status_code == 404
        assert (await client.get("/sitemap-products-0.xml")).status_code == 404


async def test_urls_are_escaped_in_the_xml(db):
    odd = await Product.create(name="Seo odd", slug=f"seo-a&b<c>-{tag()}", status=ProductStatus.ACTIVE)
    template = "https://shop.example.com/p/{slug}?from=sitemap&lang=en"
    async with gateway(db, STOREFRONT_PRODUCT_URL=template, CACHE_ENABLED="0") as (client, _):
        body = (await client.get("/sitemap-products-1.xml")).content
        assert b"&amp;lang=en" in body and b"<c>" not in body  # the raw text is escaped
        urls = _locs(body, "url")  # and the parsed XML gives the URLs back exactly
        quoted = odd.slug.replace("&", "%26").replace("<", "%3C").replace(">", "%3E")
        assert f"https://shop.example.com/p/{quoted}?from=sitemap&lang=en" in urls


async def test_pages_hold_at_most_the_page_size_and_together_every_url(db, monkeypatch):
    monkeypatch.setattr(catalogue_sitemap, "PAGE_SIZE", 10)
    async with gateway(db, CACHE_ENABLED="0") as (client, _):
        pages = _locs((await client.get("/sitemap.xml")).content, "sitemap")
        product_pages = [loc for loc in pages if "/sitemap-products-" in loc]
        assert len(product_pages) > 1
        seen: list[str] = []
        for loc in product_pages:
            answer = await client.get(loc.removeprefix("http://gateway.test"))
            urls = _locs(answer.content, "url")
            assert 0 < len(urls) <= 10
            seen += urls
        expected = {f"http://localhost:3000/products/{slug}" for slug in await _active_slugs()}
        assert sorted(seen) == sorted(expected)


async def test_the_sitemap_is_cached_until_a_product_changes(db):
    t = tag()
    product = await Product.create(name="Seo cached", slug=f"seo-{t}", status=ProductStatus.ACTIVE)
    async with gateway(db) as (client, _):
        first = await client.get("/sitemap-products-1.xml")
        assert first.headers["cache-status"] == STORED
        again = await client.get("/sitemap-products-1.xml")
        assert again.headers["cache-status"] == HIT and again.content == first.content
        index = await client.get("/sitemap.xml")
        assert (await client.get("/sitemap.xml")).headers["cache-status"] == HIT
        headers = bearer(await token_for(Permission.MANAGE_PRODUCTS))
        changed = await client.post(
            "/graphql",
            json={
                "query": 'mutation($id: ID!) { productUpdate(id: $id, input: {slug: "seo-renamed-' + t + '"}) '
                "{ userErrors { code } } }",
                "variables": {"id": encode_id("Product", product.id)},
            },
            headers=headers,
        )
        assert changed.json()["data"]["productUpdate"]["userErrors"] == []
        fresh = await client.get("/sitemap-products-1.xml")
        assert fresh.headers["cache-status"] == STORED
        assert (
            f"/products/seo-renamed-{t}".encode() in fresh.content
            and f"/products/seo-{t}<".encode() not in fresh.content
        )
        assert (await client.get("/sitemap.xml")).headers["cache-status"] == STORED
        assert index.status_code == 200


# --- related products ------------------------------------------------------------------------


async def _family(size: int) -> tuple[Category, list[Product]]:
    t = tag()
    category = await Category.create(name="Seo family", slug=f"seo-{t}", path="", depth=0)
    category.path = f"/{category.id}/"
    await category.save(update_fields=["path"])
    products = [
        await Product.create(name=f"{letter} {t}", slug=f"seo-{t}-{letter}", category=category, status="ACTIVE")
        for letter in "abcdefgh"[:size]
    ]
    return category, products


async def test_related_shows_staff_choice_in_order_then_the_category(staff, gql):
    _, (a, b, c, d, e) = await _family(5)
    draft = await Product.create(name="Seo draft", slug=f"seo-draft-{tag()}", status=ProductStatus.DRAFT)
    other = (
        await Product.filter(status="ACTIVE")
        .exclude(category_id=a.category_id)
        .exclude(slug__startswith="seo-")
        .first()
    )
    ids = [encode_id("Product", p.id) for p in (d, draft, other, c)]
    result = (await staff(RELATED_SET, {"p": encode_id("Product", a.id), "r": ids}))["productRelatedSet"]
    assert result["userErrors"] == []
    related = (await gql.data(RELATED, {"id": encode_id("Product", a.id), "n": 5}))["product"]["related"]
    # Chosen (the draft left out), then the category's by name, without itself or the chosen.
    assert [r["slug"] for r in related] == [d.slug, other.slug, c.slug, b.slug, e.slug]
    default = (await gql.data(RELATED, {"id": encode_id("Product", a.id)}))["product"]["related"]
    assert [r["slug"] for r in default] == [d.slug, other.slug, c.slug, b.slug]  # first: 4
    assert (await gql.data(RELATED, {"id": encode_id("Product", a.id), "n": 0}))["product"]["related"] == []
    assert await gql.error_codes(RELATED, {"id": encode_id("Product", a.id), "n": 21}) == ["BAD_USER_INPUT"]
    # A new list replaces the old one.
    await staff(RELATED_SET, {"p": encode_id("Product", a.id), "r": [encode_id("Product", e.id)]})
    assert await ProductRelated.filter(product_id=a.id).values_list("related_id", flat=True) == [e.id]


async def test_related_set_refuses_itself_unknown_ids_and_strangers(staff, client):
    _, (a, b) = await _family(2)
    await staff(RELATED_SET, {"p": encode_id("Product", a.id), "r": [encode_id("Product", b.id)]})
    gone = await Product.create(name="Seo gone", slug=f"seo-gone-{tag()}")
    gone_id = encode_id("Product", gone.id)
    await gone.delete()
    for ids, code in (
        ([encode_id("Product", a.id)], "INVALID"),
        ([encode_id("Product", b.id), gone_id], "NOT_FOUND"),
        ([encode_id("Product", b.id)] * 2, "INVALID"),
    ):
        refused = (await staff(RELATED_SET, {"p": encode_id("Product", a.id), "r": ids}))["productRelatedSet"]
        assert refused == {"product": None, "userErrors": [{"field": ["relatedIds"], "code": code}]}
    assert await ProductRelated.filter(product_id=a.id).values_list("related_id", flat=True) == [b.id]
    for headers in ({}, bearer(await token_for(Permission.MANAGE_ORDERS))):
        body = (
            await client.post(
                "/graphql",
                json={"query": RELATED_SET, "variables": {"p": encode_id("Product", a.id), "r": []}},
                headers=headers,
            )
        ).json()
        assert body["errors"][0]["extensions"]["code"] in ("UNAUTHENTICATED", "FORBIDDEN")
    assert await ProductRelated.filter(product_id=a.id).count() == 1


LISTING_RELATED = """
query($n: Int!) { products(first: $n) { edges { node { id
  related(first: 3) { id name slug priceRange { min { amount } } category { slug } }
} } } }
"""


async def test_related_on_a_listing_costs_a_fixed_number_of_statements(gql, sql_counter):
    async def count(n: int) -> int:
        sql_counter.statements.clear()
        response = await gql.http.post("/graphql", json={"query": LISTING_RELATED, "variables": {"n": n}})
        body = response.json()
        assert body.get("data") and not body.get("errors"), body
        assert response.headers["cache-status"] != "gateway; hit"
        assert len(body["data"]["products"]["edges"]) == n
        return len(sql_counter.statements)

    await gql.data(LISTING_RELATED, {"n": 1})
    small, large = await count(4), await count(40)
    # The page; chosen links, the categories' fill, the related rows; their variants and categories.
    assert small == large <= 7, sql_counter.statements


@pytest.mark.parametrize(
    "value",
    ["shop.example.com/{slug}", "https://shop.example.com/p", "https://x/{slug}/{slug}", "https://x/{id}/{slug}"],
)
def test_storefront_url_templates_are_checked_at_start(value):
    with pytest.raises(ConfigError, match="STOREFRONT_PRODUCT_URL"):
        load_settings({"STOREFRONT_PRODUCT_URL": value})
    assert load_settings({"STOREFRONT_CATEGORY_URL": "https://x.example/c/{slug}"}).storefront_category_url
