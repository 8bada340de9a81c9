"""The exactly-once and no-oversell promises against a real server: uvicorn with 2 worker processes."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from loaders import Loaders
from models import Order, ProductVariant, ShippingMethod, Stock, Warehouse
from resolvers import cart as carts
from tests.live import uvicorn_workers
from tests.test_checkout import ADDRESS, CHECKOUT, PAID

pytestmark = pytest.mark.slow  # real uvicorn workers: `make test-fast` skips them


@pytest.fixture
async def server(db):
    if db.name != "postgres":
        pytest.skip("SQLite serializes every transaction: concurrency is proven on PostgreSQL")
    async with (
        uvicorn_workers({"DATABASE_URL": db.url}) as (base, _),
        httpx.AsyncClient(base_url=base, timeout=60, limits=httpx.Limits(max_connections=200)) as client,
    ):
        yield client


async def _variant_with(units: int) -> ProductVariant:
    source = await ProductVariant.get(sku="ZEP-S")
    variant = await ProductVariant.create(
        product_id=source.product_id,
        sku=f"W-{uuid.uuid4().hex[:10]}",
        name="Workers",
        price=source.price,
        weight_grams=100,
        position=10,
    )
    await Stock.create(variant=variant, warehouse=await Warehouse.get(code="central"), quantity=units, reserved=0)
    return variant


async def _ready_cart(variants: list[ProductVariant]) -> str:
    """A checkout-ready cart, made with the same domain calls the API uses (faster than 4 requests)."""
    cart = await carts.create_cart("EUR", [(v.id, 1) for v in variants], "load@example.com", None)
    await carts.update_shipping_address(
        Loaders(),
        cart.token,
        {
            "first_name": ADDRESS["firstName"],
            "last_name": ADDRESS["lastName"],
            "line1": ADDRESS["line1"],
            "city": ADDRESS["city"],
            "postal_code": ADDRESS["postalCode"],
            "country": ADDRESS["country"],
        },
    )
    await carts.update_shipping_method(Loaders(), cart.token, (await ShippingMethod.get(name="Standard")).id)
    return cart.token


async def _checkout(client: httpx.AsyncClient, token: str, key: str | None = None) -> dict:
    response = await client.post("/graphql", json={"query": CHECKOUT, "variables": {"t": token, "p": PAID, "k": key}})
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body.get("errors"), body  # a deadlock or any server error would show here
    return body["data"]["checkoutComplete"]


async def test_200_checkouts_of_50_units_give_exactly_50_orders(server):
    variant = await _variant_with(50)
    tokens = [await _ready_cart([variant]) for _ in range(200)]
    results = await asyncio.gather(*(_checkout(server, t) for t in tokens))
    orders = [r["order"] for r in results if r["order"]]
    refusals = [e["code"] for r in results for e in r["userErrors"]]
    assert len(orders) == 50 and refusals == ["INSUFFICIENT_STOCK"] * 150
    assert len({o["number"] for o in orders}) == 50
    stock = await Stock.get(variant_id=variant.id)
    assert stock.reserved == 50 <= stock.quantity


async def test_crossed_carts_and_double_submits_across_workers(server):
    first, second = await _variant_with(30), await _variant_with(30)
    tokens = [await _ready_cart([first, second] if n % 2 else [second, first]) for n in range(40)]
    results = await asyncio.gather(*(_checkout(server, t) for t in tokens))
    assert sum(1 for r in results if r["order"]) == 30
    assert {e["code"] for r in results for e in r["userErrors"]} <= {"INSUFFICIENT_STOCK"}
    for variant in (first, second):
        stock = await Stock.get(variant_id=variant.id)
        assert stock.reserved == 30 <= stock.quantity

    # One cart submitted ten times at once, half with an idempotency key: one order.
    spare = await _variant_with(5)
    token = await _ready_cart([spare])
    key = uuid.uuid4().hex
    results = await asyncio.gather(*(_checkout(server, token, key if n % 2 else None) for n in range(10)))
    assert len({r["order"]["id"] for r in results}) == 1
    assert await Order.filter(cart__token=token).count() == 1
    assert (await Stock.get(variant_id=spare.id)).reserved == 1
