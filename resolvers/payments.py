"""Payment providers behind one small interface (authorize, capture, void, refund, give back), as
Vendure has it, and the payment attempts that make every charge traceable.

Built in: `manual` (the order is placed unpaid; staff mark it paid) and `test-card` (token
`tok_decline` is declined, any other token is approved and captured at once). The test-card
provider stands in for a card processor, so it keeps the processor's side of the books outside the
gateway (`resolvers/card_books.py`), which is how anyone checks that no card was charged without
an order.

Every charge is made under the idempotency key of a `PaymentAttempt` recorded before money moves
(`start_attempt`). The checkout marks the attempt ORDERED in its order's transaction; one that
ends without an order is given back in the same request. What a killed process leaves behind (an
attempt still STARTED) `recover()` gives back later, from any process: providers give back by key.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Protocol

from models import Order, PaymentAttempt, PaymentAttemptStatus
from resolvers.card_books import DEFAULT_PATH, CardBooks
from resolvers.errors import DomainError, ErrorCode

log = logging.getLogger("gateway.payments")
S = PaymentAttemptStatus


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
    name = "manual"

    async def authorize(self, amount: Decimal, currency: str, token: str | None, key: str) -> PaymentResult:
        return PaymentResult(approved=True, captured=False, reference=f"manual_{secrets.token_hex(8)}")

    async def capture(self, reference: str, amount: Decimal, currency: str) -> PaymentResult:
        # Money arrived outside the gateway (bank transfer, cash); staff confirm it by marking paid.
        return PaymentResult(approved=True, captured=True, reference=reference)

    async def void(self, reference: str, amount: Decimal, currency: str) -> PaymentResult:
        return PaymentResult(approved=True, captured=False, reference=reference, message="nothing was collected")

    async def refund(self, reference: str, amount: Decimal, currency: str) -> PaymentResult:
        return PaymentResult(approved=True, captured=False, reference=reference, message="refund recorded")

    async def give_back(self, key: str) -> GivenBack:
        return GivenBack()  # nothing is collected before staff mark the order paid


class TestCardPayment:
    name = "test-card"
    DECLINED = "tok_decline"

    def __init__(self, books: CardBooks) -> None:
        self.books = books

    # The books are a file: written from a thread, as a processor is called over the network.
    async def authorize(self, amount: Decimal, currency: str, token: str | None, key: str) -> PaymentResult:
        if token == self.DECLINED:
            return PaymentResult(approved=False, captured=False, reference="", message="The card was declined.")
        charge = await asyncio.to_thread(self.books.charge, key, amount, currency)
        return PaymentResult(approved=True, captured=True, reference=charge.reference)

    async def capture(self, reference: str, amount: Decimal, currency: str) -> PaymentResult:
        return PaymentResult(approved=True, captured=True, reference=reference)  # captured at authorization

    async def void(self, reference: str, amount: Decimal, currency: str) -> PaymentResult:
        await asyncio.to_thread(self.books.add, "VOID", reference, amount, currency)
        return PaymentResult(approved=True, captured=False, reference=reference, message="voided")

    async def refund(self, reference: str, amount: Decimal, currency: str) -> PaymentResult:
        await asyncio.to_thread(self.books.add, "REFUND", reference, amount, currency)
        return PaymentResult(approved=True, captured=False, reference=reference, message="refunded")

    async def give_back(self, key: str) -> GivenBack:
        refund = await asyncio.to_thread(self.books.give_back, key)
        return GivenBack() if refund is None else GivenBack(refund.reference, refund.amount, refund.currency)


PROVIDERS: dict[str, PaymentProvider] = {}


def install(provider: PaymentProvider) -> None:
    """Make `provider` the one answering to its name (the app installs the test card with its books)."""
    PROVIDERS[provider.name] = provider


def provider(name: str) -> PaymentProvider | None:
    return PROVIDERS.get(name)


install(ManualPayment())
install(TestCardPayment(CardBooks(DEFAULT_PATH)))  # the app installs one with TEST_CARD_LEDGER


async def start_attempt(provider_name: str, cart_token: str) -> PaymentAttempt:
    """Record a payment attempt, committed before any money can move under its key.

    One INSERT outside any transaction: the checkout's own transaction may roll back, this stays.
    """
    return await PaymentAttempt.create(key=uuid.uuid4().hex, provider=provider_name, cart_token=cart_token)


async def mark_ordered(attempt: PaymentAttempt, order: Order) -> None:
    """Inside the order's transaction: the attempt belongs to the order, atomically with it.

    Conditional on STARTED: should recovery have claimed the attempt (the checkout outlived the
    recovery bound), the order must not be placed on money that is being given back.
    """
    updated = await PaymentAttempt.filter(id=attempt.id, status=S.STARTED).update(
        status=S.ORDERED,
        order_id=order.id,
        amount=order.total,
        currency=order.currency,
        reference=order.payment_reference,
        updated_at=datetime.now(UTC),
    )
    if not updated:
        raise DomainError(
            ErrorCode.PAYMENT_DECLINED, "The payment took too long and was given back: please try again.", ["payment"]
        )


async def settle_unordered(attempt: PaymentAttempt, provider: PaymentProvider, asked: bool, declined: bool) -> None:
    """After the checkout's transaction ended without committing an order on this attempt.

    `asked`: the provider was called (money may have moved, even if no answer came back);
    `declined`: it answered no. Anything else is given back under the attempt's key. When the
    database cannot be reached or the provider fails, the attempt stays STARTED for `recover()`.
    """
    try:
        if not asked or declined:
            status = S.DECLINED if declined else S.UNUSED
            await PaymentAttempt.filter(id=attempt.id, status=S.STARTED).update(
                status=status, updated_at=datetime.now(UTC)
            )
            return
        # The failure may have come after the commit (announcing the order): then the order stands.
        current = await PaymentAttempt.get_or_none(id=attempt.id)
        if current is None or current.status not in (S.STARTED, S.RETURNING):
            return
        given = await provider.give_back(attempt.key)
        await _mark_returned(attempt, given, (S.STARTED, S.RETURNING))
    except Exception:
        log.exception(
            "payment attempt %s (%s) ended without an order and was not settled: recovery will give it back",
            attempt.key,
            provider.name,
        )


async def _mark_returned(attempt: PaymentAttempt, given: GivenBack, was: tuple[PaymentAttemptStatus, ...]) -> None:
    changes: dict[str, object] = {"status": S.RETURNED, "updated_at": datetime.now(UTC)}
    if given.reference:
        changes |= {"reference": given.reference, "amount": given.amount, "currency": given.currency}
    await PaymentAttempt.filter(id=attempt.id, status__in=was).update(**changes)
    if given.amount:
        log.warning(
            "payment %s: %s %s given back by %s, no order holds it",
            given.reference,
            given.amount,
            given.currency,
            attempt.provider,
        )


async def recover(older_than: timedelta, limit: int = 100) -> int:
    """Give back what providers hold for attempts that never reached an order nor were settled.

    An attempt left STARTED for longer than `older_than` belongs to a process that died between
    the provider's call and the end of its checkout (or could not reach the database after); one
    left RETURNING that long, to a recovery that did not finish. `older_than` must exceed the
    longest a checkout can take. Each attempt is claimed with a conditional UPDATE first, so
    several processes can run this at once: one claims it, and a checkout still holding it (its
    ORDERED mark not yet committed) makes the claim wait, then find it ORDERED. Returns how many
    attempts were settled (up to `limit` per call). Independent of how it is scheduled.
    """
    now = datetime.now(UTC)
    cutoff = now - older_than
    stale = (
        await PaymentAttempt.filter(status__in=(S.STARTED, S.RETURNING), updated_at__lt=cutoff)
        .order_by("id")
        .limit(limit)
    )
    settled = 0
    for attempt in stale:
        claimed = await PaymentAttempt.filter(
            id=attempt.id, status__in=(S.STARTED, S.RETURNING), updated_at__lt=cutoff
        ).update(status=S.RETURNING, updated_at=now)
        if not claimed:
            continue  # another process claimed it, or its order committed
        card = provider(attempt.provider)
        if card is None:
            log.error(
                "payment attempt %s: provider %r is gone; give back what it holds by hand",
                attempt.key,
                attempt.provider,
            )
            continue
        try:
            given = await card.give_back(attempt.key)
        except Exception:  # the claim runs out after `older_than`, and the next run tries again
            log.exception(
                "payment attempt %s: %s could not give it back; retrying later", attempt.key, attempt.provider
            )
            continue
        await _mark_returned(attempt, given, (S.RETURNING,))
        settled += 1
    return settled
