"""No card charged without an order, even when the process is killed between the charge and the
order's commit: the payment recorded before the charge, and recovery giving it back."""

from __future__ import annotations

import asyncio
import contextvars
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from gateway.periodic import every
from models import Order, Payment, PaymentStatus
from resolvers import card_books, payments
from tests import payment_books
from tests.test_checkout import CHECKOUT, PAID, make_variant, ready_cart
from tests.test_checkout_payments import DelegatingCard, card_ledger, entries_since

S = PaymentStatus
NOW = timedelta(0)  # recover every unsettled payment, however young: no checkout is running in these tests


class WorkerKilled(Exception):
    """Stands for SIGKILL: raised where the process would die, with nothing run after it."""


@pytest.fixture
def killed_after_the_charge(monkeypatch):
    """The worker dies after the provider charged the card and before the order committed: the
    order's transaction never commits and the request never settles its payment."""

    async def killed(*args: object) -> None:
        raise WorkerKilled

    async def never_settled(*args: object) -> None:
        return None

    monkeypatch.setattr(payments, "mark_ordered", killed)
    monkeypatch.setattr(payments, "settle_unordered", never_settled)


def _books_for(key: str) -> list[card_books.Entry]:
    charge = next(e for e in card_ledger().entries() if e.kind == "CHARGE" and e.key == key)
    return [e for e in card_ledger().entries() if e.reference == charge.reference]


async def test_a_charge_left_by_a_killed_worker_is_given_back_by_recovery(
    gql, db, killed_after_the_charge, monkeypatch
):
    variant = await make_variant()
    token = await ready_cart(gql, [(variant.sku, 2)])
    before = card_ledger().entries()

    body = await gql.post(CHECKOUT, {"t": token, "p": PAID})
    assert body["errors"] and "Traceback" not in str(body)

    # What the dead worker left: a charge the processor holds, no order, the payment PENDING.
    attempt = await Payment.get(cart_token=token)
    assert attempt.status == S.PENDING and attempt.order_id is None
    made = await entries_since(before, token)
    assert len(made) == 1, made  # what else the books got, should it ever be more
    [charge] = made
    assert (charge.kind, charge.key) == ("CHARGE", attempt.key) and charge.reference in card_ledger().held()
    assert not await Order.filter(cart__token=token).exists()

    monkeypatch.undo()
    assert await payments.recover(timedelta(minutes=2)) == 0  # younger than the bound: it may still be running
    assert await payments.recover(NOW) == 1
    attempt = await Payment.get(id=attempt.id)
    assert (attempt.status, attempt.reference, attempt.amount) == (S.CANCELLED, charge.reference, charge.amount)
    assert [e.kind for e in _books_for(attempt.key)] == ["CHARGE", "REFUND"]
    assert charge.reference not in card_ledger().held()

    # Run again: nothing left to give back, and the books do not move.
    assert await payments.recover(NOW) == 0
    assert [e.kind for e in _books_for(attempt.key)] == ["CHARGE", "REFUND"]
    # The cart was never completed: it checks out.
    retried = (await gql.data(CHECKOUT, {"t": token, "p": PAID}))["checkoutComplete"]
    assert retried["userErrors"] == [] and retried["order"]["status"] == "PAID"


async def test_the_same_key_charges_once_and_recoveries_at_once_give_back_once(db):
    card = payments.provider("test-card")
    assert card is not None
    attempt = await payments.start("test-card", "a-cart-token", "tok_visa", NOW)
    opened = await card.initialize(Decimal("12.50"), "EUR", attempt.key, "", "tok_visa")
    await Payment.filter(id=attempt.id).update(reference=opened.reference)
    first = await card.confirm(opened.reference, Decimal("12.50"), "EUR", attempt.key, "tok_visa")
    # A retry after a lost answer.
    again = await card.confirm(opened.reference, Decimal("12.50"), "EUR", attempt.key, "tok_visa")
    assert first.status == again.status == S.CAPTURED and first.reference == again.reference

    await asyncio.gather(payments.recover(NOW), payments.recover(NOW), payments.recover(NOW))

    books = _books_for(attempt.key)
    assert [(e.kind, e.amount) for e in books] == [("CHARGE", Decimal("12.50")), ("REFUND", Decimal("12.50"))]
    assert (await Payment.get(id=attempt.id)).status == S.CANCELLED


async def test_an_ordered_payment_is_never_touched(gql, db):
    variant = await make_variant()
    token = await ready_cart(gql, [(variant.sku, 1)])
    order = (await gql.data(CHECKOUT, {"t": token, "p": PAID}))["checkoutComplete"]["order"]
    attempt = await Payment.get(cart_token=token)
    assert attempt.status == S.CAPTURED and attempt.order_id is not None and attempt.expires_at is None
    long_ago = datetime.now(UTC) - timedelta(days=1)
    await Payment.filter(id=attempt.id).update(updated_at=long_ago, expires_at=long_ago)

    await payments.recover(NOW)

    after = await Payment.get(id=attempt.id)
    assert (after.status, after.order_id, after.reference) == (S.CAPTURED, attempt.order_id, attempt.reference)
    assert [e.kind for e in _books_for(attempt.key)] == ["CHARGE"]
    placed = await Order.get(token=order["token"])
    assert placed.payment_reference == attempt.reference and placed.payment_reference in card_ledger().held()


