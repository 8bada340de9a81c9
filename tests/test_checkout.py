"""checkoutComplete: exactly one order per cart, stock reserved atomically, nothing left by a failure."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from models import Cart, Order, ProductVariant, Stock, StockMovement, Warehouse
from schema.ids import encode_id

ADDRESS = {
    "firstName": "Ada",
    "lastName": "Lovelace",
    "line1": "1 Main St",
    "city": "Berlin",
    "postalCode": "10115",
    "country": "DE",
}
CHECKOUT = """mutation($t: ID!, $p: PaymentInput!, $k: String) { checkoutComplete(cartToken: $t, payment: $p, idempotencyKey: $k) {
  order { id number token status email total { amount } taxTotal { amount } shippingTotal { amount }
          lines { sku productName quantity unitPrice { amount } total { amount } } events { kind } }
  userErrors { field code message } } }"""
PAID = {"provider": "test-card", "token": "tok_visa"}


async def ready_cart(
    gql,
    lines: list[tuple[str, int]],
    *,
    email: bool = True,
    address: bool = True,
    method: bool = True,
    headers: dict[str, str] | None = None,
) -> str:
    """A cart through the storefront API; `headers` with a customer's bearer token make it theirs."""
    variant_ids = [(encode_id("ProductVariant", (await ProductVariant.get(sku=sku)).id), q) for sku, q in lines]
    create = "mutation($i: CartCreateInput) { cartCreate(input: $i) { cart { token } userErrors { code message } } }"
    variables = {
        "i": {
            "lines": [{"variantId": v, "quantity": q} for v, q in variant_ids],
            **({"email": "ada@example.com"} if email else {}),
        }
    }
    body = (
        await gql.http.post("/graphql", headers=headers or {}, json={"query": create, "variables": variables})
    ).json()
    payload = body["data"]["cartCreate"]
    assert payload["userErrors"] == [], payload
    token = payload["cart"]["token"]
    if address:
        set_address = "mutation($t: ID!, $a: AddressInput!) { cartUpdateShippingAddress(cartToken: $t, address: $a) { cart { availableShippingMethods { id name } } } }"
        methods = (await gql.data(set_address, {"t": token, "a": ADDRESS}))["cartUpdateShippingAddress"]["cart"][
            "availableShippingMethods"
        ]
        if method:
            standard = next(m["id"] for m in methods if m["name"] == "Standard")
            await gql.data(
                "mutation($t: ID!, $m: ID!) { cartUpdateShippingMethod(cartToken: $t, shippingMethodId: $m) { userErrors { code } } }",
                {"t": token, "m": standard},
            )
    return token


async def make_variant() -> ProductVariant:
    """A variant of its own with known stock: 5 in central, 0 in north."""
    source = await ProductVariant.get(sku="ZEP-S")
    variant = await ProductVariant.create(
        product_id=source.product_id,
        sku=f"CHK-{uuid.uuid4().hex[:8]}",
        name="Checkout test",
        price=source.price,
        weight_grams=100,
        position=9,
    )
    central, north = await Warehouse.get(code="central"), await Warehouse.get(code="north")
    await Stock.create(variant=variant, warehouse=central, quantity=5, reserved=0)
    await Stock.create(variant=variant, warehouse=north, quantity=0, reserved=0)
    return variant


@pytest.fixture
async def fresh_variant(db) -> ProductVariant:
    return await make_variant()


