"""POST /webhooks/payments/{provider}: signed, applied once, and what a failure or PAYMENT_TIMEOUT does."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from gateway.app import create_app
from gateway.jobs import PAYMENTS_EXPIRE, PAYMENTS_EXPIRE_CRON
from gateway.settings import ConfigError, load_settings
from models import Order, OrderEvent, Payment, PaymentEvent, PaymentStatus, Stock
from resolvers import payments
from resolvers.payments_webhooks import next_status
from tests.test_checkout import make_variant, ready_cart
from tests.test_payment_sessions import (
    charges_of,
    complete,
    finish_3ds,
    initialize,
    paid_announcements,
    send_webhook,
    the_test_card,
)

S = PaymentStatus


async def awaiting_order(gql, quantity: int = 2) -> tuple[Order, int]:
    """An order AWAITING_PAYMENT for 3-D Secure, and its variant's central stock row."""
    variant = await make_variant()
    token = await ready_cart(gql, [(variant.sku, quantity)])
    payment = (await initialize(gql, token, "tok_requires_action"))["payment"]
    done = await complete(gql, token, payment["id"])
    assert done["order"]["status"] == "AWAITING_PAYMENT", done
    stock = await Stock.get(variant_id=variant.id, warehouse__code="central")
    assert stock.reserved == quantity
    return await Order.get(token=done["order"]["token"]), stock.id


async def unchanged(order: Order) -> None:
    assert (await Order.get(id=order.id)).status == "AWAITING_PAYMENT"
    payment = await Payment.get(order_id=order.id)
    assert payment.status == S.ACTION_REQUIRED
    assert [e.type for e in await PaymentEvent.filter(payment_id=payment.id).order_by("id")] == [
        "INITIALIZED",
        "ACTION_REQUIRED",
    ]


async def test_a_webhook_without_a_good_signature_changes_nothing(gql, client):
    order, _ = await awaiting_order(gql)
    webhook = await finish_3ds(client, order.token)
    stamp = webhook.headers["Test-Card-Signature"].split(",")[0]
    forged = payments.TestCardPayment(the_test_card().books, "whsec_someone_else_entirely").sign(webhook.body)
    stale = the_test_card().sign(webhook.body, at=int(time.time()) - 301)
    tampered = webhook.body.replace(b'"payment.succeeded"', b'"payment.failed"')
    for body, headers in [
        (webhook.body, {}),
        (webhook.body, {"Test-Card-Signature": "nonsense"}),
        (webhook.body, forged.headers),
        (webhook.body, stale.headers),
        (tampered, webhook.headers),
        (webhook.body, {"Test-Card-Signature": f"{stamp},v1={'0' * 64}"}),
    ]:
        response = await client.post("/webhooks/payments/test-card", content=body, headers=headers)
        assert response.status_code == 401, response.text
        assert "Traceback" not in response.text
    await unchanged(order)
    # The genuine one still applies.
    assert (await send_webhook(client, webhook)).json()["result"] == "applied"


