"""Product events and low-stock alerts reach a real endpoint as PRODUCT_CREATED / PRODUCT_UPDATED /
PRODUCT_DELETED and STOCK_LOW webhooks, signed per Standard Webhooks (verified with the
`standardwebhooks` library), each carrying the object as committed; refused or rolled-back changes
announce nothing, stock moves alone are no product event, and a low-stock alert fires once per fall.
The periodic stock check is driven directly (`stock_alerts.check`), not waited for."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from gateway import jobs
from gateway.job_stats import JobStats
from gateway.settings import load_settings
from gateway.worker import housekeeping
from models import OutboxEvent, Permission, Product, ProductStatus, ProductVariant
from models.changes import PRODUCT, STOCK_LOW
from resolvers import catalogue_admin, outbox, stock_alerts
from schema.ids import encode_id
from tests import test_webhooks_out
from tests.conftest import GraphQLClient
from tests.staff import bearer, token_for
from tests.test_checkout import CHECKOUT, PAID, ready_cart
from tests.test_webhooks_out import Receiver, _subscribe

# The served gateway with its jobs running, and the local endpoint, of the webhook tests.
served = test_webhooks_out.served
receiver = test_webhooks_out.receiver

PRODUCT_CREATE = "mutation($i: ProductCreateInput!) { productCreate(input: $i) { product { id } userErrors { code } } }"
PRODUCT_UPDATE = """mutation($id: ID!, $i: ProductUpdateInput!) { productUpdate(id: $id, input: $i) {
  product { id } userErrors { field code } } }"""
PRODUCT_DELETE = "mutation($id: ID!) { productDelete(id: $id) { deletedId product { id } userErrors { code } } }"
VARIANT_CREATE = """mutation($i: VariantCreateInput!) { variantCreate(input: $i) {
  variant { id lowStockThreshold } userErrors { field code } } }"""
VARIANT_UPDATE = """mutation($id: ID!, $i: VariantUpdateInput!) { variantUpdate(id: $id, input: $i) {
  variant { id lowStockThreshold } userErrors { field code } } }"""
VARIANT_DELETE = "mutation($id: ID!) { variantDelete(id: $id) { deletedId userErrors { code } } }"
IMAGE_CREATE = (
    "mutation($i: ProductImageCreateInput!) { productImageCreate(input: $i) { image { id } userErrors { code } } }"
)
STOCK_SET = """mutation($v: ID!, $w: String!, $q: Int!) { stockSet(variantId: $v, warehouse: $w, quantity: $q) {
  userErrors { code } } }"""
STOCK_ADJUST = """mutation($v: ID!, $w: String!, $d: Int!) { stockAdjust(variantId: $v, warehouse: $w, delta: $d,
  reason: "count") { userErrors { code } } }"""
THRESHOLD = "query($id: ID!) { node(id: $id) { ... on ProductVariant { lowStockThreshold } } }"
PRODUCT_EVENTS = ["PRODUCT_CREATED", "PRODUCT_UPDATED", "PRODUCT_DELETED"]


class Staff:
    """Staff with the catalogue and inventory permissions, calling the served gateway."""

    def __init__(self, client: httpx.AsyncClient, token: str) -> None:
        self.client, self.headers = client, bearer(token)

    async def body(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=self.headers
        )
        return dict(response.json())

    async def data(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        body = await self.body(query, variables)
        assert not body.get("errors"), body
        result = next(iter(body["data"].values()))
        assert not result.get("userErrors"), body
        return dict(result)


@pytest.fixture
async def own_product(db: Any) -> AsyncIterator[Product]:
    """A product on sale of the test's own, gone afterwards (archived if it was ordered), so the
    seeded catalogue other tests count on stays as it was."""
    t = uuid.uuid4().hex[:8]
    product = await Product.create(name=f"Alerted {t}", slug=f"alerted-{t}", status=ProductStatus.ACTIVE)
    yield product
    await catalogue_admin.delete_product(product.id)


async def staff_of(client: httpx.AsyncClient) -> Staff:
    return Staff(client, await token_for(Permission.MANAGE_PRODUCTS, Permission.MANAGE_INVENTORY))


def received(endpoint: Receiver, secret: str) -> list[dict[str, Any]]:
    """Every delivery so far, its signature verified (raises unless it holds)."""
    return [Webhook(secret).verify(body, headers) for headers, body in endpoint.received]


async def next_event(endpoint: Receiver, secret: str) -> dict[str, Any]:
    """The next event the test has not looked at, its signature verified: counted, not taken as
    the latest, since it may arrive before the test asks for it."""
    headers, body = await endpoint.next()
    return dict(Webhook(secret).verify(body, headers))


async def test_each_staff_change_of_a_product_delivers_its_event_with_the_committed_product(db, served, receiver):
    client, _ = served
    staff = await staff_of(client)
    secret = (await _subscribe(client, receiver.url, PRODUCT_EVENTS))["secret"]
    t = uuid.uuid4().hex[:6]

    product = (await staff.data(PRODUCT_CREATE, {"i": {"name": f"Kite {t}", "slug": f"kite-{t}"}}))["product"]
    created = await next_event(receiver, secret)
    row = created["data"]["object"]
    assert (created["type"], created["data"]["kind"]) == ("PRODUCT_CREATED", "product")
    assert (row["name"], row["slug"], row["status"], row["variants"], row["images"]) == (
        f"Kite {t}",
        f"kite-{t}",
        "DRAFT",
        [],
        [],
    )
    assert row["id"] == (await Product.get(slug=f"kite-{t}")).id and row["updated_at"]

    sku = f"KITE-{t}"
    variant_input = {
        "productId": product["id"],
        "sku": sku,
        "price": "12.50",
        "options": [{"name": "Size", "value": "M"}],
    }
    variant = (await staff.data(VARIANT_CREATE, {"i": variant_input}))["variant"]
    row = (event := await next_event(receiver, secret))["data"]["object"]
    assert event["type"] == "PRODUCT_UPDATED"
    assert [(v["sku"], v["price"], v["options"]) for v in row["variants"]] == [
        (sku, "12.50", [{"name": "Size", "value": "M"}])
    ]
    assert row["price_range"] == {"min": "12.50", "max": "12.50"} and row["min_price"] == "12.50"

    await staff.data(VARIANT_UPDATE, {"id": variant["id"], "i": {"price": "9.00"}})
    row = (event := await next_event(receiver, secret))["data"]["object"]
    assert event["type"] == "PRODUCT_UPDATED" and [v["price"] for v in row["variants"]] == ["9.00"]

    image = {"productId": product["id"], "url": "https://img.example.com/kite.jpg", "altText": "A kite"}
    await staff.data(IMAGE_CREATE, {"i": image})
    row = (event := await next_event(receiver, secret))["data"]["object"]
    assert event["type"] == "PRODUCT_UPDATED"
    assert [(i["url"], i["alt_text"]) for i in row["images"]] == [("https://img.example.com/kite.jpg", "A kite")]

    await staff.data(PRODUCT_UPDATE, {"id": product["id"], "i": {"name": f"Stunt kite {t}", "status": "ACTIVE"}})
    row = (event := await next_event(receiver, secret))["data"]["object"]
    assert (event["type"], row["name"], row["status"]) == ("PRODUCT_UPDATED", f"Stunt kite {t}", "ACTIVE")

    # Stock moves are no product event (STOCK_LOW's business); a refused change announces nothing.
    since = await OutboxEvent.all().order_by("-id").first()
    await staff.data(STOCK_SET, {"v": variant["id"], "w": "central", "q": 4})
    other = await Product.exclude(slug=f"kite-{t}").first()
    assert other is not None
    refused = await staff.body(PRODUCT_UPDATE, {"id": product["id"], "i": {"slug": other.slug}})
    assert [e["code"] for e in refused["data"]["productUpdate"]["userErrors"]] == ["DUPLICATE"], refused
    assert not await OutboxEvent.filter(id__gt=since.id if since else 0, kind=PRODUCT).exists()

    await staff.data(VARIANT_DELETE, {"id": variant["id"]})
    row = (event := await next_event(receiver, secret))["data"]["object"]
    assert (event["type"], row["variants"], row["price_range"]) == ("PRODUCT_UPDATED", [], None)

    deleted = await staff.data(PRODUCT_DELETE, {"id": product["id"]})
    assert deleted["deletedId"] == product["id"]
    event = await next_event(receiver, secret)
    row = event["data"]["object"]
    assert (event["type"], row["name"], len(row["images"])) == ("PRODUCT_DELETED", f"Stunt kite {t}", 1)

    # One delivery per mutation that changed the product, each its own event id.
    events = received(receiver, secret)
    assert [e["type"] for e in events] == ["PRODUCT_CREATED", *["PRODUCT_UPDATED"] * 5, "PRODUCT_DELETED"]
    assert len({e["id"] for e in events}) == len(events)


async def test_one_event_per_product_and_transaction_as_it_commits(db):
    t = uuid.uuid4().hex[:6]
    since = await OutboxEvent.all().order_by("-id").first()
    after = since.id if since else 0
    # Created, then changed, in one transaction: announced once, as created, in its final state.
    async with outbox.transaction():
        product = await catalogue_admin.create_product(catalogue_admin.ProductInput(name=f"Glider {t}"))
        await catalogue_admin.create_variant(
            product.id, catalogue_admin.VariantInput(sku=f"GL-{t}", price=Decimal("3.00"))
        )
        await catalogue_admin.update_product(product.id, catalogue_admin.ProductInput(name=f"Hang glider {t}"))
    events = await OutboxEvent.filter(id__gt=after, kind=PRODUCT)
    assert [(e.payload["event"], e.payload["row"]["name"]) for e in events] == [("created", f"Hang glider {t}")]
    assert [v["sku"] for v in events[0].payload["row"]["variants"]] == [f"GL-{t}"]

    # Changed, then deleted: announced once, as deleted, with its last state.
    after = events[-1].id
    async with outbox.transaction():
        await catalogue_admin.update_product(product.id, catalogue_admin.ProductInput(description="Soars"))
        await catalogue_admin.delete_product(product.id)
    events = await OutboxEvent.filter(id__gt=after, kind=PRODUCT)
    assert [(e.payload["event"], e.payload["row"]["description"]) for e in events] == [("deleted", "Soars")]

    # Rolled back: nothing is announced.
    other = await catalogue_admin.create_product(catalogue_admin.ProductInput(name=f"Balloon {t}"))
    after = (await OutboxEvent.all().order_by("-id").first() or events[-1]).id
    with pytest.raises(RuntimeError):
        async with outbox.transaction():
            await catalogue_admin.update_product(other.id, catalogue_admin.ProductInput(name="Never"))
            raise RuntimeError("changed our mind")
    assert not await OutboxEvent.filter(id__gt=after).exists()
    assert (await Product.get(id=other.id)).name == f"Balloon {t}"
    await catalogue_admin.delete_product(other.id)


async def test_a_staff_change_reads_the_product_in_a_fixed_number_of_statements(db, client, sql_counter):
    headers = bearer(await token_for(Permission.MANAGE_PRODUCTS))
    t = uuid.uuid4().hex[:6]

    async def call(query: str, variables: dict[str, Any]) -> dict[str, Any]:
        body = (await client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)).json()
        assert not body.get("errors"), body
        return dict(body)

    counts = []
    for variants in (1, 4):
        product = (await call(PRODUCT_CREATE, {"i": {"name": f"Sail {variants} {t}"}}))["data"]["productCreate"]
        for n in range(variants):
            options = [{"name": "Size", "value": str(n)}, {"name": "Colour", "value": "red"}]
            i = {
                "productId": product["product"]["id"],
                "sku": f"SAIL-{variants}-{n}-{t}",
                "price": "5",
                "options": options,
            }
            await call(VARIANT_CREATE, {"i": i})
        sql_counter.statements.clear()
        await call(PRODUCT_UPDATE, {"id": product["product"]["id"], "i": {"description": "Windy"}})
        counts.append(len(sql_counter.statements))
    assert counts[0] == counts[1], sql_counter.statements


async def test_the_low_stock_threshold_is_set_by_staff_and_shown_to_them_only(db, client, gql, own_product):
    staff = Staff(client, await token_for(Permission.MANAGE_PRODUCTS))
    product: Product = own_product
    sku = f"THR-{uuid.uuid4().hex[:6]}"
    i = {"productId": encode_id("Product", product.id), "sku": sku, "price": "1", "lowStockThreshold": 3}
    variant = (await staff.data(VARIANT_CREATE, {"i": i}))["variant"]
    assert variant["lowStockThreshold"] == 3
    for bad in (-1, 1_000_001):
        body = await staff.body(VARIANT_UPDATE, {"id": variant["id"], "i": {"lowStockThreshold": bad}})
        errors = body["data"]["variantUpdate"]["userErrors"]
        assert errors == [{"field": ["lowStockThreshold"], "code": "INVALID"}], body
    assert (await ProductVariant.get(sku=sku)).low_stock_threshold == 3
    cleared = await staff.data(VARIANT_UPDATE, {"id": variant["id"], "i": {"lowStockThreshold": None}})
    assert cleared["variant"]["lowStockThreshold"] is None
    assert await gql.error_codes(THRESHOLD, {"id": variant["id"]}) == ["UNAUTHENTICATED"]
    await ProductVariant.filter(sku=sku).delete()


async def _alerts_of(variant_id: int, since: int) -> list[dict[str, Any]]:
    events = await OutboxEvent.filter(id__gt=since, kind=STOCK_LOW).order_by("id")
    return [e.payload["row"] for e in events if e.payload["id"] == variant_id]


async def _last_event_id() -> int:
    last = await OutboxEvent.all().order_by("-id").first()
    return last.id if last else 0


async def _watched_variant(
    staff: Staff, product: Product, threshold: int, stock: dict[str, int]
) -> tuple[str, ProductVariant]:
    """A new variant with a low-stock threshold and stock, made by staff: its global ID and model."""
    sku = f"LOW-{uuid.uuid4().hex[:8]}"
    i = {"productId": encode_id("Product", product.id), "sku": sku, "price": "2", "lowStockThreshold": threshold}
    variant_id = (await staff.data(VARIANT_CREATE, {"i": i}))["variant"]["id"]
    for warehouse, quantity in stock.items():
        await staff.data(STOCK_SET, {"v": variant_id, "w": warehouse, "q": quantity})
    return variant_id, await ProductVariant.get(sku=sku)


async def alerted_after_a_check(variant_id: int) -> bool:
    """Run the stock check; whether the variant stands alerted after it. The served app's worker
    runs the same check every 30 s and may raise the alert first: that it is raised once per fall
    is what the events received and the outbox rows count."""
    await stock_alerts.check()
    return (await ProductVariant.get(id=variant_id)).low_stock_alerted_at is not None


async def test_stock_low_fires_once_per_fall_below_the_threshold(db, served, receiver, own_product):
    client, _ = served
    staff = await staff_of(client)
    secret = (await _subscribe(client, receiver.url, ["STOCK_LOW"]))["secret"]
    variant_id, variant = await _watched_variant(staff, own_product, 3, {"central": 5, "north": 2})
    sku, product_id = variant.sku, variant.product_id
    since = await _last_event_id()

    assert variant.id not in await stock_alerts.check()  # 7 available, above 3
    await staff.data(STOCK_ADJUST, {"v": variant_id, "w": "central", "d": -4})  # 3 available: at the threshold
    assert await alerted_after_a_check(variant.id)
    event = await next_event(receiver, secret)
    assert (event["type"], event["data"]["kind"]) == ("STOCK_LOW", "stock_low")
    assert event["data"]["object"] == {
        "variant_id": variant.id,
        "sku": sku,
        "product_id": product_id,
        "threshold": 3,
        "available": 3,
        "warehouses": [
            {"warehouse": "central", "quantity": 1, "reserved": 0, "available": 1},
            {"warehouse": "north", "quantity": 2, "reserved": 0, "available": 2},
        ],
    }

    await staff.data(STOCK_ADJUST, {"v": variant_id, "w": "north", "d": -1})  # lower still: no second alert
    assert variant.id not in await stock_alerts.check()
    await staff.data(STOCK_ADJUST, {"v": variant_id, "w": "central", "d": 5})  # back above: re-armed
    assert variant.id not in await stock_alerts.check()
    assert (await ProductVariant.get(id=variant.id)).low_stock_alerted_at is None
    await staff.data(STOCK_ADJUST, {"v": variant_id, "w": "central", "d": -5})  # falls again
    assert await alerted_after_a_check(variant.id)
    assert [row["available"] for row in await _alerts_of(variant.id, since)] == [3, 2]
    second = await next_event(receiver, secret)
    assert (second["type"], second["data"]["object"]["available"]) == ("STOCK_LOW", 2)

    # A threshold raised above the current level alerts at the next check.
    await staff.data(VARIANT_UPDATE, {"id": variant_id, "i": {"lowStockThreshold": 10}})
    assert await alerted_after_a_check(variant.id)
    assert [(r["threshold"], r["available"]) for r in await _alerts_of(variant.id, since)][-1] == (10, 2)
    await staff.data(VARIANT_UPDATE, {"id": variant_id, "i": {"lowStockThreshold": None}})
    assert variant.id not in await stock_alerts.check()
    await receiver.wait(3)
    await asyncio.sleep(0.5)  # time for a fourth, which must not come
    assert [e["data"]["object"]["sku"] for e in received(receiver, secret)] == [sku] * 3
    await ProductVariant.filter(id=variant.id).delete()


async def test_a_checkout_that_takes_stock_to_the_threshold_alerts(db, served, own_product):
    client, _ = served
    staff = await staff_of(client)
    _, variant = await _watched_variant(staff, own_product, 2, {"central": 5})
    since = await _last_event_id()
    assert variant.id not in await stock_alerts.check()

    gql = GraphQLClient(client)
    cart = await ready_cart(gql, [(variant.sku, 3)])
    assert (await gql.data(CHECKOUT, {"t": cart, "p": PAID}))["checkoutComplete"]["order"]
    assert await alerted_after_a_check(variant.id)  # 5 on hand, 3 reserved: 2 available
    [alert] = await _alerts_of(variant.id, since)
    assert (alert["available"], alert["warehouses"][0]["reserved"]) == (2, 3)
    await ProductVariant.filter(id=variant.id).update(low_stock_threshold=None)


async def test_two_checks_at_once_alert_a_variant_once(db, own_product):
    if db.name != "postgres":
        pytest.skip("SQLite serializes every transaction: concurrency is proven on PostgreSQL")
    product: Product = own_product
    variant = await ProductVariant.create(
        product_id=product.id, sku=f"RACE-{uuid.uuid4().hex[:6]}", name="Race", price=1, low_stock_threshold=0
    )
    since = await _last_event_id()
    first, second = await asyncio.gather(stock_alerts.check(), stock_alerts.check())
    assert (variant.id in first) != (variant.id in second)
    assert len(await _alerts_of(variant.id, since)) == 1
    await variant.delete()


async def test_the_check_is_a_periodic_job_run_by_one_worker_at_a_time(db, own_product):
    app = jobs.build(jobs.InProcessConnector(), housekeeping(load_settings({})), JobStats())
    task = app.tasks[jobs.STOCK_CHECK]
    assert task.lock == task.queueing_lock == jobs.STOCK_CHECK
    periodic = [p for p in app.periodic_registry.periodic_tasks.values() if p.task.name == jobs.STOCK_CHECK]
    assert [p.cron for p in periodic] == [jobs.STOCK_CHECK_CRON]
    product: Product = own_product
    variant = await ProductVariant.create(
        product_id=product.id, sku=f"JOB-{uuid.uuid4().hex[:6]}", name="Job", price=1, low_stock_threshold=0
    )
    since = await _last_event_id()
    await task(timestamp=0)  # what the worker runs each tick
    assert len(await _alerts_of(variant.id, since)) == 1
    await variant.delete()
