"""Staff set and adjust stock; every change lands in the ledger; bad input changes nothing."""

from __future__ import annotations

import asyncio

import pytest

from models import Permission, ProductVariant, Stock, StockMovement, Warehouse
from schema.ids import encode_id
from tests.staff import bearer, token_for

SET = """mutation($v: ID!, $w: String!, $q: Int!) { stockSet(variantId: $v, warehouse: $w, quantity: $q) {
  stock { quantity reserved available warehouse { code } variant { sku } } userErrors { field code message } } }"""
ADJUST = """mutation($v: ID!, $w: String!, $d: Int!, $r: String!) { stockAdjust(variantId: $v, warehouse: $w, delta: $d, reason: $r) {
  stock { quantity reserved available } userErrors { field code message } } }"""
MOVES = """query($v: ID!, $after: String) { stockMovements(variantId: $v, first: 2, after: $after) {
  edges { cursor node { kind delta quantityAfter reason actor } } pageInfo { hasNextPage endCursor } } }"""


@pytest.fixture
async def inventory_staff(client):
    return bearer(await token_for(Permission.MANAGE_INVENTORY))


async def post(client, headers, query, variables):
    body = (await client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)).json()
    assert not body.get("errors"), body
    return body["data"]


async def test_set_then_adjust_writes_the_ledger(client, inventory_staff):
    variant = await ProductVariant.get(sku="NIM-1")  # no stock row in north yet
    vid = encode_id("ProductVariant", variant.id)
    data = await post(client, inventory_staff, SET, {"v": vid, "w": "north", "q": 12})
    assert data["stockSet"] == {
        "stock": {
            "quantity": 12,
            "reserved": 0,
            "available": 12,
            "warehouse": {"code": "north"},
            "variant": {"sku": "NIM-1"},
        },
        "userErrors": [],
    }
    data = await post(client, inventory_staff, ADJUST, {"v": vid, "w": "north", "d": -5, "r": "damaged in transit"})
    assert data["stockAdjust"]["stock"] == {"quantity": 7, "reserved": 0, "available": 7}
    moves = (await post(client, inventory_staff, MOVES, {"v": vid}))["stockMovements"]
    assert [(e["node"]["kind"], e["node"]["delta"], e["node"]["quantityAfter"]) for e in moves["edges"]][:2] == [
        ("ADJUSTMENT", -5, 7),
        ("SET", 12, 12),
    ]
    assert moves["edges"][0]["node"]["reason"] == "damaged in transit" and "@" in moves["edges"][0]["node"]["actor"]
    await post(client, inventory_staff, SET, {"v": vid, "w": "north", "q": 0})  # leave it as it was


async def test_refusals_change_nothing(client, inventory_staff):
    variant = await ProductVariant.get(sku="AUR-L")  # north: 3 on hand, 1 reserved
    vid = encode_id("ProductVariant", variant.id)
    before = (await Stock.all().order_by("id").values_list("quantity", "reserved"), await StockMovement.all().count())
    cases = [
        (SET, {"v": vid, "w": "north", "q": -1}, "INVALID_QUANTITY", ["quantity"]),
        (SET, {"v": vid, "w": "north", "q": 0}, "INVALID_QUANTITY", ["quantity"]),  # below the 1 reserved
        (SET, {"v": vid, "w": "nowhere", "q": 5}, "NOT_FOUND", ["warehouse"]),
        (SET, {"v": encode_id("ProductVariant", 999999), "w": "north", "q": 5}, "NOT_FOUND", ["variantId"]),
        (ADJUST, {"v": vid, "w": "north", "d": -3, "r": "count"}, "INSUFFICIENT_STOCK", ["delta"]),
        (ADJUST, {"v": vid, "w": "north", "d": 0, "r": "count"}, "INVALID_QUANTITY", ["delta"]),
        (ADJUST, {"v": vid, "w": "north", "d": 2, "r": "  "}, "REQUIRED", ["reason"]),
    ]
    for query, variables, code, field in cases:
        data = await post(client, inventory_staff, query, variables)
        payload = next(iter(data.values()))
        assert payload["stock"] is None and [(e["code"], e["field"]) for e in payload["userErrors"]] == [
            (code, field)
        ], variables
    after = (await Stock.all().order_by("id").values_list("quantity", "reserved"), await StockMovement.all().count())
    assert after == before