async def test_a_paid_checkout(gql, fresh_variant):
    token = await ready_cart(gql, [(fresh_variant.sku, 2)])
    cart = (
        await gql.data("query($t: ID!) { cart(token: $t) { total { amount } taxTotal { amount } } }", {"t": token})
    )["cart"]
    result = (await gql.data(CHECKOUT, {"t": token, "p": PAID}))["checkoutComplete"]
    assert result["userErrors"] == []
    order = result["order"]
    assert order["status"] == "PAID" and order["number"] > 1000 and order["email"] == "ada@example.com"
    assert order["total"] == cart["total"] and order["taxTotal"] == cart["taxTotal"]
    assert order["lines"] == [
        {
            "sku": fresh_variant.sku,
            "productName": "Zephyr Linen Shirt",
            "quantity": 2,
            "unitPrice": {"amount": "19.99"},
            "total": {"amount": "39.98"},
        }
    ]
    assert [e["kind"] for e in order["events"]] == ["PLACED", "PAID"]
    central = await Stock.get(variant_id=fresh_variant.id, warehouse__code="central")
    assert (central.quantity, central.reserved) == (5, 2)
    assert await StockMovement.filter(variant_id=fresh_variant.id, kind="RESERVATION", reserved_delta=2).count() == 1
    assert (await Cart.get(token=token)).completed_at is not None
    found = (await gql.data("query($t: ID!) { order(token: $t) { number status } }", {"t": order["token"]}))["order"]
    assert found == {"number": order["number"], "status": "PAID"}
    # availability follows: 3 left
    left = (
        await gql.data(
            "query($id: ID!) { node(id: $id) { ... on ProductVariant { quantityAvailable } } }",
            {"id": encode_id("ProductVariant", fresh_variant.id)},
        )
    )["node"]
    assert left == {"quantityAvailable": 3}


async def test_manual_payment_places_an_unpaid_order(gql, fresh_variant):
    token = await ready_cart(gql, [(fresh_variant.sku, 1)])
    order = (await gql.data(CHECKOUT, {"t": token, "p": {"provider": "manual"}}))["checkoutComplete"]["order"]
    assert order["status"] == "PLACED" and [e["kind"] for e in order["events"]] == ["PLACED"]


async def test_a_declined_payment_leaves_no_trace(gql, fresh_variant):
    token = await ready_cart(gql, [(fresh_variant.sku, 2)])
    orders_before = await Order.all().count()
    result = (await gql.data(CHECKOUT, {"t": token, "p": {"provider": "test-card", "token": "tok_decline"}}))[
        "checkoutComplete"
    ]
    assert result["order"] is None and [e["code"] for e in result["userErrors"]] == ["PAYMENT_DECLINED"]
    assert await Order.all().count() == orders_before
    assert (await Stock.get(variant_id=fresh_variant.id, warehouse__code="central")).reserved == 0
    assert await StockMovement.filter(variant_id=fresh_variant.id).count() == 0
    assert (await Cart.get(token=token)).completed_at is None
    retried = (await gql.data(CHECKOUT, {"t": token, "p": PAID}))["checkoutComplete"]
    assert retried["userErrors"] == [] and retried["order"]["status"] == "PAID"


async def test_a_cart_must_be_complete(gql, fresh_variant):
    cases = [
        (await ready_cart(gql, [], address=True, method=False), "CART_EMPTY"),
        (await ready_cart(gql, [(fresh_variant.sku, 1)], email=False), "EMAIL_REQUIRED"),
        (await ready_cart(gql, [(fresh_variant.sku, 1)], address=False), "SHIPPING_ADDRESS_REQUIRED"),
        (await ready_cart(gql, [(fresh_variant.sku, 1)], method=False), "SHIPPING_METHOD_REQUIRED"),
    ]
    for token, code in cases:
        result = (await gql.data(CHECKOUT, {"t": token, "p": PAID}))["checkoutComplete"]
        assert result["order"] is None and [e["code"] for e in result["userErrors"]] == [code]
    unknown = (await gql.data(CHECKOUT, {"t": token, "p": {"provider": "bitcoin"}}))["checkoutComplete"]
    assert unknown["userErrors"][0]["field"] == ["payment", "provider"]


async def test_stock_gone_since_the_cart_was_filled(gql, fresh_variant):
    token = await ready_cart(gql, [(fresh_variant.sku, 4)])
    await Stock.filter(variant_id=fresh_variant.id, warehouse__code="central").update(quantity=3)
    result = (await gql.data(CHECKOUT, {"t": token, "p": PAID}))["checkoutComplete"]
    assert [e["code"] for e in result["userErrors"]] == ["INSUFFICIENT_STOCK"] and "Only 3 available" in result[
        "userErrors"
    ][0]["message"]
    assert (await Stock.get(variant_id=fresh_variant.id, warehouse__code="central")).reserved == 0


