"""Payment providers behind one small interface (initialize, confirm, capture, refund, give back,
read a webhook), as Vendure has it, and the payments that make every charge traceable.

Built in: `manual` (the order is placed unpaid; staff mark it paid) and `test-card` (token
`tok_decline` is declined, `tok_requires_action` waits for the shopper as 3-D Secure does until
the processor's signed webhook says how it ended, any other token is approved and captured at
once). The test-card
provider stands in for a card processor, so it keeps the processor's side of the books outside the
gateway (`resolvers/card_books.py`), which is how anyone checks that no card was charged without
an order.

Every charge is made under the idempotency key of a `Payment` recorded before money moves
(`start`). The checkout gives the payment its order in the order's transaction; one that ends
without an order is given back in the same request. What a killed process leaves behind (a
payment no order holds past its `expires_at`) `recover()` gives back later, from any process:
providers give back by reference or key.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Protocol

from tortoise.expressions import Q

from models import Order, Payment, PaymentEvent, PaymentStatus
from resolvers.card_books import DEFAULT_PATH, CardBooks
from resolvers.errors import DomainError, ErrorCode

log = logging.getLogger("gateway.payments")
S = PaymentStatus


@dataclass(frozen=True)
class ProviderPayment:
    """What a provider says of a payment, after it was asked to do something with it."""

    status: PaymentStatus  # PENDING, ACTION_REQUIRED, AUTHORIZED, CAPTURED, DECLINED or CANCELLED
    reference: str  # the provider's id of the payment (a Stripe PaymentIntent's)
    amount: Decimal = Decimal(0)  # what it holds (AUTHORIZED) or took (CAPTURED)
    client_secret: str = ""  # what the shopper's browser needs to finish it with the provider
    redirect_url: str = ""  # where to send the shopper when ACTION_REQUIRED, if anywhere
    message: str = ""  # why, when DECLINED or CANCELLED


@dataclass(frozen=True)
class ProviderRefund:
    approved: bool
    reference: str = ""  # the provider's id of the refund
    message: str = ""


@dataclass(frozen=True)
class ProviderEvent:
    """A provider's webhook, as the gateway needs it: which payment, and what it became."""

    event_id: str  # the provider's id of the event: each is applied once
    type: str  # the provider's own name for it (payment_intent.succeeded), kept in the payment's events
    reference: str  # the payment it is about (`Payment.reference`)
    status: PaymentStatus | None  # what the payment became; None: nothing the gateway acts on
    amount: Decimal = Decimal(0)
    currency: str = ""


class WebhookRejected(Exception):
    """The webhook's signature is missing or wrong: answered 401, nothing read further."""


@dataclass(frozen=True)
class GivenBack:
    """What a provider gave back for a payment: the charge's reference and the amount (0: it held nothing)."""

    reference: str = ""
    amount: Decimal = Decimal(0)
    currency: str = ""


class PaymentProvider(Protocol):
    """A payment provider, as Vendure has it: a small interface, one class per provider.

    Every call that can move money is made under the payment's idempotency `key`: the same key
    never charges or refunds twice. Amounts are Decimals in the currency's major unit (a
    provider that counts minor units converts at its edge, `currencies.to_minor`).
    """

    name: str

    async def initialize(
        self, amount: Decimal, currency: str, key: str, return_url: str, token: str | None
    ) -> ProviderPayment:
        """Open the payment with the provider (a Stripe PaymentIntent): nothing is charged yet.
        `token`, when given, is the payment method to charge at `confirm`."""
        ...

    async def confirm(
        self, reference: str, amount: Decimal, currency: str, key: str, token: str | None
    ) -> ProviderPayment:
        """At checkoutComplete: charge or authorize now if the provider can without the shopper,
        or say where the payment stands (ACTION_REQUIRED, PENDING, …) if it cannot."""
        ...

    async def capture(self, reference: str, amount: Decimal, currency: str, key: str) -> ProviderPayment:
        """Take `amount` of what an AUTHORIZED payment holds."""
        ...

    async def refund(self, reference: str, amount: Decimal, currency: str, key: str) -> ProviderRefund:
        """Give `amount` of a CAPTURED payment back, once per `key`."""
        ...

    async def give_back(self, reference: str, key: str) -> GivenBack:
        """Void or refund whatever the provider still holds of the payment (nothing, when it never
        charged or gave it back already): safe to call any number of times."""
        ...

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> ProviderEvent:
        """The event a webhook carries, its signature checked first (`WebhookRejected` when it
        fails); ValueError when the body is not an event."""
        ...


