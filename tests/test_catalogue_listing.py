"""The storefront listing through the GraphQL API: paging, filters, search, sorts and facets."""

from __future__ import annotations

from models import Product, ProductStatus
from schema.ids import encode_id

LIST = """
query List($first: Int, $after: String, $last: Int, $before: String, $filter: ProductFilter, $sort: ProductSort, $search: String) {
  products(first: $first, after: $after, last: $last, before: $before, filter: $filter, sort: $sort, search: $search) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { name } }
  }
}
"""


def names(data: dict) -> list[str]:
    return [edge["node"]["name"] for edge in data["products"]["edges"]]


def lab(db, name: str = "Lab") -> dict:
    return {"category": encode_id("Category", db.data.categories[name])}


async def test_total_count_excludes_drafts_and_archived(gql, db):
    data = await gql.data(LIST, {"first": 1, "filter": lab(db)})
    assert data["products"]["totalCount"] == 3
    everything = await gql.data(LIST, {"first": 1})
    active = await Product.filter(status=ProductStatus.ACTIVE).count()
    assert everything["products"]["totalCount"] == active < await Product.all().count()


async def test_category_filter_includes_descendants(gql, db):
    assert sorted(names(await gql.data(LIST, {"first": 10, "filter": lab(db)}))) == [
        "Aurora Wool Sweater",
        "Nimbus Cotton Tee",
        "Zephyr Linen Shirt",
    ]
    assert sorted(names(await gql.data(LIST, {"first": 10, "filter": lab(db, "Lab Sub")}))) == [
        "Aurora Wool Sweater",
        "Zephyr Linen Shirt",
    ]
    assert names(await gql.data(LIST, {"first": 10, "filter": lab(db, "Lab Leaf")})) == ["Zephyr Linen Shirt"]


async def test_unknown_category_matches_nothing(gql):
    data = await gql.data(LIST, {"first": 5, "filter": {"category": encode_id("Category", 999999)}})
    assert data["products"]["totalCount"] == 0 and data["products"]["edges"] == []