async def test_the_same_key_or_cart_gives_the_same_order(gql, fresh_variant):
    token = await ready_cart(gql, [(fresh_variant.sku, 1)])
    key = uuid.uuid4().hex
    first = (await gql.data(CHECKOUT, {"t": token, "p": PAID, "k": key}))["checkoutComplete"]["order"]
    again = (await gql.data(CHECKOUT, {"t": token, "p": PAID, "k": key}))["checkoutComplete"]["order"]
    resubmitted = (await gql.data(CHECKOUT, {"t": token, "p": PAID}))["checkoutComplete"]["order"]
    assert first["id"] == again["id"] == resubmitted["id"]
    assert await Order.filter(cart__token=token).count() == 1
    assert (await Stock.get(variant_id=fresh_variant.id, warehouse__code="central")).reserved == 1
    other = await ready_cart(gql, [(fresh_variant.sku, 1)])
    misuse = (await gql.data(CHECKOUT, {"t": other, "p": PAID, "k": key}))["checkoutComplete"]
    assert misuse["userErrors"][0]["field"] == ["idempotencyKey"]


async def test_statement_count_does_not_grow_with_the_cart(gql, sql_counter):
    in_stock = (
        await Stock.filter(quantity__gte=5, reserved=0, variant__product__status="ACTIVE").order_by("id").limit(60)
    )
    skus = list(dict.fromkeys([(await ProductVariant.get(id=s.variant_id)).sku for s in in_stock]))[:20]
    assert len(skus) == 20
    counts = []
    for lines in ([(skus[0], 1)], [(sku, 1) for sku in skus]):
        token = await ready_cart(gql, lines)
        sql_counter.statements.clear()
        result = (await gql.data(CHECKOUT, {"t": token, "p": PAID}))["checkoutComplete"]
        assert result["userErrors"] == []
        counts.append(len(sql_counter.statements))
    assert counts[0] == counts[1] <= 25, counts


async def test_concurrent_checkouts_never_oversell(db, gql, fresh_variant):
    if db.name != "postgres":
        pytest.skip("SQLite serializes every transaction: concurrency is proven on PostgreSQL")
    tokens = [await ready_cart(gql, [(fresh_variant.sku, 1)]) for _ in range(12)]
    results = await asyncio.gather(*(gql.data(CHECKOUT, {"t": t, "p": PAID}) for t in tokens))
    placed = [r for r in results if r["checkoutComplete"]["order"]]
    refused = [r["checkoutComplete"]["userErrors"][0]["code"] for r in results if not r["checkoutComplete"]["order"]]
    assert len(placed) == 5 and refused == ["INSUFFICIENT_STOCK"] * 7
    stock = await Stock.get(variant_id=fresh_variant.id, warehouse__code="central")
    assert stock.reserved == 5 <= stock.quantity


async def test_double_submit_and_crossed_carts_on_postgres(db, gql, fresh_variant):
    if db.name != "postgres":
        pytest.skip("SQLite serializes every transaction: concurrency is proven on PostgreSQL")
    token = await ready_cart(gql, [(fresh_variant.sku, 1)])
    twice = await asyncio.gather(*(gql.data(CHECKOUT, {"t": token, "p": PAID}) for _ in range(4)))
    assert len({r["checkoutComplete"]["order"]["id"] for r in twice}) == 1
    # Carts holding the same two variants in opposite orders: the classic deadlock shape.
    other = await make_variant()
    crossed = [
        await ready_cart(gql, [(other.sku, 1), (fresh_variant.sku, 1)])
        if i % 2
        else await ready_cart(gql, [(fresh_variant.sku, 1), (other.sku, 1)])
        for i in range(6)
    ]
    results = await asyncio.gather(*(gql.data(CHECKOUT, {"t": t, "p": PAID}) for t in crossed))
    codes = {e["code"] for r in results for e in r["checkoutComplete"]["userErrors"]}
    assert codes <= {"INSUFFICIENT_STOCK"}
    assert sum(1 for r in results if r["checkoutComplete"]["order"]) == 4  # 5 units each, one already sold
    for variant_id in (fresh_variant.id, other.id):
        for stock in await Stock.filter(variant_id=variant_id):
            assert 0 <= stock.reserved <= stock.quantity


