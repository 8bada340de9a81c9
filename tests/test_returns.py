"""Returns through the API: asked for with the order's token, approved or rejected by staff, received
and refunded through the refund mechanism, an email at each step, and no unit returned twice."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from models import Order, Permission, Return, Stock, StockMovement
from tests.staff import bearer, token_for
from tests.test_refunds import call, paid_order, post_office, refunds_in_books, ship_all, staff

REQUEST = """mutation($t: ID!, $l: [ReturnLineInput!]!, $r: String) {
  returnRequest(orderToken: $t, lines: $l, reason: $r) {
    return { id status reason lines { id quantity quantityReceived orderLine { id } } refund { status } }
    order { lines { quantityReturned } returns { status } }
    userErrors { field code message } } }"""
RESULT = "return { id status rejectionReason lines { quantity quantityReceived } refund { status amount { amount } lines { quantity restock } } } order { status lines { quantityReturned quantityRefunded } returns { status } } userErrors { field code message }"
APPROVE = f"mutation($id: ID!) {{ returnApprove(returnId: $id) {{ {RESULT} }} }}"
REJECT = f"mutation($id: ID!, $r: String) {{ returnReject(returnId: $id, reason: $r) {{ {RESULT} }} }}"
RECEIVE = f"""mutation($id: ID!, $l: [ReturnReceiveLineInput!], $s: Boolean! = true) {{
  returnReceive(returnId: $id, lines: $l, restock: $s) {{ {RESULT} }} }}"""


async def ask(gql: Any, order: dict[str, Any], quantity: int, reason: str | None = "does not fit") -> dict[str, Any]:
    line = order["lines"][0]["id"]
    payload: dict[str, Any] = (
        await gql.data(REQUEST, {"t": order["token"], "l": [{"orderLineId": line, "quantity": quantity}], "r": reason})
    )["returnRequest"]
    return payload


async def test_a_return_from_request_to_refund(db, gql, client):
    headers = await staff()
    order, variant = await paid_order(gql, 2)
    await ship_all(client, order)
    model = await Order.get(token=order["token"])
    unit = Decimal(order["lines"][0]["unitPrice"]["amount"])
    async with post_office() as arrived:
        await arrived(order["token"])
        requested = await ask(gql, order, 2)
        assert requested["userErrors"] == []
        ret = requested["return"]
        assert ret["status"] == "REQUESTED" and ret["reason"] == "does not fit" and ret["refund"] is None
        assert [(line["quantity"], line["quantityReceived"]) for line in ret["lines"]] == [(2, 0)]
        assert requested["order"]["lines"] == [{"quantityReturned": 2}]
        assert requested["order"]["returns"] == [{"status": "REQUESTED"}]
        [email] = await arrived(order["token"])
        assert email["Subject"] == f"Return requested for order #{model.number}"

        approved = await call(client, headers, APPROVE, {"id": ret["id"]})
        assert approved["return"]["status"] == "APPROVED"
        [email] = await arrived(order["token"])
        assert email["Subject"] == f"Return approved for order #{model.number}"

        # One of the two came back: it is refunded and restocked; the other may be asked back again.
        received = await call(
            client, headers, RECEIVE, {"id": ret["id"], "l": [{"returnLineId": ret["lines"][0]["id"], "quantity": 1}]}
        )
        assert received["userErrors"] == []
        assert received["return"]["status"] == "REFUNDED"
        assert received["return"]["lines"] == [{"quantity": 2, "quantityReceived": 1}]
        assert received["return"]["refund"] == {
            "status": "SUCCEEDED",
            "amount": {"amount": f"{unit:.2f}"},
            "lines": [{"quantity": 1, "restock": True}],
        }
        assert received["order"]["status"] == "PARTIALLY_REFUNDED"
        assert received["order"]["lines"] == [{"quantityReturned": 1, "quantityRefunded": 1}]
        subjects = sorted(m["Subject"] for m in await arrived(order["token"]))
        assert subjects == [f"Order #{model.number} refunded", f"Return received for order #{model.number}"]
    stock = await Stock.get(variant_id=variant.id, warehouse__code="central")
    assert (stock.quantity, stock.reserved) == (4, 0)  # 2 shipped of 5, 1 back
    assert await StockMovement.filter(variant_id=variant.id, kind="RETURN", delta=1).count() == 1
    assert [e.amount for e in refunds_in_books(model.payment_reference)] == [unit]
    events = await gql.data("query($t: ID!) { order(token: $t) { events { kind } } }", {"t": order["token"]})
    kinds = [e["kind"] for e in events["order"]["events"]]
    assert kinds[-4:] == ["RETURN_REQUESTED", "RETURN_APPROVED", "RETURN_RECEIVED", "REFUNDED"]

    # The unit that did not arrive can be asked back; the one refunded cannot.
    assert [e["code"] for e in (await ask(gql, order, 2))["userErrors"]] == ["INVALID_QUANTITY"]
    again = await ask(gql, order, 1)
    assert again["userErrors"] == [] and again["order"]["lines"] == [{"quantityReturned": 2}]


async def test_rejected_then_asked_again_and_never_twice(db, gql, client):
    headers = await staff()
    order, _ = await paid_order(gql, 2)
    # Nothing shipped yet: nothing to send back.
    assert [e["code"] for e in (await ask(gql, order, 1))["userErrors"]] == ["INVALID_TRANSITION"]
    await ship_all(client, order)
    first = (await ask(gql, order, 2))["return"]
    # The same units again: refused, whatever the first return's fate will be.
    twice = await ask(gql, order, 1)
    assert [(e["code"], e["field"]) for e in twice["userErrors"]] == [("INVALID_QUANTITY", ["lines", "0", "quantity"])]
    rejected = await call(client, headers, REJECT, {"id": first["id"], "r": "worn"})
    assert rejected["return"]["status"] == "REJECTED" and rejected["return"]["rejectionReason"] == "worn"
    assert rejected["order"]["lines"] == [{"quantityReturned": 0, "quantityRefunded": 0}]
    for mutation in (APPROVE, REJECT, RECEIVE):
        refused = await call(client, headers, mutation, {"id": first["id"]})
        assert [e["code"] for e in refused["userErrors"]] == ["INVALID_TRANSITION"]
    second = await ask(gql, order, 2)
    assert second["userErrors"] == [] and second["order"]["returns"] == [
        {"status": "REJECTED"},
        {"status": "REQUESTED"},
    ]
    # Received before it was approved: refused.
    early = await call(client, headers, RECEIVE, {"id": second["return"]["id"]})
    assert [e["code"] for e in early["userErrors"]] == ["INVALID_TRANSITION"]
    await call(client, headers, APPROVE, {"id": second["return"]["id"]})
    received = await call(client, headers, RECEIVE, {"id": second["return"]["id"], "s": False})
    assert received["return"]["status"] == "REFUNDED"
    assert received["return"]["refund"]["lines"] == [{"quantity": 2, "restock": False}]
    assert received["order"]["lines"] == [{"quantityReturned": 2, "quantityRefunded": 2}]
    assert [e["code"] for e in (await ask(gql, order, 1))["userErrors"]] == ["INVALID_QUANTITY"]


async def test_bad_requests_change_nothing(db, gql, client):
    order, _ = await paid_order(gql, 1)
    await ship_all(client, order)
    unknown = await gql.data(
        REQUEST, {"t": "no-such-token", "l": [{"orderLineId": order["lines"][0]["id"], "quantity": 1}]}
    )
    assert [e["code"] for e in unknown["returnRequest"]["userErrors"]] == ["NOT_FOUND"]
    other, _ = await paid_order(gql, 1)
    foreign = await gql.data(
        REQUEST, {"t": order["token"], "l": [{"orderLineId": other["lines"][0]["id"], "quantity": 1}]}
    )
    assert [e["code"] for e in foreign["returnRequest"]["userErrors"]] == ["NOT_FOUND"]
    none = await gql.data(REQUEST, {"t": order["token"], "l": []})
    assert [e["code"] for e in none["returnRequest"]["userErrors"]] == ["REQUIRED"]
    long = await ask(gql, order, 1, "x" * 501)
    assert [e["code"] for e in long["userErrors"]] == ["TOO_LONG"]
    assert not await Return.filter(order__token=order["token"]).exists()


async def test_who_may_handle_returns(db, gql, client):
    order, _ = await paid_order(gql, 1)
    await ship_all(client, order)
    ret = (await ask(gql, order, 1))["return"]
    for mutation in (APPROVE, REJECT, RECEIVE):
        anonymous = (await client.post("/graphql", json={"query": mutation, "variables": {"id": ret["id"]}})).json()
        assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        shipper = bearer(await token_for(Permission.MANAGE_SHIPMENTS))
        body = (
            await client.post("/graphql", json={"query": mutation, "variables": {"id": ret["id"]}}, headers=shipper)
        ).json()
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await Return.get(order__token=order["token"])).status == "REQUESTED"