async def test_paging_forward_then_backward_visits_every_product_once(gql):
    total = (await gql.data(LIST, {"first": 1}))["products"]["totalCount"]
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        data = (await gql.data(LIST, {"first": 7, "after": after}))["products"]
        seen += [edge["cursor"] for edge in data["edges"]]
        pages += 1
        assert data["pageInfo"]["hasPreviousPage"] == (after is not None)
        if not data["pageInfo"]["hasNextPage"]:
            break
        after = data["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == total
    assert pages == -(-total // 7)

    back: list[str] = []
    before = None
    while True:
        data = (await gql.data(LIST, {"last": 9, "before": before}))["products"]
        back = [edge["cursor"] for edge in data["edges"]] + back
        if not data["pageInfo"]["hasPreviousPage"]:
            break
        before = data["pageInfo"]["startCursor"]
    assert back == seen


async def test_last_without_before_is_the_final_page(gql):
    forward = []
    after = None
    while True:
        data = (await gql.data(LIST, {"first": 100, "after": after}))["products"]
        forward += names({"products": data})
        if not data["pageInfo"]["hasNextPage"]:
            break
        after = data["pageInfo"]["endCursor"]
    data = (await gql.data(LIST, {"last": 4}))["products"]
    assert names({"products": data}) == forward[-4:]
    assert data["pageInfo"]["hasPreviousPage"] is True and data["pageInfo"]["hasNextPage"] is False


async def test_cursor_from_a_middle_page_pages_both_ways(gql):
    first_page = (await gql.data(LIST, {"first": 10}))["products"]
    middle = first_page["edges"][5]["cursor"]
    after = names(await gql.data(LIST, {"first": 3, "after": middle}))
    before = names(await gql.data(LIST, {"last": 3, "before": middle}))
    all_names = [edge["node"]["name"] for edge in first_page["edges"]]
    assert after == all_names[6:9]
    assert before == all_names[2:5]


async def test_price_filter_uses_lowest_variant_price(gql, db):
    data = await gql.data(LIST, {"first": 10, "filter": {**lab(db), "price": {"min": "10", "max": "90"}}})
    assert sorted(names(data)) == ["Aurora Wool Sweater", "Zephyr Linen Shirt"]
    data = await gql.data(LIST, {"first": 10, "filter": {**lab(db), "price": {"max": "9.50"}}})
    assert names(data) == ["Nimbus Cotton Tee"]


async def test_in_stock_filter(gql, db):
    in_stock = await gql.data(LIST, {"first": 10, "filter": {**lab(db), "inStock": True}})
    assert sorted(names(in_stock)) == ["Aurora Wool Sweater", "Zephyr Linen Shirt"]
    out = await gql.data(LIST, {"first": 10, "filter": {**lab(db), "inStock": False}})
    assert names(out) == ["Nimbus Cotton Tee"]


async def test_option_filter_needs_one_variant_matching_all(gql, db):
    blue_s = {"options": [{"name": "Size", "values": ["S"]}, {"name": "Colour", "values": ["Blue"]}]}
    assert names(await gql.data(LIST, {"first": 10, "filter": {**lab(db), **blue_s}})) == ["Zephyr Linen Shirt"]
    red_s = {"options": [{"name": "Size", "values": ["S"]}, {"name": "Colour", "values": ["Red"]}]}
    assert names(await gql.data(LIST, {"first": 10, "filter": {**lab(db), **red_s}})) == []
    m_or_one = {"options": [{"name": "Size", "values": ["M", "One"]}]}
    assert sorted(names(await gql.data(LIST, {"first": 10, "filter": {**lab(db), **m_or_one}}))) == [
        "Aurora Wool Sweater",
        "Nimbus Cotton Tee",
        "Zephyr Linen Shirt",
    ]


async def test_search_finds_words_and_prefixes_and_ranks_name_matches_first(gql, db):
    assert names(await gql.data(LIST, {"first": 10, "search": "zephyr"})) == ["Zephyr Linen Shirt"]
    assert names(await gql.data(LIST, {"first": 10, "search": "zeph"})) == ["Zephyr Linen Shirt"]
    assert names(await gql.data(LIST, {"first": 10, "search": "Breezy SHIRT"})) == ["Zephyr Linen Shirt"]
    ranked = names(await gql.data(LIST, {"first": 10, "search": "wool", "filter": lab(db)}))
    assert ranked == ["Aurora Wool Sweater", "Nimbus Cotton Tee"]
    assert names(await gql.data(LIST, {"first": 10, "search": "draft"})) == []


async def test_search_pages_by_relevance(gql):
    full = names(await gql.data(LIST, {"first": 100, "search": "classic"}))
    assert full, "the seeded catalogue has Classic products"
    first = await gql.data(LIST, {"first": 2, "search": "classic"})
    rest = await gql.data(
        LIST, {"first": 100, "search": "classic", "after": first["products"]["pageInfo"]["endCursor"]}
    )
    assert names(first) + names(rest) == full


async def test_sorts(gql, db):
    by_price = names(await gql.data(LIST, {"first": 10, "filter": lab(db), "sort": "PRICE_ASC"}))
    assert by_price == ["Nimbus Cotton Tee", "Zephyr Linen Shirt", "Aurora Wool Sweater"]
    assert names(await gql.data(LIST, {"first": 10, "filter": lab(db), "sort": "PRICE_DESC"})) == by_price[::-1]
    assert names(await gql.data(LIST, {"first": 10, "filter": lab(db), "sort": "NAME_ASC"})) == [
        "Aurora Wool Sweater",
        "Nimbus Cotton Tee",
        "Zephyr Linen Shirt",
    ]
    assert names(await gql.data(LIST, {"first": 10, "filter": lab(db), "sort": "NAME_DESC"})) == [
        "Zephyr Linen Shirt",
        "Nimbus Cotton Tee",
        "Aurora Wool Sweater",
    ]
    # Created one day apart in the order Zephyr, Aurora, Nimbus.
    assert names(await gql.data(LIST, {"first": 10, "filter": lab(db), "sort": "NEWEST"})) == [
        "Nimbus Cotton Tee",
        "Aurora Wool Sweater",
        "Zephyr Linen Shirt",
    ]


async def test_price_sort_pages_consistently(gql):
    full = names(await gql.data(LIST, {"first": 100, "sort": "PRICE_DESC"}))
    paged, after = [], None
    while True:
        data = await gql.data(LIST, {"first": 11, "sort": "PRICE_DESC", "after": after})
        paged += names(data)
        if not data["products"]["pageInfo"]["hasNextPage"]:
            break
        after = data["products"]["pageInfo"]["endCursor"]
    assert paged[:100] == full


async def test_cursor_of_another_sort_is_rejected(gql):
    data = await gql.data(LIST, {"first": 2, "sort": "NAME_ASC"})
    codes = await gql.error_codes(
        LIST, {"first": 2, "sort": "PRICE_ASC", "after": data["products"]["pageInfo"]["endCursor"]}
    )
    assert codes == ["BAD_USER_INPUT"]


FACETS = """
query Facets($filter: ProductFilter) {
  products(first: 1, filter: $filter) {
    facets {
      categories { category { name } count }
      options { name values { value count } }
      priceRanges { min { amount } max { amount } count }
    }
  }
}
"""


async def test_facets_count_under_the_current_filter(gql, db):
    facets = (await gql.data(FACETS, {"filter": lab(db)}))["products"]["facets"]
    assert {f["category"]["name"]: f["count"] for f in facets["categories"]} == {"Lab": 3, "Lab Sub": 2, "Lab Leaf": 1}
    options = {o["name"]: {v["value"]: v["count"] for v in o["values"]} for o in facets["options"]}
    assert options == {"Colour": {"Blue": 2, "Red": 1}, "Size": {"L": 1, "M": 2, "One": 1, "S": 1}}
    buckets = {
        (b["min"]["amount"], b["max"]["amount"] if b["max"] else None): b["count"] for b in facets["priceRanges"]
    }
    assert buckets[("0", "25")] == 2 and buckets[("50", "100")] == 1 and sum(buckets.values()) == 3

    in_stock = (await gql.data(FACETS, {"filter": {**lab(db), "inStock": True}}))["products"]["facets"]
    assert {f["category"]["name"]: f["count"] for f in in_stock["categories"]} == {
        "Lab": 2,
        "Lab Sub": 2,
        "Lab Leaf": 1,
    }