async def test_a_method_that_stopped_serving_the_cart(gql, fresh_variant):
    from models import ShippingMethod

    token = await ready_cart(gql, [(fresh_variant.sku, 1)])
    standard = await ShippingMethod.get(name="Standard")
    await ShippingMethod.filter(id=standard.id).update(countries=["FR"])
    try:
        result = (await gql.data(CHECKOUT, {"t": token, "p": PAID}))["checkoutComplete"]
        assert result["order"] is None and [e["code"] for e in result["userErrors"]] == ["SHIPPING_METHOD_UNAVAILABLE"]
    finally:
        await ShippingMethod.filter(id=standard.id).update(countries=[])


BILL_TO = "mutation($t: ID!, $a: AddressInput!) { cartUpdateBillingAddress(cartToken: $t, address: $a) { userErrors { code } } }"
ADDRESSES = "query($t: ID!) { order(token: $t) { shippingAddress { city } billingAddress { firstName company city } } }"


async def test_the_order_is_billed_to_the_carts_billing_address_else_where_it_ships(gql, fresh_variant):
    from resolvers import emails

    office = {**ADDRESS, "firstName": "Accounts", "company": "Analytical Engines & Co", "city": "Zurich"}
    billed = await ready_cart(gql, [(fresh_variant.sku, 1)])
    assert (await gql.data(BILL_TO, {"t": billed, "a": office}))["cartUpdateBillingAddress"]["userErrors"] == []
    unbilled = await ready_cart(gql, [(fresh_variant.sku, 1)])
    orders = []
    for token in (billed, unbilled):
        result = (await gql.data(CHECKOUT, {"t": token, "p": PAID}))["checkoutComplete"]
        assert result["userErrors"] == []
        orders.append((await gql.data(ADDRESSES, {"t": result["order"]["token"]}))["order"])
    assert orders == [
        {
            "shippingAddress": {"city": "Berlin"},
            "billingAddress": {"firstName": "Accounts", "company": "Analytical Engines & Co", "city": "Zurich"},
        },
        {
            "shippingAddress": {"city": "Berlin"},
            "billingAddress": {"firstName": "Ada", "company": None, "city": "Berlin"},
        },
    ]
    # Stored on the order itself: the cart can go, the order keeps it.
    order = await Order.get(cart__token=billed)
    assert order.billing_address is not None and order.billing_address["city"] == "Zurich"

    # The confirmation email shows both addresses, the billing one after the shipping one.
    sender = emails.Emails(send=None, sender="shop@example.com")  # composes only: nothing is sent
    message = sender.compose("order_confirmation", order, await emails.Emails.context(order))
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    shipping, billing = text.split("Shipping to:")[1].split("Billing to:")
    assert "Ada Lovelace" in shipping and "Berlin" in shipping and "Zurich" not in shipping
    assert "Accounts Lovelace" in billing and "Analytical Engines & Co" in billing and "10115 Zurich" in billing
    assert "<h2>Billing to</h2>" in html and "Analytical Engines &amp; Co" in html


async def test_an_order_from_before_billing_addresses_bills_to_where_it_ships(gql, fresh_variant):
    token = await ready_cart(gql, [(fresh_variant.sku, 1)])
    result = (await gql.data(CHECKOUT, {"t": token, "p": PAID}))["checkoutComplete"]
    await Order.filter(token=result["order"]["token"]).update(billing_address=None)  # as migration 0020 left it
    order = (await gql.data(ADDRESSES, {"t": result["order"]["token"]}))["order"]
    assert order["billingAddress"] == {"firstName": "Ada", "company": None, "city": "Berlin"}