async def test_unknown_providers_malformed_events_and_unknown_payments(gql, client):
    order, _ = await awaiting_order(gql)
    webhook = await finish_3ds(client, order.token)
    assert (await send_webhook(client, webhook, provider="no-such-provider")).status_code == 404
    # manual has no webhooks: nothing is read.
    assert (await send_webhook(client, webhook, provider="manual")).status_code == 401
    for body, reason in [
        (b"not json", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (json.dumps({"id": "evt_1", "type": "payment.succeeded"}).encode(), "`payment`"),
        (
            json.dumps({"id": "evt_1", "type": "x", "payment": "p", "amount": "lots", "currency": "EUR"}).encode(),
            "amount",
        ),
    ]:
        response = await send_webhook(client, the_test_card().sign(body))
        assert response.status_code == 400 and reason in response.json()["error"], response.text
    huge = the_test_card().sign(b" " * (70 * 1024))
    assert (await send_webhook(client, huge)).status_code in (400, 413)
    await unchanged(order)

    nobody = {"id": "evt_x", "type": "payment.succeeded", "payment": "test_nobody", "amount": "1.00", "currency": "EUR"}
    response = await send_webhook(client, the_test_card().sign(json.dumps(nobody).encode()))
    assert (response.status_code, response.json()["result"]) == (200, "ignored")


async def test_a_failed_3d_secure_cancels_the_order_and_releases_its_stock(gql, client):
    order, stock_id = await awaiting_order(gql)
    response = await send_webhook(client, await finish_3ds(client, order.token, succeed=False))
    assert response.json()["result"] == "applied"
    assert (await Order.get(id=order.id)).status == "CANCELLED"
    assert (await Stock.get(id=stock_id)).reserved == 0
    payment = await Payment.get(order_id=order.id)
    assert payment.status == S.DECLINED and charges_of(payment.key) == []
    assert [e.kind for e in await OrderEvent.filter(order_id=order.id).order_by("id")] == ["PLACED", "CANCELLED"]


async def test_a_failure_after_a_success_is_kept_as_an_event_only(gql, client):
    order, stock_id = await awaiting_order(gql)
    succeeded = await finish_3ds(client, order.token)
    failed = await finish_3ds(client, order.token, succeed=False)
    assert (await send_webhook(client, succeeded)).json()["result"] == "applied"
    assert (await send_webhook(client, failed)).json()["result"] == "applied"
    assert (await Order.get(id=order.id)).status == "PAID"
    assert (await Stock.get(id=stock_id)).reserved == 2
    payment = await Payment.get(order_id=order.id)
    assert payment.status == S.CAPTURED and payment.captured == payment.amount
    assert [e.type for e in await PaymentEvent.filter(payment_id=payment.id).order_by("id")] == [
        "INITIALIZED",
        "ACTION_REQUIRED",
        "CAPTURED",
        "DECLINED",
    ]
    assert await OrderEvent.filter(order_id=order.id, kind="PAID").count() == 1
    assert await paid_announcements(order) == (1, 1)


async def test_a_success_before_checkout_complete_is_what_checkout_finds(gql, client):
    """The shopper finished 3-D Secure and the processor's webhook came before checkoutComplete."""
    variant = await make_variant()
    token = await ready_cart(gql, [(variant.sku, 1)])
    opened = (await initialize(gql, token, "tok_requires_action"))["payment"]
    row = await Payment.get(cart_token=token)
    assert row.amount is not None
    webhook = the_test_card().finish_action(row.reference, row.key, row.amount, row.currency)
    assert (await send_webhook(client, webhook)).json()["result"] == "applied"
    assert (await Payment.get(id=row.id)).status == S.CAPTURED

    done = await complete(gql, token, opened["id"])
    assert done["order"]["status"] == "PAID" and done["payment"]["status"] == "CAPTURED"
    assert [e.kind for e in charges_of(row.key)] == ["CHARGE"]
    assert [e.type for e in await PaymentEvent.filter(payment_id=row.id).order_by("id")] == ["INITIALIZED", "CAPTURED"]


async def test_the_timeout_cancels_the_order_and_gives_the_charge_back(gql, client, app):
    order, stock_id = await awaiting_order(gql)
    payment = await Payment.get(order_id=order.id)
    assert payment.amount is not None
    # The processor charged, and its webhook never arrived.
    late = the_test_card().finish_action(payment.reference, payment.key, payment.amount, payment.currency)
    assert [e.kind for e in charges_of(payment.key)] == ["CHARGE"]
    await Payment.filter(id=payment.id).update(expires_at=datetime.now(UTC) - timedelta(seconds=1))

    jobs = app.state.jobs.app
    assert jobs.tasks[PAYMENTS_EXPIRE].name == PAYMENTS_EXPIRE and PAYMENTS_EXPIRE_CRON == "* * * * *"
    await jobs.tasks[PAYMENTS_EXPIRE](timestamp=0)

    assert (await Order.get(id=order.id)).status == "CANCELLED"
    assert (await Stock.get(id=stock_id)).reserved == 0
    after = await Payment.get(id=payment.id)
    assert after.status == S.CANCELLED and after.order_id == order.id
    assert [(e.kind, e.amount) for e in charges_of(payment.key)] == [
        ("CHARGE", payment.amount),
        ("REFUND", payment.amount),
    ]
    events = [e.type for e in await PaymentEvent.filter(payment_id=payment.id).order_by("id")]
    assert events == ["INITIALIZED", "ACTION_REQUIRED", "EXPIRED", "REFUNDED", "CANCELLED"]

    # The webhook arrives after all: the order stays cancelled, nothing is held, nothing is paid.
    assert (await send_webhook(client, late)).json()["result"] == "applied"
    assert (await Order.get(id=order.id)).status == "CANCELLED"
    assert (await Payment.get(id=payment.id)).status == S.CANCELLED
    assert the_test_card().books.held().get(after.reference) is None
    assert not await OrderEvent.filter(order_id=order.id, kind="PAID").exists()
    # Another run finds nothing.
    await jobs.tasks[PAYMENTS_EXPIRE](timestamp=0)
    assert [e.kind for e in charges_of(payment.key)] == ["CHARGE", "REFUND"]


async def test_a_success_for_a_timed_out_order_is_given_back(gql, client):
    order, _ = await awaiting_order(gql)
    payment = await Payment.get(order_id=order.id)
    await Payment.filter(id=payment.id).update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    from resolvers import payments_webhooks

    assert await payments_webhooks.expire() == 1
    assert charges_of(payment.key) == []  # nothing was held: nothing to give back
    # Then the shopper finishes 3-D Secure: the processor charges, and the gateway gives it back.
    assert payment.amount is not None
    webhook = the_test_card().finish_action(payment.reference, payment.key, payment.amount, payment.currency)
    assert (await send_webhook(client, webhook)).json()["result"] == "applied"
    assert [e.kind for e in charges_of(payment.key)] == ["CHARGE", "REFUND"]
    after = await Payment.get(id=payment.id)
    assert (after.status, after.captured, after.refunded) == (S.CANCELLED, payment.amount, payment.amount)
    assert (await Order.get(id=order.id)).status == "CANCELLED"


@pytest.mark.parametrize(
    ("current", "reported", "becomes"),
    [
        (S.PENDING, S.CAPTURED, S.CAPTURED),
        (S.ACTION_REQUIRED, S.CAPTURED, S.CAPTURED),
        (S.AUTHORIZED, S.CAPTURED, S.CAPTURED),
        (S.CAPTURED, S.CAPTURED, None),
        (S.CAPTURED, S.DECLINED, None),
        (S.CAPTURED, S.CANCELLED, None),
        (S.CAPTURED, S.ACTION_REQUIRED, None),
        (S.ACTION_REQUIRED, S.DECLINED, S.DECLINED),
        (S.AUTHORIZED, S.CANCELLED, S.CANCELLED),
        (S.PENDING, S.ACTION_REQUIRED, S.ACTION_REQUIRED),
        (S.ACTION_REQUIRED, S.AUTHORIZED, S.AUTHORIZED),
        (S.AUTHORIZED, S.AUTHORIZED, None),
        (S.DECLINED, S.DECLINED, None),
        (S.CANCELLED, S.CAPTURED, S.CAPTURED),  # money after the end: given back (see above)
    ],
)
def test_the_precedence_of_what_providers_report(current, reported, becomes):
    assert next_status(current, reported) == becomes


def test_the_test_cards_signature_is_stripes_scheme():
    card = payments.TestCardPayment(the_test_card().books, "whsec_for_this_test_only")
    signed = card.sign(b'{"a": 1}', at=1_700_000_000)
    import hashlib
    import hmac

    expected = hmac.new(b"whsec_for_this_test_only", b'1700000000.{"a": 1}', hashlib.sha256).hexdigest()
    assert signed.headers["Test-Card-Signature"] == f"t=1700000000,v1={expected}"
    body = json.dumps(
        {"id": "evt_1", "type": "payment.failed", "payment": "test_1", "amount": "12.30", "currency": "EUR"}
    ).encode()
    event = card.parse_webhook(body, card.sign(body).headers)
    assert (event.event_id, event.reference, event.status, event.amount) == (
        "evt_1",
        "test_1",
        S.DECLINED,
        Decimal("12.30"),
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PAYMENT_TIMEOUT", "59"),
        ("PAYMENT_TIMEOUT", "soon"),
        ("TEST_CARD_WEBHOOK_SECRET", "short"),
        ("TEST_CARD_WEBHOOK_SECRET", "sixteen chars\x00and a NUL"),
    ],
)
def test_payment_settings_are_checked_at_start_up(variable, value):
    with pytest.raises(ConfigError, match=variable):
        load_settings({variable: value})


def test_payment_settings_reach_the_app(tmp_path):
    secret = "whsec_" + "s" * 20
    create_app(
        load_settings(
            {"PAYMENT_TIMEOUT": "120", "TEST_CARD_WEBHOOK_SECRET": secret, "TEST_CARD_LEDGER": str(tmp_path / "l")}
        )
    )
    try:
        assert payments.timeout() == timedelta(seconds=120)
        assert the_test_card().webhook_secret == secret
    finally:
        payments.set_timeout(timedelta(seconds=1800))