async def test_warehouses_and_warehouse_create(client, inventory_staff):
    create = "mutation($c: String!, $n: String!) { warehouseCreate(input: {code: $c, name: $n}) { warehouse { code name } userErrors { code field } } }"
    data = await post(client, inventory_staff, create, {"c": "South-1", "n": "South"})
    assert data["warehouseCreate"] == {"warehouse": {"code": "south-1", "name": "South"}, "userErrors": []}
    data = await post(client, inventory_staff, create, {"c": "south-1", "n": "Again"})
    assert data["warehouseCreate"] == {"warehouse": None, "userErrors": [{"code": "DUPLICATE", "field": ["code"]}]}
    data = await post(client, inventory_staff, create, {"c": "no spaces!", "n": "Bad"})
    assert data["warehouseCreate"]["userErrors"] == [{"code": "INVALID", "field": ["code"]}]
    codes = [w["code"] for w in (await post(client, inventory_staff, "{ warehouses { code } }", {}))["warehouses"]]
    assert {"central", "north", "south-1"} <= set(codes)
    await Warehouse.filter(code="south-1").delete()


async def test_warehouse_update_renames_and_keeps_the_code(client, inventory_staff):
    warehouse = await Warehouse.create(code="east-9", name="East")
    update = "mutation($id: ID!, $n: String) { warehouseUpdate(id: $id, input: {name: $n}) { warehouse { id code name } userErrors { code field } } }"
    wid = encode_id("Warehouse", warehouse.id)
    for name, code in (("  ", "REQUIRED"), ("w" * 201, "TOO_LONG")):
        data = await post(client, inventory_staff, update, {"id": wid, "n": name})
        assert data["warehouseUpdate"] == {"warehouse": None, "userErrors": [{"code": code, "field": ["name"]}]}
    assert (await Warehouse.get(id=warehouse.id)).name == "East"
    data = await post(client, inventory_staff, update, {"id": wid, "n": " East Annex "})
    assert data["warehouseUpdate"] == {
        "warehouse": {"id": wid, "code": "east-9", "name": "East Annex"},
        "userErrors": [],
    }
    listed = (await post(client, inventory_staff, "{ warehouses { code name } }", {}))["warehouses"]
    assert {"code": "east-9", "name": "East Annex"} in listed
    gone = encode_id("Warehouse", 2**31 - 1)
    data = await post(client, inventory_staff, update, {"id": gone, "n": "Nowhere"})
    assert data["warehouseUpdate"]["userErrors"] == [{"code": "NOT_FOUND", "field": ["id"]}]
    await warehouse.delete()


async def test_low_stock_lists_scarcest_first(client, inventory_staff):
    query = "query($t: Int!, $after: String) { lowStock(threshold: $t, first: 5, after: $after) { edges { node { available variant { sku } } } pageInfo { hasNextPage endCursor } } }"
    data = (await post(client, inventory_staff, query, {"t": 2}))["lowStock"]
    available = [e["node"]["available"] for e in data["edges"]]
    assert available == sorted(available) and all(a <= 2 for a in available)
    if data["pageInfo"]["hasNextPage"]:
        more = (await post(client, inventory_staff, query, {"t": 2, "after": data["pageInfo"]["endCursor"]}))[
            "lowStock"
        ]
        assert more["edges"][0]["node"]["available"] >= available[-1]


async def test_concurrent_removals_never_go_below_reserved(db, client, inventory_staff):
    if db.name != "postgres":
        pytest.skip("SQLite serializes every transaction: concurrency is proven on PostgreSQL")
    variant = await ProductVariant.get(sku="ZEP-S")
    vid = encode_id("ProductVariant", variant.id)
    await post(client, inventory_staff, SET, {"v": vid, "w": "central", "q": 10})
    results = await asyncio.gather(
        *(post(client, inventory_staff, ADJUST, {"v": vid, "w": "central", "d": -1, "r": "race"}) for _ in range(25))
    )
    succeeded = sum(1 for r in results if r["stockAdjust"]["stock"] is not None)
    stock = await Stock.get(variant_id=variant.id, warehouse__code="central")
    assert succeeded == 10 and stock.quantity == 0 and stock.quantity >= stock.reserved
    assert await StockMovement.filter(variant_id=variant.id, reason="race").count() == 10
    await post(client, inventory_staff, SET, {"v": vid, "w": "central", "q": 5})