async def test_declined_and_refused_checkouts_leave_their_payments_settled(gql, db):
    variant = await make_variant()
    declined = await ready_cart(gql, [(variant.sku, 1)])
    refused = await ready_cart(gql, [(variant.sku, 1)], email=False)
    await gql.data(CHECKOUT, {"t": declined, "p": {"provider": "test-card", "token": "tok_decline"}})
    await gql.data(CHECKOUT, {"t": refused, "p": PAID})
    assert (await Payment.get(cart_token=declined)).status == S.DECLINED
    assert (await Payment.get(cart_token=refused)).status == S.CANCELLED
    assert not await Payment.filter(cart_token__in=[declined, refused], status=S.PENDING).exists()


class RecoveredMidCheckout(DelegatingCard):
    """A processor so slow that recovery, in another task, claims the payment after the charge and
    before the checkout gives it its order."""

    name = "slow-card"

    async def confirm(
        self, reference: str, amount: Decimal, currency: str, key: str, token: str | None
    ) -> payments.ProviderPayment:
        answer = await self.card.confirm(reference, amount, currency, key, token)
        # Outside the checkout's transaction, as another process would be.
        await asyncio.create_task(payments.recover(NOW), context=contextvars.Context())
        return answer


async def test_a_checkout_outlived_by_recovery_places_no_order(gql, db, monkeypatch):
    if db.name != "postgres":
        pytest.skip("SQLite serializes every transaction: another process's recovery cannot run mid-checkout")
    card = payments.provider("test-card")
    assert card is not None
    monkeypatch.setitem(payments.PROVIDERS, RecoveredMidCheckout.name, RecoveredMidCheckout(card))
    variant = await make_variant()
    token = await ready_cart(gql, [(variant.sku, 1)])

    result = await gql.data(CHECKOUT, {"t": token, "p": {"provider": RecoveredMidCheckout.name, "token": "tok_visa"}})
    payload = result["checkoutComplete"]
    assert payload["order"] is None and [e["code"] for e in payload["userErrors"]] == ["PAYMENT_DECLINED"]
    assert not await Order.filter(cart__token=token).exists()
    attempt = await Payment.get(cart_token=token)
    assert attempt.status == S.CANCELLED
    assert [e.kind for e in _books_for(attempt.key)] == ["CHARGE", "REFUND"]


async def test_the_drills_see_a_charge_no_order_holds(gql, db, tmp_path, monkeypatch):
    if db.name != "postgres":
        pytest.skip("the drills run on PostgreSQL, and the helper reads it with asyncpg")
    # Books of this test's own: other tests' charges belong to orders of other databases.
    books = tmp_path / "test-card-ledger.jsonl"
    monkeypatch.setitem(payments.PROVIDERS, "test-card", payments.TestCardPayment(card_books.CardBooks(books)))
    variant = await make_variant()
    placed = await ready_cart(gql, [(variant.sku, 1)])
    lost = await ready_cart(gql, [(variant.sku, 1)])
    assert (await gql.data(CHECKOUT, {"t": placed, "p": PAID}))["checkoutComplete"]["order"]
    await payments.recover(NOW)  # whatever earlier tests left unsettled
    assert await payment_books.unsettled_charges(db.url, books) == []
    with pytest.MonkeyPatch.context() as killed:
        killed.setattr(payments, "mark_ordered", _die)
        killed.setattr(payments, "settle_unordered", _never)
        assert (await gql.post(CHECKOUT, {"t": lost, "p": PAID}))["errors"]

    key = (await Payment.get(cart_token=lost)).key
    found = await payment_books.unsettled_charges(db.url, books)
    assert len(found) == 1 and f"payment {key}: PENDING" in found[0], found
    # The command the drills run: the gateway's recovery, from another process.
    assert await payment_books.recover_payments(db.url, books) == "1 payments without an order given back"
    assert await payment_books.unsettled_charges(db.url, books) == []
    assert (await Payment.get(cart_token=lost)).status == S.CANCELLED


async def _die(*args: object) -> None:
    raise WorkerKilled


async def _never(*args: object) -> None:
    return None


def test_two_processes_books_agree_on_keys(tmp_path):
    path = tmp_path / "books.jsonl"
    one, other = card_books.CardBooks(path), card_books.CardBooks(path)
    charge = one.charge("k1", Decimal("5.00"), "EUR")
    assert other.charge("k1", Decimal("5.00"), "EUR") == charge  # the other process sees the key
    assert other.give_back("k1") == card_books.Entry("REFUND", charge.reference, Decimal("5.00"), "EUR", "k1")
    assert one.give_back("k1") is None and other.give_back("never-charged") is None
    assert [e.kind for e in card_books.read(path)] == ["CHARGE", "REFUND"]
    assert card_books.held(card_books.read(path)) == {}


async def test_a_periodic_job_runs_at_once_and_outlives_its_failures():
    runs: list[int] = []
    done = asyncio.Event()

    async def job() -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            raise ConnectionError("the database is away")
        done.set()

    task = asyncio.create_task(every(0, job, "test job"))
    await done.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert runs[:2] == [0, 1]
