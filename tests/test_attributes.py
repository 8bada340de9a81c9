"""Typed attributes through the GraphQL API: staff define them and product types, set values; the
storefront reads them, filters and counts by them beside the existing filters; refusals name the
field and change nothing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import pytest

from models import AttributeType, AttributeValue, OutboxEvent, Permission, VariantOption, changes
from models.rows import VariantRow
from resolvers.attributes import parse_value, render
from resolvers.catalogue_options import matches_exactly, product_options
from schema.ids import decode_id_of, encode_id
from tests.staff import bearer, token_for

ATTRIBUTE_CREATE = """mutation($i: AttributeCreateInput!) { attributeCreate(input: $i) {
  attribute { id name slug type unit filterable choices } userErrors { field code message } } }"""
PRODUCT_TYPE_CREATE = """mutation($i: ProductTypeCreateInput!) { productTypeCreate(input: $i) {
  productType { id slug productAttributes { slug } variantAttributes { slug } } userErrors { field code } } }"""
PRODUCT_CREATE = """mutation($i: ProductCreateInput!) { productCreate(input: $i) {
  product { id slug } userErrors { field code } } }"""
PRODUCT_UPDATE = """mutation($id: ID!, $i: ProductUpdateInput!) { productUpdate(id: $id, input: $i) {
  product { attributes { attribute { slug } values } } userErrors { field code } } }"""
VARIANT_CREATE = """mutation($i: VariantCreateInput!) { variantCreate(input: $i) {
  variant { id } userErrors { field code } } }"""
CATEGORY_CREATE = """mutation($i: CategoryCreateInput!) { categoryCreate(input: $i) {
  category { id } userErrors { field code } } }"""
PRODUCT_VALUES = """mutation($id: ID!, $v: [AttributeValueInput!]!) { productAttributesSet(productId: $id, values: $v) {
  product { attributes { attribute { slug } values } } userErrors { field code message } } }"""
VARIANT_VALUES = """mutation($id: ID!, $v: [AttributeValueInput!]!) { variantAttributesSet(variantId: $id, values: $v) {
  variant { attributes { attribute { slug } values } } userErrors { field code message } } }"""
STOCK_SET = """mutation($v: ID!, $q: Int!) { stockSet(variantId: $v, warehouse: "central", quantity: $q) {
  userErrors { code } } }"""
LIST = """query($f: ProductFilter) { products(first: 20, filter: $f, sort: NAME_ASC) {
  totalCount edges { node { name } } } }"""
FACETS = """query($f: ProductFilter) { products(first: 1, filter: $f) { facets { attributes {
  attribute { slug type unit } values { value count } range { min max } } } } }"""
PRODUCT = """query($slug: String) { product(slug: $slug) {
  attributes { attribute { name slug type unit } values }
  variants { sku attributes { attribute { slug } values } }
  options { name values optionValues { name availableForSale } }
} }"""


@dataclass
class World:
    """Attributes, a product type and three products in a category of their own, all named by `t`."""

    t: str
    category: str = ""
    product_type: str = ""
    products: dict[str, str] = field(default_factory=dict)  # name -> ID
    slugs: dict[str, str] = field(default_factory=dict)  # name -> slug
    variants: dict[str, str] = field(default_factory=dict)  # sku -> ID

    def slug(self, attribute: str) -> str:
        return f"{attribute}-{self.t}"

    def within(self, **filter: object) -> dict:
        return {"f": {"category": self.category, **filter}}


@pytest.fixture
async def staff(client):
    headers = bearer(await token_for(Permission.MANAGE_PRODUCTS, Permission.MANAGE_INVENTORY))

    async def call(query: str, variables: dict | None = None) -> dict:
        response = await client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)
        body = response.json()
        assert not body.get("errors"), body
        return body["data"]

    return call


async def _ok(staff, query: str, variables: dict) -> dict:
    data = await staff(query, variables)
    payload = next(iter(data.values()))
    assert payload["userErrors"] == [], payload
    return payload


@pytest.fixture
async def world(staff) -> AsyncIterator[World]:
    w = World(uuid.uuid4().hex[:6])
    for attribute in (
        {"name": "Material", "type": "SELECT", "choices": ["Wool", "Cotton", "Linen"]},
        {"name": "Weight", "type": "NUMBER", "unit": "g"},
        {"name": "Waterproof", "type": "BOOLEAN"},
        {"name": "Released", "type": "DATE"},
        {"name": "Features", "type": "MULTI_SELECT", "choices": ["Hood", "Pockets", "Zip"]},
        {"name": "Care", "type": "TEXT", "filterable": False},  # shown, not a filter
        {"name": "Note", "type": "TEXT", "visibleInStorefront": False},  # filterable, but staff data
        {"name": "Fit", "type": "SELECT", "choices": ["Slim", "Regular"]},
    ):
        await _ok(staff, ATTRIBUTE_CREATE, {"i": {**attribute, "slug": w.slug(attribute["name"].lower())}})
    product_attributes = [
        w.slug(a) for a in ("material", "weight", "waterproof", "released", "features", "care", "note")
    ]
    created = await _ok(
        staff,
        PRODUCT_TYPE_CREATE,
        {"i": {"name": f"Jacket {w.t}", "productAttributes": product_attributes, "variantAttributes": [w.slug("fit")]}},
    )
    w.product_type = created["productType"]["id"]
    w.category = (await _ok(staff, CATEGORY_CREATE, {"i": {"name": f"Attributes {w.t}"}}))["category"]["id"]
    specs = {
        # name: (material, weight, waterproof, released, features, [(sku, price, size, stock)])
        "Alpha": ("Wool", "250", "true", "2026-01-10", ["Hood", "Zip"], [("S", "10", "S", 3), ("M", "10", "M", 0)]),
        "Bravo": ("Cotton", "900.5", "false", "2026-03-01", ["Pockets"], [("M", "20", "M", 1)]),
        "Charlie": ("Wool", "1200", "false", "2026-05-31", [], [("L", "30", "L", 0)]),
    }
    for name, (material, weight, waterproof, released, features, variants) in specs.items():
        product = (
            await _ok(
                staff,
                PRODUCT_CREATE,
                {
                    "i": {
                        "name": f"{name} {w.t}",
                        "status": "ACTIVE",
                        "category": w.category,
                        "productType": w.product_type,
                    }
                },
            )
        )["product"]
        w.products[name], w.slugs[name] = product["id"], product["slug"]
        values = [
            {"slug": w.slug("material"), "values": [material]},
            {"slug": w.slug("weight"), "values": [weight]},
            {"slug": w.slug("waterproof"), "values": [waterproof]},
            {"slug": w.slug("released"), "values": [released]},
            {"slug": w.slug("features"), "values": features},
            {"slug": w.slug("care"), "values": ["Hand wash"]},
            {"slug": w.slug("note"), "values": ["staff only"]},
        ]
        await _ok(staff, PRODUCT_VALUES, {"id": product["id"], "v": values})
        for position, (suffix, price, size, stock) in enumerate(variants):
            sku = f"{name[0]}{suffix}-{w.t}"
            variant = (
                await _ok(
                    staff,
                    VARIANT_CREATE,
                    {
                        "i": {
                            "productId": product["id"],
                            "sku": sku,
                            "price": price,
                            "position": position,
                            "options": [{"name": "Size", "value": size}, {"name": "Colour", "value": "Blue"}],
                        }
                    },
                )
            )["variant"]
            w.variants[sku] = variant["id"]
            if stock:
                await _ok(staff, STOCK_SET, {"v": variant["id"], "q": stock})
    yield w
    # Deleted afterwards: other tests of the session count the storefront's products (all of
    # them on one page of 100).
    for product in w.products.values():
        await staff("mutation($id: ID!) { productDelete(id: $id) { deletedId } }", {"id": product})


def names(data: dict, w: World) -> list[str]:
    return [edge["node"]["name"].removesuffix(f" {w.t}") for edge in data["products"]["edges"]]


async def test_staff_define_attributes_and_the_storefront_shows_the_visible_ones(world, gql, staff):
    w = world
    alpha = (await gql.data(PRODUCT, {"slug": w.slugs["Alpha"]}))["product"]
    assert alpha["attributes"] == [
        {
            "attribute": {"name": "Material", "slug": w.slug("material"), "type": "SELECT", "unit": None},
            "values": ["Wool"],
        },
        {"attribute": {"name": "Weight", "slug": w.slug("weight"), "type": "NUMBER", "unit": "g"}, "values": ["250"]},
        {
            "attribute": {"name": "Waterproof", "slug": w.slug("waterproof"), "type": "BOOLEAN", "unit": None},
            "values": ["true"],
        },
        {
            "attribute": {"name": "Released", "slug": w.slug("released"), "type": "DATE", "unit": None},
            "values": ["2026-01-10"],
        },
        {
            "attribute": {"name": "Features", "slug": w.slug("features"), "type": "MULTI_SELECT", "unit": None},
            "values": ["Hood", "Zip"],
        },
        {"attribute": {"name": "Care", "slug": w.slug("care"), "type": "TEXT", "unit": None}, "values": ["Hand wash"]},
    ]  # the product type's order; the Note is staff data, not shown
    assert await AttributeValue.filter(attribute__slug=w.slug("note")).count() == 3

    # A variant attribute on a variant; a product attribute refused there.
    variant = w.variants[f"AS-{w.t}"]
    set_fit = await _ok(staff, VARIANT_VALUES, {"id": variant, "v": [{"slug": w.slug("fit"), "values": ["Slim"]}]})
    assert set_fit["variant"]["attributes"] == [{"attribute": {"slug": w.slug("fit")}, "values": ["Slim"]}]
    alpha = (await gql.data(PRODUCT, {"slug": w.slugs["Alpha"]}))["product"]
    assert [v["attributes"] for v in alpha["variants"]] == [
        [{"attribute": {"slug": w.slug("fit")}, "values": ["Slim"]}],
        [],
    ]

    # Values replace those of the attributes named, keep the others; empty removes.
    changed = await _ok(
        staff,
        PRODUCT_VALUES,
        {
            "id": w.products["Alpha"],
            "v": [{"slug": w.slug("weight"), "values": ["0.50"]}, {"slug": w.slug("features"), "values": []}],
        },
    )
    shown = {a["attribute"]["slug"]: a["values"] for a in changed["product"]["attributes"]}
    assert (
        shown[w.slug("weight")] == ["0.5"] and w.slug("features") not in shown and shown[w.slug("material")] == ["Wool"]
    )


async def test_filters_by_values_range_and_boolean_combine_with_the_other_filters(world, gql):
    w = world

    async def listed(**filter: object) -> list[str]:
        return names(await gql.data(LIST, w.within(**filter)), w)

    material, weight, waterproof = w.slug("material"), w.slug("weight"), w.slug("waterproof")
    assert await listed(attributes=[{"slug": material, "values": ["Wool"]}]) == ["Alpha", "Charlie"]
    assert await listed(attributes=[{"slug": material, "values": ["Wool", "Cotton"]}]) == ["Alpha", "Bravo", "Charlie"]
    assert await listed(attributes=[{"slug": weight, "range": {"min": "900.5"}}]) == ["Bravo", "Charlie"]
    assert await listed(attributes=[{"slug": weight, "range": {"min": "100", "max": "1000"}}]) == ["Alpha", "Bravo"]
    assert await listed(attributes=[{"slug": waterproof, "boolean": False}]) == ["Bravo", "Charlie"]
    assert await listed(attributes=[{"slug": w.slug("released"), "range": {"max": "2026-03-01"}}]) == [
        "Alpha",
        "Bravo",
    ]
    assert await listed(attributes=[{"slug": w.slug("features"), "values": ["Zip", "Pockets"]}]) == ["Alpha", "Bravo"]
    # ANDed across attributes, and with the price and stock filters.
    both = [{"slug": material, "values": ["Wool"]}, {"slug": waterproof, "boolean": False}]
    assert await listed(attributes=both) == ["Charlie"]
    wool = [{"slug": material, "values": ["Wool"]}]
    assert await listed(attributes=wool, price={"max": "15"}) == ["Alpha"]
    assert await listed(attributes=wool, inStock=True) == ["Alpha"]
    assert await listed(attributes=wool, options=[{"name": "Size", "values": ["L"]}]) == ["Charlie"]
    searched = await gql.data(LIST.replace("filter: $f,", 'filter: $f, search: "charlie",'), w.within(attributes=wool))
    assert names(searched, w) == ["Charlie"]
    # A variant's value counts for its product.
    assert await listed(attributes=[{"slug": w.slug("fit"), "values": ["Slim"]}]) == []
    # Not filterable, staff data (not shown, so not offered as a filter), or unknown: nothing matches.
    assert await listed(attributes=[{"slug": w.slug("care"), "values": ["Hand wash"]}]) == []
    assert await listed(attributes=[{"slug": w.slug("note"), "values": ["staff only"]}]) == []
    data = await gql.data(LIST, w.within(attributes=[{"slug": f"nothing-{w.t}", "values": ["x"]}]))
    assert data["products"]["totalCount"] == 0


async def test_a_variants_value_finds_its_product(world, gql, staff):
    w = world
    await _ok(
        staff, VARIANT_VALUES, {"id": w.variants[f"BM-{w.t}"], "v": [{"slug": w.slug("fit"), "values": ["Regular"]}]}
    )
    data = await gql.data(LIST, w.within(attributes=[{"slug": w.slug("fit"), "values": ["Regular"]}]))
    assert names(data, w) == ["Bravo"]


async def test_facets_count_the_filterable_attributes_under_the_filter(world, gql):
    w = world
    facets = (await gql.data(FACETS, w.within()))["products"]["facets"]["attributes"]
    ours = {f["attribute"]["slug"]: f for f in facets if f["attribute"]["slug"].endswith(w.t)}
    assert set(ours) == {w.slug(a) for a in ("material", "weight", "waterproof", "released", "features")}
    assert ours[w.slug("material")]["values"] == [{"value": "Cotton", "count": 1}, {"value": "Wool", "count": 2}]
    assert ours[w.slug("material")]["range"] is None
    assert ours[w.slug("weight")] == {
        "attribute": {"slug": w.slug("weight"), "type": "NUMBER", "unit": "g"},
        "values": [],
        "range": {"min": "250", "max": "1200"},
    }
    assert ours[w.slug("released")]["range"] == {"min": "2026-01-10", "max": "2026-05-31"}
    assert ours[w.slug("waterproof")]["values"] == [{"value": "false", "count": 2}, {"value": "true", "count": 1}]
    assert ours[w.slug("features")]["values"] == [
        {"value": "Hood", "count": 1},
        {"value": "Pockets", "count": 1},
        {"value": "Zip", "count": 1},
    ]
    # Counted under the whole filter, as the option facets are (the attribute's own condition too).
    wool = w.within(attributes=[{"slug": w.slug("material"), "values": ["Wool"]}])
    facets = (await gql.data(FACETS, wool))["products"]["facets"]["attributes"]
    ours = {f["attribute"]["slug"]: f for f in facets}
    assert ours[w.slug("material")]["values"] == [{"value": "Wool", "count": 2}]
    assert ours[w.slug("weight")]["range"] == {"min": "250", "max": "1200"}
    assert ours[w.slug("waterproof")]["values"] == [{"value": "false", "count": 1}, {"value": "true", "count": 1}]


async def test_options_and_variant_by_selected_options(world, gql):
    w = world
    query = """query($slug: String, $s: [SelectedOptionInput!]!) { product(slug: $slug) {
      options { name values optionValues { name availableForSale } }
      variantBySelectedOptions(selectedOptions: $s) { sku availableForSale } } }"""
    wanted = [{"name": "Size", "value": "M"}, {"name": "Colour", "value": "Blue"}]
    alpha = (await gql.data(query, {"slug": w.slugs["Alpha"], "s": wanted}))["product"]
    assert alpha["options"] == [
        {
            "name": "Size",
            "values": ["S", "M"],
            "optionValues": [{"name": "S", "availableForSale": True}, {"name": "M", "availableForSale": False}],
        },
        {"name": "Colour", "values": ["Blue"], "optionValues": [{"name": "Blue", "availableForSale": True}]},
    ]
    assert alpha["variantBySelectedOptions"] == {"sku": f"AM-{w.t}", "availableForSale": False}
    # The order of the selection does not matter; a partial, extra or unknown selection finds none.
    reversed_ = (await gql.data(query, {"slug": w.slugs["Alpha"], "s": wanted[::-1]}))["product"]
    assert reversed_["variantBySelectedOptions"]["sku"] == f"AM-{w.t}"
    for selection in (
        wanted[:1],
        [*wanted, {"name": "Fabric", "value": "Wool"}],
        [{"name": "Size", "value": "XL"}, {"name": "Colour", "value": "Blue"}],
    ):
        assert (await gql.data(query, {"slug": w.slugs["Alpha"], "s": selection}))["product"][
            "variantBySelectedOptions"
        ] is None
    charlie = (await gql.data(query, {"slug": w.slugs["Charlie"], "s": []}))["product"]
    assert charlie["options"][0]["optionValues"] == [{"name": "L", "availableForSale": False}]


async def test_changing_the_product_type_drops_the_values_it_does_not_assign(world, gql, staff):
    w = world
    other = await _ok(
        staff, PRODUCT_TYPE_CREATE, {"i": {"name": f"Plain {w.t}", "productAttributes": [w.slug("material")]}}
    )
    retyped = await _ok(
        staff, PRODUCT_UPDATE, {"id": w.products["Bravo"], "i": {"productType": other["productType"]["id"]}}
    )
    assert retyped["product"]["attributes"] == [{"attribute": {"slug": w.slug("material")}, "values": ["Cotton"]}]
    untyped = await _ok(staff, PRODUCT_UPDATE, {"id": w.products["Bravo"], "i": {"productType": None}})
    assert untyped["product"]["attributes"] == []


async def _values_snapshot() -> list[tuple]:
    return list(
        await AttributeValue.all()
        .order_by("id")
        .values_list(
            "attribute_id", "product_id", "variant_id", "value_text", "value_number", "value_bool", "value_date"
        )
    )


async def test_bad_values_are_refused_by_name_and_change_nothing(world, staff):
    w = world
    before = await _values_snapshot()
    product = w.products["Alpha"]
    cases = [
        ([{"slug": f"unknown-{w.t}", "values": ["x"]}], ["values", "0", "slug"], "NOT_FOUND"),
        ([{"slug": w.slug("fit"), "values": ["Slim"]}], ["values", "0", "slug"], "NOT_FOUND"),  # a variant's
        ([{"slug": w.slug("weight"), "values": ["heavy"]}], ["values", "0", "values"], "INVALID"),
        ([{"slug": w.slug("weight"), "values": ["1e400"]}], ["values", "0", "values"], "INVALID"),
        ([{"slug": w.slug("weight"), "values": ["0.0000001"]}], ["values", "0", "values"], "INVALID"),
        ([{"slug": w.slug("released"), "values": ["31/05/2026"]}], ["values", "0", "values"], "INVALID"),
        ([{"slug": w.slug("waterproof"), "values": ["yes"]}], ["values", "0", "values"], "INVALID"),
        ([{"slug": w.slug("material"), "values": ["Silk"]}], ["values", "0", "values"], "INVALID"),
        ([{"slug": w.slug("material"), "values": ["Wool", "Linen"]}], ["values", "0", "values"], "INVALID"),
        ([{"slug": w.slug("features"), "values": ["Hood", "Laces"]}], ["values", "0", "values"], "INVALID"),
        (
            [{"slug": w.slug("material"), "values": ["Linen"]}, {"slug": w.slug("material"), "values": ["Wool"]}],
            ["values", "1", "slug"],
            "DUPLICATE",
        ),
        # A good entry before a bad one is not written either.
        (
            [{"slug": w.slug("material"), "values": ["Linen"]}, {"slug": w.slug("weight"), "values": ["x"]}],
            ["values", "1", "values"],
            "INVALID",
        ),
    ]
    for values, path, code in cases:
        payload = (await staff(PRODUCT_VALUES, {"id": product, "v": values}))["productAttributesSet"]
        assert payload["product"] is None and [(e["field"], e["code"]) for e in payload["userErrors"]] == [
            (path, code)
        ], values
        assert payload["userErrors"][0]["message"]
    variant = await staff(
        VARIANT_VALUES, {"id": w.variants[f"AS-{w.t}"], "v": [{"slug": w.slug("material"), "values": ["Wool"]}]}
    )
    assert [e["code"] for e in variant["variantAttributesSet"]["userErrors"]] == ["NOT_FOUND"]
    missing = (await staff(PRODUCT_VALUES, {"id": encode_id("Product", 999999), "v": []}))["productAttributesSet"]
    assert [(e["field"], e["code"]) for e in missing["userErrors"]] == [(["productId"], "NOT_FOUND")]
    untyped = (await _ok(staff, PRODUCT_CREATE, {"i": {"name": f"Untyped {w.t}"}}))["product"]
    refused = await staff(
        PRODUCT_VALUES, {"id": untyped["id"], "v": [{"slug": w.slug("material"), "values": ["Wool"]}]}
    )
    assert [(e["field"], e["code"]) for e in refused["productAttributesSet"]["userErrors"]] == [(["values"], "INVALID")]
    assert await _values_snapshot() == before


async def test_bad_definitions_are_refused_by_name(world, staff):
    w = world
    cases = [
        (ATTRIBUTE_CREATE, {"i": {"name": "Again", "slug": w.slug("material"), "type": "TEXT"}}, ["slug"], "DUPLICATE"),
        (ATTRIBUTE_CREATE, {"i": {"name": "Pick", "slug": f"pick-{w.t}", "type": "SELECT"}}, ["choices"], "REQUIRED"),
        (
            ATTRIBUTE_CREATE,
            {"i": {"name": "Pick", "slug": f"pick-{w.t}", "type": "SELECT", "choices": ["A", "A"]}},
            ["choices", "1"],
            "DUPLICATE",
        ),
        (
            ATTRIBUTE_CREATE,
            {"i": {"name": "Words", "slug": f"words-{w.t}", "type": "TEXT", "choices": ["A"]}},
            ["choices"],
            "INVALID",
        ),
        (
            ATTRIBUTE_CREATE,
            {"i": {"name": "Flag", "slug": f"flag-{w.t}", "type": "BOOLEAN", "unit": "g"}},
            ["unit"],
            "INVALID",
        ),
        (
            ATTRIBUTE_CREATE,
            {"i": {"name": "Size", "slug": f"size-{w.t}", "type": "NUMBER", "unit": "x" * 17}},
            ["unit"],
            "TOO_LONG",
        ),
        (ATTRIBUTE_CREATE, {"i": {"name": " ", "type": "TEXT"}}, ["name"], "REQUIRED"),
        (ATTRIBUTE_CREATE, {"i": {"name": "Bad", "slug": "Not A Slug", "type": "TEXT"}}, ["slug"], "INVALID"),
        (
            PRODUCT_TYPE_CREATE,
            {"i": {"name": "T", "slug": f"t-{w.t}", "productAttributes": [f"missing-{w.t}"]}},
            ["productAttributes", "0"],
            "NOT_FOUND",
        ),
        (
            PRODUCT_TYPE_CREATE,
            {
                "i": {
                    "name": "T",
                    "slug": f"t-{w.t}",
                    "productAttributes": [w.slug("fit")],
                    "variantAttributes": [w.slug("fit")],
                }
            },
            ["variantAttributes", "0"],
            "DUPLICATE",
        ),
        (
            PRODUCT_CREATE,
            {"i": {"name": "X", "productType": encode_id("ProductType", 999999)}},
            ["productType"],
            "NOT_FOUND",
        ),
    ]
    for query, variables, path, code in cases:
        payload = next(iter((await staff(query, variables)).values()))
        assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(path, code)], variables
    created = await _ok(
        staff,
        ATTRIBUTE_CREATE,
        {"i": {"name": f"Colour Family {w.t}", "type": "MULTI_SELECT", "choices": [" Warm ", "Cold"]}},
    )
    assert created["attribute"]["slug"] == f"colour-family-{w.t}" and created["attribute"]["choices"] == [
        "Warm",
        "Cold",
    ]


@pytest.mark.parametrize(
    "entry",
    [
        {"values": ["Wool"], "boolean": True},  # two of values, range, boolean
        {},  # none of them
        {"values": []},
        {"boolean": True},  # a SELECT takes values
        {"range": {"min": "1"}},  # a SELECT has no range
    ],
)
async def test_bad_attribute_filters_are_bad_user_input(world, gql, entry):
    codes = await gql.error_codes(LIST, {"f": {"attributes": [{"slug": world.slug("material"), **entry}]}})
    assert codes == ["BAD_USER_INPUT"]


@pytest.mark.parametrize(
    "attribute,entry",
    [
        ("weight", {"range": {"min": "heavy"}}),
        ("weight", {"range": {"min": "10", "max": "1"}}),
        ("weight", {"values": ["NaN"]}),
        ("released", {"range": {"min": "yesterday"}}),
        ("waterproof", {"values": ["maybe"]}),
    ],
)
async def test_filter_values_are_checked_against_the_attributes_type(world, gql, attribute, entry):
    codes = await gql.error_codes(LIST, {"f": {"attributes": [{"slug": world.slug(attribute), **entry}]}})
    assert codes == ["BAD_USER_INPUT"]


async def test_attribute_mutations_refuse_the_anonymous_and_the_unprivileged(client):
    documents = [
        (ATTRIBUTE_CREATE, {"i": {"name": "X", "type": "TEXT"}}),
        (PRODUCT_TYPE_CREATE, {"i": {"name": "X"}}),
        (PRODUCT_VALUES, {"id": encode_id("Product", 1), "v": []}),
        (VARIANT_VALUES, {"id": encode_id("ProductVariant", 1), "v": []}),
    ]
    customer = bearer(await token_for(staff=False))
    other_staff = bearer(await token_for(*(p for p in Permission if p is not Permission.MANAGE_PRODUCTS)))
    for query, variables in documents:
        for headers, code in (({}, "UNAUTHENTICATED"), (customer, "FORBIDDEN"), (other_staff, "FORBIDDEN")):
            body = (
                await client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
            ).json()
            assert [e["extensions"]["code"] for e in body["errors"]] == [code], (query, body)


async def test_new_values_reach_a_cached_product_at_once(world, gql, staff):
    w = world
    before = (await gql.data(PRODUCT, {"slug": w.slugs["Charlie"]}))["product"]["attributes"]
    assert before[0]["values"] == ["Wool"]
    await gql.data(PRODUCT, {"slug": w.slugs["Charlie"]})  # now answered from the response cache
    await _ok(
        staff, PRODUCT_VALUES, {"id": w.products["Charlie"], "v": [{"slug": w.slug("material"), "values": ["Linen"]}]}
    )
    after = (await gql.data(PRODUCT, {"slug": w.slugs["Charlie"]}))["product"]["attributes"]
    assert after[0]["values"] == ["Linen"]


@pytest.mark.parametrize(
    "kind,text,stored,shown",
    [
        (AttributeType.NUMBER, " 250.000 ", Decimal("250.000"), "250"),
        (AttributeType.NUMBER, "1E+2", Decimal("100"), "100"),
        (AttributeType.NUMBER, "-0.5", Decimal("-0.5"), "-0.5"),
        (AttributeType.BOOLEAN, "TRUE", True, "true"),
        (AttributeType.DATE, "2026-05-31", date(2026, 5, 31), "2026-05-31"),
        (AttributeType.TEXT, "  Wool ", "Wool", "Wool"),
    ],
)
def test_values_are_parsed_by_type_and_shown_alike(kind, text, stored, shown):
    assert parse_value(kind, text) == stored
    assert render(parse_value(kind, text)) == shown


@pytest.mark.parametrize(
    "kind,text",
    [
        (AttributeType.NUMBER, "Infinity"),
        (AttributeType.NUMBER, "100000000000000"),  # 15 digits before the point
        (AttributeType.NUMBER, "1.0000001"),  # 7 after it
        (AttributeType.BOOLEAN, "1"),
        (AttributeType.DATE, "2026-02-30"),
        (AttributeType.TEXT, " "),
        (AttributeType.SELECT, "x" * 256),
    ],
)
def test_values_outside_their_type_are_refused(kind, text):
    with pytest.raises(ValueError):
        parse_value(kind, text)


def _variant(variant_id: int, available: int) -> VariantRow:
    return VariantRow(variant_id, 1, f"SKU-{variant_id}", "", Decimal(1), None, 0, available)


def _option(variant_id: int, name: str, value: str, position: int) -> VariantOption:
    return VariantOption(variant_id=variant_id, name=name, value=value, position=position)


def test_product_options_follow_positions_and_variant_order_with_availability():
    variants = [_variant(1, 0), _variant(2, 4), _variant(3, 0)]
    options = [
        [_option(1, "Colour", "Red", 1), _option(1, "Size", "M", 0)],
        [_option(2, "Colour", "Blue", 1), _option(2, "Size", "L", 0)],
        [_option(3, "Colour", "Red", 1), _option(3, "Size", "L", 0)],
    ]
    picked = product_options(variants, options)
    assert [(o.name, o.values) for o in picked] == [
        ("Size", {"M": False, "L": True}),
        ("Colour", {"Red": False, "Blue": True}),
    ]
    assert matches_exactly([("Size", "M"), ("Colour", "Red")], [("Colour", "Red"), ("Size", "M")])
    assert not matches_exactly([("Size", "M"), ("Colour", "Red")], [("Size", "M")])


async def test_values_go_with_their_product_and_variant(world, staff):
    w = world
    product_id = decode_id_of(w.products["Alpha"], "Product")
    assert await AttributeValue.filter(product_id=product_id).count() == 8  # the Note is there too
    await _ok(
        staff, VARIANT_VALUES, {"id": w.variants[f"AS-{w.t}"], "v": [{"slug": w.slug("fit"), "values": ["Slim"]}]}
    )
    delete_variant = "mutation($id: ID!) { variantDelete(id: $id) { userErrors { code } } }"
    await _ok(staff, delete_variant, {"id": w.variants[f"AS-{w.t}"]})
    assert await AttributeValue.filter(attribute__slug=w.slug("fit")).count() == 0
    delete_product = "mutation($id: ID!) { productDelete(id: $id) { deletedId userErrors { code } } }"
    await _ok(staff, delete_product, {"id": w.products["Alpha"]})
    assert await AttributeValue.filter(product_id=product_id).count() == 0


async def test_the_product_event_carries_the_values_as_committed(world, staff):
    w = world
    since = await OutboxEvent.all().order_by("-id").first()
    variant = w.variants[f"BM-{w.t}"]
    await _ok(staff, VARIANT_VALUES, {"id": variant, "v": [{"slug": w.slug("fit"), "values": ["Regular"]}]})
    (event,) = await OutboxEvent.filter(id__gt=since.id if since else 0, kind=changes.PRODUCT)
    row = event.payload["row"]
    assert row["id"] == decode_id_of(w.products["Bravo"], "Product")
    assert row["attributes"][:2] == [
        {"slug": w.slug("material"), "type": "SELECT", "values": ["Cotton"]},
        {"slug": w.slug("weight"), "type": "NUMBER", "values": ["900.5"]},
    ]
    assert {"slug": w.slug("note"), "type": "TEXT", "values": ["staff only"]} in row["attributes"]  # staff data too
    assert row["variants"][0]["attributes"] == [{"slug": w.slug("fit"), "type": "SELECT", "values": ["Regular"]}]


async def test_concurrent_changes_of_one_value_leave_one_value(world, staff, db):
    if db.name != "postgres":
        pytest.skip("SQLite serializes every transaction: concurrency is proven on PostgreSQL")
    w = world
    choices = ["Wool", "Cotton", "Linen"] * 4
    await asyncio.gather(
        *(
            _ok(
                staff, PRODUCT_VALUES, {"id": w.products["Charlie"], "v": [{"slug": w.slug("material"), "values": [c]}]}
            )
            for c in choices
        )
    )
    product_id = decode_id_of(w.products["Charlie"], "Product")
    assert await AttributeValue.filter(product_id=product_id, attribute__slug=w.slug("material")).count() == 1