class ManualPayment:
    """The order is placed unpaid; staff mark it paid once the money arrived outside the gateway."""

    name = "manual"

    async def initialize(
        self, amount: Decimal, currency: str, key: str, return_url: str, token: str | None
    ) -> ProviderPayment:
        return ProviderPayment(PaymentStatus.PENDING, f"manual_{secrets.token_hex(8)}")

    async def confirm(
        self, reference: str, amount: Decimal, currency: str, key: str, token: str | None
    ) -> ProviderPayment:
        # Promised, not collected: the order is PLACED, as a card authorized for a later capture.
        return ProviderPayment(PaymentStatus.AUTHORIZED, reference, amount)

    async def capture(self, reference: str, amount: Decimal, currency: str, key: str) -> ProviderPayment:
        # Money arrived outside the gateway (bank transfer, cash); staff confirm it by marking paid.
        return ProviderPayment(PaymentStatus.CAPTURED, reference, amount)

    async def refund(self, reference: str, amount: Decimal, currency: str, key: str) -> ProviderRefund:
        return ProviderRefund(approved=True, reference=f"{reference}_refund_{key[:8]}", message="refund recorded")

    async def give_back(self, reference: str, key: str) -> GivenBack:
        return GivenBack()  # nothing is collected before staff mark the order paid

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> ProviderEvent:
        raise WebhookRejected("manual payments have no webhooks")


# Signs the test card's webhooks unless TEST_CARD_WEBHOOK_SECRET says otherwise (gateway/settings.py).
DEVELOPMENT_WEBHOOK_SECRET = "whsec_test_card_development_only"
SIGNATURE_HEADER = "Test-Card-Signature"
WEBHOOK_TOLERANCE = 300  # seconds: a signed webhook older than this is refused (a replay)
SUCCEEDED, FAILED = "payment.succeeded", "payment.failed"


@dataclass(frozen=True)
class SignedWebhook:
    """A webhook as a processor sends it: the exact body bytes and the headers that sign them."""

    body: bytes
    headers: dict[str, str]


