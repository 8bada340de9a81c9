"""The periodic prunings: abandoned guest carts, expired refresh tokens and old webhook delivery
logs each go, and nothing else does (the boundaries: a cart changed just inside CART_TTL_DAYS, a
customer's cart, a checked-out cart, a cart being paid for; a used refresh token not yet expired,
which still detects its reuse; a pending or redelivered webhook delivery). Run through the jobs,
they are logged and counted in /metrics, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gateway.jobs import CARTS_PRUNE, REFRESH_TOKENS_PRUNE, WEBHOOK_LOGS_PRUNE
from models import (
    Cart,
    CartLine,
    Payment,
    RefreshToken,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from resolvers import accounts, batches, webhooks_out
from resolvers import cart as carts
from resolvers.errors import DomainError
from tests.cache_client import gateway
from tests.conftest import GraphQLClient
from tests.staff import SECRET, bearer, token_for
from tests.test_checkout import CHECKOUT, PAID, make_variant, ready_cart
from tests.test_metrics import samples

TTL = timedelta(days=30)  # CART_TTL_DAYS and WEBHOOK_LOG_RETENTION_DAYS by default
CART = "query($t: ID!) { cart(token: $t) { token lines { quantity } } }"
PASSWORD = "long enough password"


async def _age(token: str, age: timedelta) -> None:
    """The cart as if last changed `age` ago."""
    assert await Cart.filter(token=token).update(updated_at=datetime.now(UTC) - age) == 1


async def _scrape(client: Any) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200
    return str(response.text)


async def test_batches_stop_when_one_comes_up_short_or_after_the_last_round():
    calls: list[int] = []

    async def batch(size: int) -> int:
        calls.append(size)
        return [3, 3, 1, 3][len(calls) - 1]

    assert await batches.delete_in_batches(batch, size=3) == 7
    assert calls == [3, 3, 3]

    async def full(size: int) -> int:
        return size

    assert await batches.delete_in_batches(full, size=5, rounds=4) == 20  # the next run goes on


async def test_abandoned_guest_carts_go_and_every_other_cart_stays(db, tmp_path, caplog):
    async with gateway(db, TEST_CARD_LEDGER=str(tmp_path / "ledger.jsonl")) as (client, app):
        gql = GraphQLClient(client)
        sku = (await make_variant()).sku
        abandoned = await ready_cart(gql, [(sku, 2)], address=False, method=False)
        inside = await ready_cart(gql, [(sku, 1)], address=False, method=False)
        customer = bearer(await token_for(staff=False))
        customers = await ready_cart(gql, [(sku, 1)], address=False, method=False, headers=customer)
        checked_out = await ready_cart(gql, [(sku, 1)])
        assert (await gql.data(CHECKOUT, {"t": checked_out, "p": PAID}))["checkoutComplete"]["order"]
        # A checkout has recorded its payment and is about to lock this cart.
        paying = await ready_cart(gql, [(sku, 1)], address=False, method=False)
        attempt = await Payment.create(key=uuid.uuid4().hex, provider="test-card", cart_token=paying)
        for token in (abandoned, customers, checked_out, paying):
            await _age(token, TTL + timedelta(hours=1))
        await _age(inside, TTL - timedelta(minutes=1))
        abandoned_id = (await Cart.get(token=abandoned)).id
        assert await CartLine.filter(cart_id=abandoned_id).count() == 1

        caplog.set_level(logging.INFO, logger="gateway.jobs")
        await app.state.jobs.app.tasks[CARTS_PRUNE](timestamp=0)

        assert (await gql.data(CART, {"t": abandoned}))["cart"] is None
        assert not await CartLine.filter(cart_id=abandoned_id).exists()
        for kept in (inside, customers, checked_out, paying):
            assert (await gql.data(CART, {"t": kept}))["cart"]["token"] == kept
        assert "housekeeping: removed 1 abandoned guest carts" in caplog.messages
        assert ({"what": "carts"}, 1.0) in samples(await _scrape(client), "gateway_housekeeping_removed_total")

        # Its payment settled without an order: now the cart is abandoned like any other.
        await Payment.filter(id=attempt.id).update(status="DECLINED")
        assert await carts.remove_abandoned(TTL) == 1
        assert (await gql.data(CART, {"t": paying}))["cart"] is None
        await Payment.filter(id=attempt.id).delete()
        await Cart.filter(token__in=(inside, customers)).delete()


async def test_a_change_to_a_line_keeps_an_old_cart(db):
    async with gateway(db) as (client, _):
        gql = GraphQLClient(client)
        token = await ready_cart(gql, [((await make_variant()).sku, 2)], address=False, method=False)
        await _age(token, TTL + timedelta(hours=1))
        line = (await gql.data("query($t: ID!) { cart(token: $t) { lines { id } } }", {"t": token}))["cart"]["lines"][0]
        update = """mutation($t: ID!, $l: [CartLineUpdateInput!]!) { cartLinesUpdate(cartToken: $t, lines: $l) {
          userErrors { code } } }"""
        variables = {"t": token, "l": [{"lineId": line["id"], "quantity": 1}]}
        assert (await gql.data(update, variables))["cartLinesUpdate"]["userErrors"] == []
        assert await carts.remove_abandoned(TTL) == 0
        assert (await gql.data(CART, {"t": token}))["cart"]["lines"] == [{"quantity": 1}]
        await Cart.filter(token=token).delete()


async def test_many_abandoned_carts_go_a_batch_at_a_time(db):
    made = [await Cart.create(token=uuid.uuid4().hex, currency="EUR") for _ in range(5)]
    await Cart.filter(id__in=[cart.id for cart in made]).update(updated_at=datetime.now(UTC) - TTL - timedelta(days=1))
    assert await carts.remove_abandoned(TTL, size=2) == 5
    assert not await Cart.filter(id__in=[cart.id for cart in made]).exists()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def test_refresh_tokens_go_once_expired_and_a_used_one_still_detects_its_reuse(db):
    email = f"prune.{uuid.uuid4().hex[:10]}@example.com"
    await accounts.register_customer(email, PASSWORD)
    used = await accounts.sign_in(email, PASSWORD, SECRET)
    current = await accounts.refresh(used.refresh_token, SECRET)  # `used` is revoked by the rotation
    expired = await accounts.sign_in(email, PASSWORD, SECRET)
    expired_used = await accounts.sign_in(email, PASSWORD, SECRET)
    expired_current = await accounts.refresh(expired_used.refresh_token, SECRET)
    now = datetime.now(UTC)
    gone = [_digest(pair.refresh_token) for pair in (expired, expired_used, expired_current)]
    await RefreshToken.filter(token_hash__in=gone).update(expires_at=now - timedelta(seconds=1))
    await RefreshToken.filter(token_hash=_digest(current.refresh_token)).update(expires_at=now + timedelta(minutes=1))

    with_ours_removed = await accounts.prune_refresh_tokens()
    assert with_ours_removed >= 3  # others' expired tokens too, if earlier tests left any
    assert not await RefreshToken.filter(token_hash__in=gone).exists()
    assert not await RefreshToken.filter(expires_at__lte=now).exists()
    kept = {_digest(used.refresh_token), _digest(current.refresh_token)}
    assert {token.token_hash for token in await RefreshToken.filter(token_hash__in=kept)} == kept
    assert await accounts.prune_refresh_tokens() == 0

    # The used token, kept until it expires, still revokes its family when it comes back.
    with pytest.raises(DomainError):
        await accounts.refresh(used.refresh_token, SECRET, accounts.TokenRules(refresh_grace=timedelta(0)))
    with pytest.raises(DomainError):
        await accounts.refresh(current.refresh_token, SECRET)


async def _delivery(subscription: WebhookSubscription, status: str, created: datetime, *attempts: datetime) -> int:
    delivery = await WebhookDelivery.create(
        subscription=subscription, event_id=uuid.uuid4(), event_type="ORDER_PAID", payload={}, status=status
    )
    await WebhookDelivery.filter(id=delivery.id).update(created_at=created)
    for at in attempts:
        attempt = await WebhookAttempt.create(delivery_id=delivery.id, status_code=200)
        await WebhookAttempt.filter(id=attempt.id).update(created_at=at)
    return delivery.id


async def test_webhook_deliveries_finished_before_the_retention_go_with_their_attempts(db):
    async with gateway(db) as (client, app):
        subscription = await WebhookSubscription.create(
            url="https://example.com/hook", events=["ORDER_PAID"], secret=webhooks_out.generate_secret()
        )
        now = datetime.now(UTC)
        old, recent = now - TTL - timedelta(hours=1), now - TTL + timedelta(minutes=1)
        succeeded = await _delivery(subscription, "SUCCEEDED", old, old)
        failed = await _delivery(subscription, "FAILED", old, old, old)
        pending = await _delivery(subscription, "PENDING", old, old)  # its job may still be trying
        redelivered = await _delivery(subscription, "SUCCEEDED", old, old, recent)
        finished_recently = await _delivery(subscription, "FAILED", recent, recent)

        await app.state.jobs.app.tasks[WEBHOOK_LOGS_PRUNE](timestamp=0)

        left = {delivery.id for delivery in await WebhookDelivery.filter(subscription_id=subscription.id)}
        assert left == {pending, redelivered, finished_recently}
        assert not await WebhookAttempt.filter(delivery_id__in=(succeeded, failed)).exists()
        assert await WebhookAttempt.filter(delivery_id=redelivered).count() == 2
        assert ({"what": "webhook_logs"}, 2.0) in samples(await _scrape(client), "gateway_housekeeping_removed_total")
        await subscription.delete()


async def test_the_refresh_token_pruning_runs_as_a_job_and_is_counted(db):
    async with gateway(db) as (client, app):
        email = f"prune.{uuid.uuid4().hex[:10]}@example.com"
        await accounts.register_customer(email, PASSWORD)
        pair = await accounts.sign_in(email, PASSWORD, SECRET)
        await RefreshToken.filter(token_hash=_digest(pair.refresh_token)).update(
            expires_at=datetime.now(UTC) - timedelta(seconds=1)
        )
        await app.state.jobs.app.tasks[REFRESH_TOKENS_PRUNE](timestamp=0)
        assert not await RefreshToken.filter(token_hash=_digest(pair.refresh_token)).exists()
        found = dict(
            (labels["what"], value)
            for labels, value in samples(await _scrape(client), "gateway_housekeeping_removed_total")
        )
        assert found["refresh_tokens"] >= 1
