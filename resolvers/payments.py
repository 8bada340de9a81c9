"""Payment providers behind one small interface (initialize, confirm, capture, refund, give back,
read a webhook), as Vendure has it, and the payments that make every charge traceable.

Built in: `manual` (the order is placed unpaid; staff mark it paid) and `test-card` (token
`tok_decline` is declined, any other token is approved and captured at once). The test-card
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
import logging
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Protocol

from tortoise.expressions import Q

from models import Order, Payment, PaymentStatus
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


class TestCardPayment:
    """A card processor for development and tests: `tok_decline` is declined, any other token is
    charged at once, under the payment's key, in books outside the gateway (`card_books.py`)."""

    name = "test-card"
    DECLINED = "tok_decline"

    def __init__(self, books: CardBooks) -> None:
        self.books = books

    async def initialize(
        self, amount: Decimal, currency: str, key: str, return_url: str, token: str | None
    ) -> ProviderPayment:
        reference = f"test_{secrets.token_hex(8)}"
        return ProviderPayment(
            PaymentStatus.PENDING, reference, client_secret=f"{reference}_secret_{secrets.token_hex(8)}"
        )

    # The books are a file: written from a thread, as a processor is called over the network.
    async def confirm(
        self, reference: str, amount: Decimal, currency: str, key: str, token: str | None
    ) -> ProviderPayment:
        if token == self.DECLINED:
            return ProviderPayment(PaymentStatus.DECLINED, reference, message="The card was declined.")
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

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> ProviderEvent:
        raise WebhookRejected("test-card webhooks are not configured")


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


async def mark_ordered(payment: Payment, order: Order, answer: ProviderPayment) -> None:
    """Inside the order's transaction: the payment belongs to the order, atomically with it.

    Conditional on no order and not being given back: should recovery have claimed the payment
    (the checkout outlived the recovery bound), the order must not be placed on money that is
    being given back.
    """
    updated = await Payment.filter(id=payment.id, order_id__isnull=True, status__in=UNSETTLED[:-1]).update(
        status=answer.status,
        order_id=order.id,
        amount=order.total,
        currency=order.currency,
        reference=answer.reference,
        captured=answer.amount if answer.status == S.CAPTURED else Decimal(0),
        expires_at=None,
        updated_at=datetime.now(UTC),
    )
    if not updated:
        raise DomainError(
            ErrorCode.PAYMENT_DECLINED, "The payment took too long and was given back: please try again.", ["payment"]
        )
    payment.order_id = order.id


async def settle_unordered(payment: Payment, provider: PaymentProvider, asked: bool, declined: bool) -> None:
    """After the checkout's transaction ended without committing an order on this payment.

    `asked`: the provider was called (money may have moved, even if no answer came back);
    `declined`: it answered no. Anything else is given back under the payment's key. When the
    database cannot be reached or the provider fails, the payment stays for `recover()`.
    """
    try:
        if not asked or declined:
            status = S.DECLINED if declined else S.CANCELLED
            await Payment.filter(id=payment.id, order_id__isnull=True, status=S.PENDING).update(
                status=status, expires_at=None, updated_at=datetime.now(UTC)
            )
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
    await Payment.filter(id=payment.id, order_id__isnull=True, status__in=was).update(**changes)
    if given.amount:
        log.warning(
            "payment %s: %s %s given back by %s, no order holds it",
            given.reference,
            given.amount,
            given.currency,
            payment.provider,
        )


async def recover(older_than: timedelta, limit: int = 100) -> int:
    """Give back what providers hold for payments no order holds once they expired.

    A payment unordered past its `expires_at` belongs to a process that died between the
    provider's call and the end of its checkout (or could not reach the database after), or to a
    session the shopper never completed; one left RETURNING longer than `older_than`, to a
    recovery that did not finish. Each payment is claimed with a conditional UPDATE first, so
    several processes can run this at once: one claims it, and a checkout still holding it (its
    order not yet committed) makes the claim wait, then find it ordered. Returns how many
    payments were settled (up to `limit` per call). Independent of how it is scheduled.
    """
    now = datetime.now(UTC)
    cutoff = now - older_than
    expired = Q(status__in=UNSETTLED[:-1], expires_at__lt=now) | Q(status=S.RETURNING, updated_at__lt=cutoff)
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
