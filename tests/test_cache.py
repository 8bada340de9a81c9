"""The response cache through HTTP, as a storefront sees it (in-process tier; no Redis)."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

import pytest

from models import Permission, Product, ProductVariant, Stock, Warehouse
from schema.ids import encode_id
from tests.cache_client import BYPASS, HIT, LISTING, MISS, STORED, cache_metrics, gateway, post
from tests.staff import bearer, token_for
from tests.test_checkout import ADDRESS, CHECKOUT, PAID

PRODUCT = (
    "query One($id: ID!) { product(id: $id) { name availableForSale "
    "variants { id sku price { amount } quantityAvailable availableForSale } } }"
)


@pytest.fixture(autouse=True)
async def drop_own_products(db):
    """The catalogue is shared by the session: other tests count its products exactly."""
    yield
    await Product.filter(slug__startswith="cache-").delete()


async def own_product(units: int = 1, price: str = "10.00") -> tuple[str, ProductVariant]:
    """An active product with one variant and `units` in stock, made before anything cached it."""
    t = uuid.uuid4().hex[:8]
    source = await Product.filter(status="ACTIVE").order_by("id").first()
    product = await Product.create(
        name=f"Cache {t}", slug=f"cache-{t}", category_id=source.category_id, status="ACTIVE", min_price=Decimal(price)
    )
    variant = await ProductVariant.create(
        product=product, sku=f"CACHE-{t}", name="One", price=Decimal(price), weight_grams=100
    )
    await Stock.create(variant=variant, warehouse=await Warehouse.get(code="central"), quantity=units, reserved=0)
    return encode_id("Product", product.id), variant


async def test_a_repeat_is_a_hit_with_the_same_bytes_and_a_request_id(db):
    async with gateway(db) as (client, _):
        first = await post(client, LISTING, {"n": 3})
        second = await post(client, LISTING, {"n": 3})
        assert first.status_code == second.status_code == 200
        assert first.headers["cache-status"] == STORED and second.headers["cache-status"] == HIT
        assert second.content == first.content and not first.json().get("errors")
        assert second.headers["content-type"] == first.headers["content-type"]
        assert second.headers["x-request-id"] and second.headers["x-request-id"] != first.headers["x-request-id"]
        counts = await cache_metrics(client)
        assert counts["miss"] == 1 and counts["hit"] == 1 and counts["local"] == 1
        # Counted under `other`: a free-form operation's name is not a label (tests/test_metrics.py).
        assert 'gateway_requests_total{operation="other",status="200"} 2' in (await client.get("/metrics")).text


async def test_whitespace_and_comments_do_not_split_entries_but_arguments_do(db):
    async with gateway(db) as (client, _):
        assert (await post(client, LISTING, {"n": 2})).headers["cache-status"] == STORED
        spaced = "# a comment\n" + LISTING.replace(" { ", "  {\n   ").replace("(first: $n)", "(first: $n,)")
        assert (await post(client, spaced, {"n": 2})).headers["cache-status"] == HIT
        assert (await post(client, LISTING, {"n": 2}, operationName="Listing")).headers["cache-status"] == HIT
        assert (await post(client, LISTING, {"n": 4})).headers["cache-status"] == STORED  # other variables
        via_get = await client.get("/graphql", params={"query": spaced, "variables": '{"n": 2}'})
        assert (
            via_get.headers["cache-status"] == HIT and via_get.json() == (await post(client, LISTING, {"n": 2})).json()
        )


async def test_the_operation_name_is_part_of_the_key(db):
    document = "query A { categories { totalCount } } query B { products(first: 1) { totalCount } }"
    async with gateway(db) as (client, _):
        a = await post(client, document, operationName="A")
        b = await post(client, document, operationName="B")
        assert a.headers["cache-status"] == b.headers["cache-status"] == STORED
        assert "categories" in a.json()["data"] and "products" in b.json()["data"]
        assert (await post(client, document, operationName="B")).json() == b.json()


async def test_the_store_currency_is_part_of_the_answer_and_the_key(db):
    # One process serves one currency; the key prefix holds it so a shared Redis keeps them apart
    # (tests/test_cache_redis.py shows that across two apps on one Redis).
    async with gateway(db, STORE_CURRENCY="USD") as (client, _):
        body = (await post(client, LISTING, {"n": 1})).json()
        assert body["data"]["products"]["edges"][0]["node"]["variants"][0]["price"]["currency"] == "USD"


@pytest.mark.parametrize(
    "query",
    [
        '{ cart(token: "nope") { id } }',
        '{ products(first: 1) { totalCount } cart(token: "nope") { id } }',
        '{ order(token: "nope") { id } }',
        "{ me { email } }",
        '{ node(id: "UHJvZHVjdDox") { id } }',
        "mutation { cartCreate { cart { token } } }",
    ],
)
async def test_private_and_mutating_operations_bypass(db, query):
    async with gateway(db) as (client, _):
        for _ in range(2):
            response = await post(client, query)
            assert response.headers["cache-status"] == BYPASS
            assert response.headers["cache-control"] == "private, no-store"
        assert (await cache_metrics(client))["bypass"] == 2


async def test_signed_in_requests_bypass_even_for_the_catalogue(db):
    headers = bearer(await token_for(Permission.MANAGE_PRODUCTS))
    async with gateway(db) as (client, _):
        await post(client, LISTING, {"n": 2})
        signed_in = await post(client, LISTING, {"n": 2}, headers=headers)
        assert signed_in.headers["cache-status"] == BYPASS
        got = await client.get("/graphql", params={"query": LISTING, "variables": '{"n": 2}'}, headers=headers)
        assert got.headers["cache-status"] == BYPASS and got.headers["cache-control"] == "private, no-store"
        assert "Authorization" in got.headers["vary"] and "etag" not in got.headers


async def test_answers_with_errors_are_never_stored(db):
    async with gateway(db) as (client, _):
        for _ in range(2):
            response = await post(client, '{ product(id: "not-an-id") { name } }')
            assert response.json()["errors"] and response.headers["cache-status"] == MISS
            assert response.headers["cache-control"] == "private, no-store"
        counts = await cache_metrics(client)
        assert counts["miss"] == 2 and counts["hit"] == 0


async def test_the_ttl_bounds_every_entry(db):
    async with gateway(db, CACHE_TTL="1") as (client, _):
        assert (await post(client, LISTING, {"n": 1})).headers["cache-status"] == STORED
        assert (await post(client, LISTING, {"n": 1})).headers["cache-status"] == HIT
        await asyncio.sleep(1.1)
        assert (await post(client, LISTING, {"n": 1})).headers["cache-status"] == STORED


async def test_the_local_tier_keeps_to_its_byte_budget(db):
    async with gateway(db, CACHE_MAX_BYTES="6000") as (client, app):
        for n in (1, 2, 3, 4):  # each answer is a few KB
            assert (await post(client, LISTING, {"n": n})).headers["cache-status"] == STORED
        assert app.state.cache.local.bytes <= 6000
        counts = await cache_metrics(client)
        assert counts["size"] >= 1  # older entries made room
        assert (await post(client, LISTING, {"n": 4})).headers["cache-status"] == HIT  # the newest stayed


async def test_an_admin_change_evicts_what_showed_the_product(db):
    product_id, variant = await own_product(units=3, price="10.00")
    staff = bearer(await token_for(Permission.MANAGE_PRODUCTS))
    update = "mutation($id: ID!, $i: VariantUpdateInput!) { variantUpdate(id: $id, input: $i) { userErrors { code } } }"
    async with gateway(db) as (client, _):
        await post(client, PRODUCT, {"id": product_id})
        before = await post(client, PRODUCT, {"id": product_id})
        assert before.headers["cache-status"] == HIT
        assert before.json()["data"]["product"]["variants"][0]["price"]["amount"] == "10.00"
        changed = await post(
            client, update, {"id": encode_id("ProductVariant", variant.id), "i": {"price": "12.50"}}, headers=staff
        )
        assert changed.json()["data"]["variantUpdate"]["userErrors"] == []
        after = await post(client, PRODUCT, {"id": product_id})
        assert after.headers["cache-status"] == STORED
        assert after.json()["data"]["product"]["variants"][0]["price"]["amount"] == "12.50"
        assert (await cache_metrics(client))["invalidated"] >= 1

        rename = (
            "mutation($id: ID!, $i: ProductUpdateInput!) { productUpdate(id: $id, input: $i) { userErrors { code } } }"
        )
        await post(client, rename, {"id": product_id, "i": {"name": "Renamed"}}, headers=staff)
        assert (await post(client, PRODUCT, {"id": product_id})).json()["data"]["product"]["name"] == "Renamed"


async def test_a_stock_change_evicts_and_so_does_a_checkout_reservation(db):
    product_id, variant = await own_product(units=1)
    inventory = bearer(await token_for(Permission.MANAGE_INVENTORY))
    stock_set = 'mutation($v: ID!, $q: Int!) { stockSet(variantId: $v, warehouse: "central", quantity: $q) { userErrors { code } } }'
    variant_id = encode_id("ProductVariant", variant.id)
    async with gateway(db) as (client, _):

        async def shown() -> dict:
            return (await post(client, PRODUCT, {"id": product_id})).json()["data"]["product"]["variants"][0]

        assert (await shown())["quantityAvailable"] == 1
        await post(client, stock_set, {"v": variant_id, "q": 4}, headers=inventory)
        assert (await shown())["quantityAvailable"] == 4
        await post(client, stock_set, {"v": variant_id, "q": 1}, headers=inventory)
        one_left = await shown()
        assert one_left["quantityAvailable"] == 1 and one_left["availableForSale"] is True

        # A shopper buys the last unit: the reservation makes it unavailable, at once.
        create = "mutation($i: CartCreateInput) { cartCreate(input: $i) { cart { token } } }"
        token = (
            await post(
                client, create, {"i": {"lines": [{"variantId": variant_id, "quantity": 1}], "email": "a@example.com"}}
            )
        ).json()["data"]["cartCreate"]["cart"]["token"]
        address = "mutation($t: ID!, $a: AddressInput!) { cartUpdateShippingAddress(cartToken: $t, address: $a) { cart { availableShippingMethods { id name } } } }"
        methods = (await post(client, address, {"t": token, "a": ADDRESS})).json()["data"]["cartUpdateShippingAddress"][
            "cart"
        ]["availableShippingMethods"]
        method = next(m["id"] for m in methods if m["name"] == "Standard")
        await post(
            client,
            "mutation($t: ID!, $m: ID!) { cartUpdateShippingMethod(cartToken: $t, shippingMethodId: $m) { userErrors { code } } }",
            {"t": token, "m": method},
        )
        assert (await post(client, PRODUCT, {"id": product_id})).headers["cache-status"] == HIT
        order = (await post(client, CHECKOUT, {"t": token, "p": PAID})).json()["data"]["checkoutComplete"]
        assert order["userErrors"] == []
        after = await post(client, PRODUCT, {"id": product_id})
        assert after.headers["cache-status"] == STORED
        sold_out = after.json()["data"]["product"]
        assert (
            sold_out["variants"][0]["quantityAvailable"] == 0 and sold_out["variants"][0]["availableForSale"] is False
        )
        assert sold_out["availableForSale"] is False


async def test_a_stock_flip_evicts_listings_filtered_on_stock(db):
    product_id, variant = await own_product(units=0)
    inventory = bearer(await token_for(Permission.MANAGE_INVENTORY))
    in_stock = "query($s: String) { products(first: 100, search: $s, filter: { inStock: true }) { totalCount edges { node { id } } } }"
    name = (await Product.get(id=variant.product_id)).name
    async with gateway(db) as (client, _):
        assert (await post(client, in_stock, {"s": name})).json()["data"]["products"]["totalCount"] == 0
        adjust = 'mutation($v: ID!) { stockAdjust(variantId: $v, warehouse: "north", delta: 2, reason: "delivery") { userErrors { code } } }'
        assert (await post(client, adjust, {"v": encode_id("ProductVariant", variant.id)}, headers=inventory)).json()[
            "data"
        ]["stockAdjust"]["userErrors"] == []
        listing = (await post(client, in_stock, {"s": name})).json()["data"]["products"]
        assert listing["totalCount"] == 1 and listing["edges"][0]["node"]["id"] == product_id


async def test_concurrent_identical_misses_execute_once(db, sql_counter):
    query = "query Few($n: Int) { products(first: $n, sort: NAME_ASC) { totalCount edges { node { name variants { sku quantityAvailable } } } } }"
    async with gateway(db) as (client, _):
        await post(client, query, {"n": 1})  # warm whatever is per process (schema caches, viewer)
        sql_counter.statements.clear()
        await post(
            client,
            "query One($n: Int) { products(first: $n, sort: NAME_ASC) { totalCount edges { node { name variants { sku quantityAvailable } } } } }",
            {"n": 2},
        )
        one_execution = len(sql_counter.statements)
        assert one_execution > 0
        sql_counter.statements.clear()
        responses = await asyncio.gather(*(post(client, query, {"n": 2}) for _ in range(12)))
        assert len({r.content for r in responses}) == 1 and all(r.status_code == 200 for r in responses)
        assert sorted(r.headers["cache-status"] for r in responses).count(STORED) == 1
        assert len(sql_counter.statements) == one_execution  # one execution for all twelve
        counts = await cache_metrics(client)
        assert counts["collapsed"] + counts["local"] == 11


async def test_http_caching_headers_etag_and_304(db):
    params = {"query": LISTING, "variables": '{"n": 2}'}
    async with gateway(db, CACHE_MAX_AGE="7", CACHE_STALE_WHILE_REVALIDATE="11") as (client, _):
        first = await client.get("/graphql", params=params)
        assert first.status_code == 200 and first.headers["cache-status"] == STORED
        assert first.headers["cache-control"] == "public, max-age=7, stale-while-revalidate=11"
        assert first.headers["vary"] == "Accept, Authorization"
        etag = first.headers["etag"]
        assert etag.startswith('"') and etag.endswith('"')
        hit = await client.get("/graphql", params=params)
        assert hit.headers["etag"] == etag and hit.headers["cache-status"] == HIT
        for validator in (etag, f"W/{etag}", f'"other", {etag}', "*"):
            revalidated = await client.get("/graphql", params=params, headers={"if-none-match": validator})
            assert revalidated.status_code == 304 and revalidated.content == b""
            assert revalidated.headers["etag"] == etag and revalidated.headers["cache-control"].startswith("public")
        stale = await client.get("/graphql", params=params, headers={"if-none-match": '"other"'})
        assert stale.status_code == 200 and stale.content == first.content
        # POST is never publicly cacheable, even when the gateway served it from its cache.
        posted = await post(client, LISTING, {"n": 2})
        assert posted.headers["cache-status"] == HIT and posted.headers["cache-control"] == "private, no-store"
        assert "etag" not in posted.headers and posted.headers["vary"] == "Accept, Authorization"
        # Anything not cacheable is private too.
        private = await client.get("/graphql", params={"query": '{ cart(token: "x") { id } }'})
        assert private.headers["cache-control"] == "private, no-store" and "etag" not in private.headers


async def test_cache_enabled_0_turns_it_off(db):
    async with gateway(db, CACHE_ENABLED="0") as (client, app):
        assert app.state.cache is None
        for _ in range(2):
            response = await post(client, LISTING, {"n": 1})
            assert response.status_code == 200 and response.headers["cache-status"] == BYPASS
            assert response.headers["cache-control"] == "private, no-store"
        assert "gateway_cache_requests_total" not in (await client.get("/metrics")).text