class TestCardPayment:
    """A card processor for development and tests: `tok_decline` is declined, `tok_requires_action`
    needs the shopper (3-D Secure) and ends with a signed webhook (`finish_action`), any other token
    is charged at once, under the payment's key, in books outside the gateway (`card_books.py`)."""

    name = "test-card"
    DECLINED = "tok_decline"
    REQUIRES_ACTION = "tok_requires_action"

    def __init__(self, books: CardBooks, webhook_secret: str = DEVELOPMENT_WEBHOOK_SECRET) -> None:
        self.books = books
        self.webhook_secret = webhook_secret

    def _client_secret(self, reference: str) -> str:
        # The same for a reference whoever asks (initialize, then confirm), as a processor keeps it.
        mac = hmac.new(self.webhook_secret.encode(), reference.encode(), hashlib.sha256).hexdigest()
        return f"{reference}_secret_{mac[:16]}"

    async def initialize(
        self, amount: Decimal, currency: str, key: str, return_url: str, token: str | None
    ) -> ProviderPayment:
        reference = f"test_{secrets.token_hex(8)}"
        return ProviderPayment(PaymentStatus.PENDING, reference, client_secret=self._client_secret(reference))

    # The books are a file: written from a thread, as a processor is called over the network.
    async def confirm(
        self, reference: str, amount: Decimal, currency: str, key: str, token: str | None
    ) -> ProviderPayment:
        # Charged already under this key (the shopper finished 3-D Secure before checkoutComplete).
        charged = await asyncio.to_thread(self.books.charged, key)
        if charged is not None:
            return ProviderPayment(PaymentStatus.CAPTURED, charged.reference, charged.amount)
        if token == self.DECLINED:
            return ProviderPayment(PaymentStatus.DECLINED, reference, message="The card was declined.")
        if token == self.REQUIRES_ACTION:
            # No page of its own to send the shopper to: the client finishes it with the secret
            # (in development: `python -m gateway test-card-webhook REFERENCE`).
            return ProviderPayment(
                PaymentStatus.ACTION_REQUIRED, reference, client_secret=self._client_secret(reference)
            )
        charge = await asyncio.to_thread(self.books.charge, key, amount, currency, reference)
        return ProviderPayment(PaymentStatus.CAPTURED, charge.reference, charge.amount)

    async def capture(self, reference: str, amount: Decimal, currency: str, key: str) -> ProviderPayment:
        return ProviderPayment(PaymentStatus.CAPTURED, reference, amount)  # captured when confirmed

    async def refund(self, reference: str, amount: Decimal, currency: str, key: str) -> ProviderRefund:
        entry = await asyncio.to_thread(self.books.refund, key, reference, amount, currency)
        return ProviderRefund(approved=True, reference=entry.reference, message="refunded")

    async def give_back(self, reference: str, key: str) -> GivenBack:
        refund = await asyncio.to_thread(self.books.give_back, key)
        return GivenBack() if refund is None else GivenBack(refund.reference, refund.amount, refund.currency)

    def finish_action(
        self, reference: str, key: str, amount: Decimal, currency: str, succeed: bool = True
    ) -> SignedWebhook:
        """The processor's side of 3-D Secure ending: on success the card is charged under `key`
        (once, however often this is called), then the webhook it sends, signed (`sign`)."""
        if succeed:
            charge = self.books.charge(key, amount, currency, reference)
            reference, amount = charge.reference, charge.amount
        event = {
            "id": f"evt_{secrets.token_hex(12)}",
            "type": SUCCEEDED if succeed else FAILED,
            "payment": reference,
            "amount": f"{amount:.2f}",
            "currency": currency,
        }
        return self.sign(json.dumps(event).encode())

    def sign(self, body: bytes, at: int | None = None) -> SignedWebhook:
        """Signed as Stripe signs: `t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`."""
        stamp = int(time.time()) if at is None else at
        mac = hmac.new(self.webhook_secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
        return SignedWebhook(body, {SIGNATURE_HEADER: f"t={stamp},v1={mac}", "Content-Type": "application/json"})

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> ProviderEvent:
        self._check_signature(body, headers.get(SIGNATURE_HEADER.lower()) or headers.get(SIGNATURE_HEADER) or "")
        try:
            event = json.loads(body)
        except (ValueError, RecursionError):
            raise ValueError("the body is not JSON") from None
        if not isinstance(event, dict):
            raise ValueError("the body must be a JSON object")
        texts = {name: event.get(name) for name in ("id", "type", "payment", "amount", "currency")}
        for name, value in texts.items():
            if not isinstance(value, str) or not value or len(value) > 255 or "\x00" in value:
                raise ValueError(f"`{name}` must be a non-empty string of at most 255 characters")
        try:
            amount = Decimal(str(texts["amount"]))
        except ArithmeticError:
            raise ValueError("`amount` must be a decimal such as 12.30") from None
        if not amount.is_finite() or amount < 0:
            raise ValueError("`amount` must be a decimal such as 12.30")
        status = {SUCCEEDED: PaymentStatus.CAPTURED, FAILED: PaymentStatus.DECLINED}.get(str(texts["type"]))
        return ProviderEvent(
            event_id=str(texts["id"]),
            type=str(texts["type"]),
            reference=str(texts["payment"]),
            status=status,
            amount=amount,
            currency=str(texts["currency"]),
        )

    def _check_signature(self, body: bytes, header: str) -> None:
        parts = dict(part.strip().partition("=")[::2] for part in header.split(",") if "=" in part)
        stamp, given = parts.get("t", ""), parts.get("v1", "")
        if not stamp.isdigit() or not given:
            raise WebhookRejected(f"missing or malformed {SIGNATURE_HEADER} header")
        if abs(time.time() - int(stamp)) > WEBHOOK_TOLERANCE:
            raise WebhookRejected(f"{SIGNATURE_HEADER}: the timestamp is more than {WEBHOOK_TOLERANCE} s away")
        expected = hmac.new(self.webhook_secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, given):
            raise WebhookRejected(f"{SIGNATURE_HEADER}: the signature does not match")


PROVIDERS: dict[str, PaymentProvider] = {}


def install(provider: PaymentProvider) -> None:
    """Make `provider` the one answering to its name (the app installs the test card with its books)."""
    PROVIDERS[provider.name] = provider


def provider(name: str) -> PaymentProvider | None:
    return PROVIDERS.get(name)


install(ManualPayment())
install(TestCardPayment(CardBooks(DEFAULT_PATH)))  # the app installs one with TEST_CARD_LEDGER

# Statuses of a payment that may hold money or be about to: what an unordered one gives back.
UNSETTLED = (S.PENDING, S.ACTION_REQUIRED, S.AUTHORIZED, S.CAPTURED, S.RETURNING)
# What a checkout may place an order on: not given back, not refused, no order yet.
USABLE = UNSETTLED[:-1]
# Waiting for the shopper or the provider: its order is AWAITING_PAYMENT until PAYMENT_TIMEOUT.
WAITING = (S.PENDING, S.ACTION_REQUIRED)
INITIALIZED = "INITIALIZED"  # the first event of every payment: opened with the provider

# PAYMENT_TIMEOUT: how long a payment may wait for the shopper or the provider (the app sets it
# from the setting at start-up, as it installs the providers).
_timeout = {"value": timedelta(minutes=30)}


def set_timeout(timeout: timedelta) -> None:
    _timeout["value"] = timeout


def timeout() -> timedelta:
    return _timeout["value"]


def event(payment_id: int, kind: str, amount: Decimal | None, provider_event_id: str | None = None) -> PaymentEvent:
    """A payment's event, to be inserted with the change it records."""
    return PaymentEvent(
        payment_id=payment_id, type=kind, amount=amount or Decimal(0), provider_event_id=provider_event_id
    )


async def start(provider_name: str, cart_token: str, method: str | None, expires_in: timedelta) -> Payment:
    """Record a payment, committed before any money can move under its key.

    One INSERT outside any transaction: the checkout's own transaction may roll back, this stays.
    Unordered past `expires_in`, recovery gives back whatever it holds.
    """
    return await Payment.create(
        key=uuid.uuid4().hex,
        provider=provider_name,
        cart_token=cart_token,
        method=method or "",
        expires_at=datetime.now(UTC) + expires_in,
    )


async def mark_ordered(payment: Payment, order: Order, answer: ProviderPayment, opened: bool) -> None:
    """Inside the order's transaction: the payment belongs to the order, atomically with it, and
    takes the provider's answer (`opened`: it was opened with the provider in this checkout, the
    one-step form, so its INITIALIZED event is recorded here too).

    Conditional on no order and not being given back: should recovery have claimed the payment
    (the checkout outlived the recovery bound), the order must not be placed on money that is
    being given back. A payment still waiting keeps an expiry: PAYMENT_TIMEOUT from now, after
    which its order is cancelled (`payments_webhooks.expire`).
    """
    now = datetime.now(UTC)
    changes: dict[str, object] = {
        "status": answer.status,
        "order_id": order.id,
        "amount": order.total,
        "currency": order.currency,
        "reference": answer.reference,
        "expires_at": now + timeout() if answer.status in WAITING else None,
        "updated_at": now,
    }
    if answer.client_secret:
        changes["client_secret"] = answer.client_secret
    if answer.redirect_url:
        changes["redirect_url"] = answer.redirect_url
    newly_captured = answer.status == S.CAPTURED and payment.status != S.CAPTURED
    if newly_captured:  # set once: a webhook may have captured it before the checkout committed
        changes["captured"] = answer.amount or order.total
    updated = await Payment.filter(id=payment.id, order_id__isnull=True, status__in=USABLE).update(**changes)
    if not updated:
        raise DomainError(
            ErrorCode.PAYMENT_DECLINED, "The payment took too long and was given back: please try again.", ["payment"]
        )
    events = [event(payment.id, INITIALIZED, order.total)] if opened else []
    if answer.status != payment.status:
        events.append(event(payment.id, answer.status.value, answer.amount or order.total))
    await PaymentEvent.bulk_create(events)
    payment.update_from_dict(changes)  # as it now is, for the checkout's answer


async def settle_unordered(payment: Payment, provider: PaymentProvider, asked: bool, declined: bool) -> None:
    """After the checkout's transaction ended without committing an order on this payment.

    `asked`: the provider was called (money may have moved, even if no answer came back);
    `declined`: it answered no. Anything else is given back under the payment's key. When the
    database cannot be reached or the provider fails, the payment stays for `recover()`.
    """
    try:
        if not asked or declined:
            status = S.DECLINED if declined else S.CANCELLED
            updated = await Payment.filter(id=payment.id, order_id__isnull=True, status__in=WAITING).update(
                status=status, expires_at=None, updated_at=datetime.now(UTC)
            )
            if updated and declined:
                await PaymentEvent.create(payment_id=payment.id, type=S.DECLINED.value, amount=payment.amount or 0)
            return
        # The failure may have come after the commit (announcing the order): then the order stands.
        current = await Payment.get_or_none(id=payment.id)
        if current is None or current.order_id is not None or current.status not in UNSETTLED:
            return
        given = await provider.give_back(current.reference, payment.key)
        await _mark_returned(current, given, UNSETTLED)
    except Exception:
        log.exception(
            "payment %s (%s) ended without an order and was not settled: recovery will give it back",
            payment.key,
            provider.name,
        )


async def _mark_returned(payment: Payment, given: GivenBack, was: tuple[PaymentStatus, ...]) -> None:
    changes: dict[str, object] = {"status": S.CANCELLED, "expires_at": None, "updated_at": datetime.now(UTC)}
    if given.reference:
        changes |= {"reference": given.reference, "amount": given.amount, "currency": given.currency}
    if await Payment.filter(id=payment.id, order_id__isnull=True, status__in=was).update(**changes):
        await PaymentEvent.bulk_create(given_back_events(payment.id, given))
    if given.amount:
        log.warning(
            "payment %s: %s %s given back by %s, no order holds it",
            given.reference,
            given.amount,
            given.currency,
            payment.provider,
        )


def given_back_events(payment_id: int, given: GivenBack) -> list[PaymentEvent]:
    """What giving a payment back recorded: the refund of what it held, if anything, and its end."""
    refunded = [event(payment_id, "REFUNDED", given.amount)] if given.amount else []
    return [*refunded, event(payment_id, S.CANCELLED.value, None)]


async def recover(older_than: timedelta, limit: int = 100) -> int:
    """Give back what providers hold for payments no order holds once they expired.

    A payment unordered past its `expires_at` (and untouched for `older_than`) belongs to a
    process that died between the
    provider's call and the end of its checkout (or could not reach the database after), or to a
    session the shopper never completed; one left RETURNING longer than `older_than`, to a
    recovery that did not finish. Each payment is claimed with a conditional UPDATE first, so
    several processes can run this at once: one claims it, and a checkout still holding it (its
    order not yet committed) makes the claim wait, then find it ordered. Returns how many
    payments were settled (up to `limit` per call). Independent of how it is scheduled.
    """
    now = datetime.now(UTC)
    cutoff = now - older_than
    # Untouched for `older_than` too: a one-step checkout's payment expires at once, and its
    # checkout may still be running (the provider answering, the order about to commit).
    expired = Q(status__in=USABLE, expires_at__lt=now, updated_at__lt=cutoff) | Q(
        status=S.RETURNING, updated_at__lt=cutoff
    )
    stale = await Payment.filter(expired, order_id__isnull=True).order_by("id").limit(limit)
    settled = 0
    for payment in stale:
        claimed = await Payment.filter(expired, id=payment.id, order_id__isnull=True).update(
            status=S.RETURNING, updated_at=now
        )
        if not claimed:
            continue  # another process claimed it, or its order committed
        card = provider(payment.provider)
        if card is None:
            log.error("payment %s: provider %r is gone; give back what it holds by hand", payment.key, payment.provider)
            continue
        try:
            given = await card.give_back(payment.reference, payment.key)
        except Exception:  # the claim runs out after `older_than`, and the next run tries again
            log.exception("payment %s: %s could not give it back; retrying later", payment.key, payment.provider)
            continue
        await _mark_returned(payment, given, (S.RETURNING,))
        settled += 1
    return settled
