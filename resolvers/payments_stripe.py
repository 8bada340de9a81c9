"""The Stripe payment provider: a PaymentIntent per payment, through Stripe's official SDK.

`initialize` creates the PaymentIntent (nothing is charged; its client secret lets the shopper's
browser finish it with Stripe.js), `confirm` charges or authorizes it with the payment method the
shopper gave, `capture` takes what a manual-capture intent holds, `refund` gives part of it back,
and `give_back` cancels or refunds whatever is left. Every call that moves money carries an
idempotency key derived from the payment's key, so a retry never charges twice.

The return URL (where Stripe sends the shopper back after 3-D Secure on a redirect) is known at
`initialize` but needed at `confirm`, whose arguments do not carry it: it travels in the intent's
metadata (`return_url`), where Stripe keeps it for us. Metadata values hold 500 characters; a longer
return URL is left out, and the shopper finishes authentication in the page with Stripe.js
(`handleNextAction` with the client secret), as Stripe does for every card without a return URL.

Intents are created for cards only (`payment_method_types=["card"]`): the gateway confirms them on
the server with a payment method the storefront created, and an intent open to redirect-based
methods cannot be confirmed there without a return URL.

Webhooks are checked with the SDK's own signature verification (`stripe.Webhook.construct_event`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Literal

import httpx
import stripe

from models.payments import PaymentStatus
from resolvers import currencies
from resolvers.payments import GivenBack, ProviderEvent, ProviderPayment, ProviderRefund, WebhookRejected

log = logging.getLogger("gateway.payments.stripe")

Capture = Literal["automatic", "manual"]
CAPTURE_METHODS: tuple[Capture, ...] = ("automatic", "manual")
DEFAULT_API_BASE = "https://api.stripe.com"

# Where Stripe counts minor units otherwise than ISO 4217 (docs.stripe.com/currencies, special
# cases): the Icelandic króna is sent with two (zero) decimals, the Malagasy ariary with none.
_STRIPE_EXPONENTS = {"ISK": 2, "MGA": 0}

# What a PaymentIntent's status means to the gateway; requires_payment_method is DECLINED instead
# when the intent carries the error of a failed attempt.
_STATUSES = {
    "requires_payment_method": PaymentStatus.PENDING,
    "requires_confirmation": PaymentStatus.PENDING,
    "requires_action": PaymentStatus.ACTION_REQUIRED,
    "processing": PaymentStatus.PENDING,
    "requires_capture": PaymentStatus.AUTHORIZED,
    "succeeded": PaymentStatus.CAPTURED,
    "canceled": PaymentStatus.CANCELLED,
}

# The webhook events the gateway acts on (the ones to enable in Stripe's dashboard), and what the
# payment became; charge.refunded reports an amount (the charge's refunded total) and no status.
EVENT_STATUSES: dict[str, PaymentStatus | None] = {
    "payment_intent.succeeded": PaymentStatus.CAPTURED,
    "payment_intent.amount_capturable_updated": PaymentStatus.AUTHORIZED,
    "payment_intent.payment_failed": PaymentStatus.DECLINED,
    "payment_intent.canceled": PaymentStatus.CANCELLED,
    "payment_intent.requires_action": PaymentStatus.ACTION_REQUIRED,
    "charge.refunded": None,
}

_METADATA_VALUE_LENGTH = 500  # Stripe's limit on one metadata value
_SIGNATURE_HEADER = "stripe-signature"


def to_stripe(amount: Decimal, currency: str) -> int:
    """`amount` as Stripe counts it; ValueError when the currency cannot hold it (0.5 JPY)."""
    currencies.to_minor(amount, currency)  # ISO's precision first: no fraction of a króna either
    return currencies.to_minor(amount, currency, _STRIPE_EXPONENTS.get(currency.upper()))


def from_stripe(value: int, currency: str) -> Decimal:
    return currencies.from_minor(value, currency, _STRIPE_EXPONENTS.get(currency.upper()))


class StripePayment:
    """Payments as Stripe PaymentIntents, captured at once (`automatic`) or when the gateway
    captures them (`manual`: confirm leaves them AUTHORIZED).

    `api_base` points the client at another Stripe-compatible server (the tests' localstripe).
    Every request waits at most `timeout` seconds and is retried `retries` times on a network
    failure, by the SDK, under the same idempotency key.
    """

    name = "stripe"

    def __init__(
        self,
        api_key: str,
        webhook_secret: str = "",
        *,
        capture: Capture = "automatic",
        api_base: str = DEFAULT_API_BASE,
        timeout: float = 10.0,
        retries: int = 1,
    ) -> None:
        if capture not in CAPTURE_METHODS:
            raise ValueError(f"capture must be one of {', '.join(CAPTURE_METHODS)}, got {capture!r}")
        self.capture_method: Capture = capture
        self._webhook_secret = webhook_secret
        # The SDK's HTTPX client: asyncio-native, with connect, read and pool timeouts.
        self._http = stripe.HTTPXClient(timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)))
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base},
            http_client=self._http,
            max_network_retries=retries,
        )

    def __repr__(self) -> str:  # never the API key
        return f"StripePayment(capture={self.capture_method!r})"

    async def close(self) -> None:
        """Close the client's connections (at shutdown)."""
        await self._http.close_async()

    async def initialize(
        self, amount: Decimal, currency: str, key: str, return_url: str, token: str | None
    ) -> ProviderPayment:
        metadata = {"gateway_key": key}
        if len(return_url) > _METADATA_VALUE_LENGTH:
            log.warning(
                "payment %s: its return URL is longer than Stripe's metadata holds; 3-D Secure ends in the page", key
            )
        elif return_url:
            metadata["return_url"] = return_url
        params: dict[str, Any] = {
            "amount": to_stripe(amount, currency),
            "currency": currency.lower(),
            "capture_method": self.capture_method,
            "payment_method_types": ["card"],
            "metadata": metadata,
        }
        if token:
            params["payment_method"] = token
        intent = await self._client.v1.payment_intents.create_async(
            params=params,  # type: ignore[arg-type]  # built as a dict; the SDK types each key
            options={"idempotency_key": key},
        )
        return _payment(intent)

    async def confirm(
        self, reference: str, amount: Decimal, currency: str, key: str, token: str | None
    ) -> ProviderPayment:
        intents = self._client.v1.payment_intents
        intent = await intents.retrieve_async(reference)
        if intent.status in ("requires_payment_method", "requires_confirmation"):
            # The cart may have changed since initialize, or the shopper chose another card.
            changes: dict[str, Any] = {}
            if to_stripe(amount, currency) != intent.amount or currency.lower() != intent.currency:
                changes |= {"amount": to_stripe(amount, currency), "currency": currency.lower()}
            if token and token != _id(intent.payment_method):
                changes["payment_method"] = token
            if changes:
                intent = await intents.update_async(reference, params=changes)  # type: ignore[arg-type]
        if intent.status != "requires_confirmation":
            return _payment(intent)  # nothing to confirm (yet): say where it stands
        params: dict[str, Any] = {}
        return_url = _metadata(intent).get("return_url")
        if return_url:
            params["return_url"] = return_url
        try:
            intent = await intents.confirm_async(
                reference,
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": f"{key}-confirm-{intent.amount}-{_id(intent.payment_method)}"},
            )
        except stripe.CardError as error:
            return ProviderPayment(
                PaymentStatus.DECLINED,
                reference,
                client_secret=intent.client_secret or "",
                message=error.user_message or "The card was declined.",
            )
        return _payment(intent)

    async def capture(self, reference: str, amount: Decimal, currency: str, key: str) -> ProviderPayment:
        intent = await self._client.v1.payment_intents.capture_async(
            reference,
            params={"amount_to_capture": to_stripe(amount, currency)},
            options={"idempotency_key": f"{key}-capture"},
        )
        return _payment(intent, taken=amount)

    async def refund(self, reference: str, amount: Decimal, currency: str, key: str) -> ProviderRefund:
        try:
            refund = await self._client.v1.refunds.create_async(
                params={
                    "payment_intent": reference,
                    "amount": to_stripe(amount, currency),
                    "metadata": {"gateway_key": key},
                },
                options={"idempotency_key": f"{key}-refund"},
            )
        except (stripe.InvalidRequestError, stripe.CardError) as error:
            # Stripe refused (more than is left, a payment that never succeeded): nothing moved.
            return ProviderRefund(approved=False, message=error.user_message or "Stripe refused the refund.")
        if refund.status in ("failed", "canceled"):
            return ProviderRefund(approved=False, reference=refund.id, message=refund.failure_reason or refund.status)
        return ProviderRefund(approved=True, reference=refund.id)

    async def give_back(self, reference: str, key: str) -> GivenBack:
        """Cancel an intent that holds or may still take money, refund what a captured one has
        left; nothing for one already cancelled or fully refunded. Each call looks at Stripe
        first, so a second call finds nothing left and gives nothing."""
        intents = self._client.v1.payment_intents
        intent = await intents.retrieve_async(reference, params={"expand": ["latest_charge"]})
        currency = intent.currency.upper()
        status = intent.status
        if status == "canceled":
            return GivenBack()
        if status == "processing":
            # Neither cancellable nor refundable until the payment method answers: try again later.
            raise RuntimeError(f"Stripe payment {reference} is still processing; it can be given back once it settles")
        if status != "succeeded":  # requires_capture, or a requires_* that never took money
            held = _held(intent) if status == "requires_capture" else 0
            await intents.cancel_async(reference, options={"idempotency_key": f"{key}-give-back"})
            return GivenBack(reference, from_stripe(held, currency), currency) if held else GivenBack()
        charge = intent.latest_charge
        if not isinstance(charge, stripe.Charge):
            raise RuntimeError(f"Stripe payment {reference} succeeded without its charge")
        # A partial capture refunds the uncaptured rest on the charge, so the charge's amount
        # less everything refunded is what the shopper still pays.
        left = charge.amount - charge.amount_refunded
        if left <= 0:
            return GivenBack()
        refund = await self._client.v1.refunds.create_async(
            params={"payment_intent": reference, "amount": left, "metadata": {"gateway_key": key}},
            options={"idempotency_key": f"{key}-give-back-{left}"},
        )
        return GivenBack(reference, from_stripe(refund.amount, currency), currency)

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> ProviderEvent:
        signature = next((value for name, value in headers.items() if name.lower() == _SIGNATURE_HEADER), None)
        if not signature or not self._webhook_secret:
            raise WebhookRejected(
                "no Stripe-Signature header" if self._webhook_secret else "STRIPE_WEBHOOK_SECRET unset"
            )
        try:
            event = stripe.Webhook.construct_event(body, signature, self._webhook_secret)
        except stripe.SignatureVerificationError as error:
            raise WebhookRejected(str(error)) from None
        return _event(event)


def _payment(intent: stripe.PaymentIntent, taken: Decimal | None = None) -> ProviderPayment:
    """What an intent says, as the gateway's status; `taken`: what a capture asked for, should the
    server not say what it received."""
    status = _STATUSES.get(intent.status)
    if status is None:
        raise ValueError(f"Stripe payment {intent.id} has an unknown status {intent.status!r}")
    error = _field(intent, "last_payment_error", None)
    message = ""
    if error:
        message = _field(error, "message", None) or "The payment was declined."
        if status is PaymentStatus.PENDING and intent.status == "requires_payment_method":
            status = PaymentStatus.DECLINED
    redirect = ""
    if status is PaymentStatus.ACTION_REQUIRED and intent.next_action is not None:
        to_url = _field(intent.next_action, "redirect_to_url", None)
        redirect = (_field(to_url, "url", None) or "") if to_url else ""
    amount = intent.amount
    if status is PaymentStatus.AUTHORIZED:
        amount = _held(intent)
    elif status is PaymentStatus.CAPTURED:
        received = _field(intent, "amount_received", None)
        amount = received if received is not None else (to_stripe(taken, intent.currency) if taken else intent.amount)
    return ProviderPayment(
        status=status,
        reference=intent.id,
        amount=from_stripe(amount, intent.currency),
        client_secret=intent.client_secret or "",
        redirect_url=redirect,
        message=message,
    )


def _event(event: stripe.Event) -> ProviderEvent:
    payload = event.data.object
    kind = event.type
    currency = str(_field(payload, "currency", "") or "").upper()
    kind_of_object = _field(payload, "object", "")
    minor: Any = None
    if kind_of_object == "payment_intent":
        reference = str(_field(payload, "id", ""))
        amount_field = {
            "payment_intent.succeeded": "amount_received",
            "payment_intent.amount_capturable_updated": "amount_capturable",
        }.get(kind, "amount")
        minor = _field(payload, amount_field, _field(payload, "amount", None))
    else:  # a charge (charge.refunded: its refunded total), a refund, a dispute: they name the intent
        reference = _id(_field(payload, "payment_intent", None))
        minor = _field(payload, "amount_refunded" if kind == "charge.refunded" else "amount", None)
    amount = from_stripe(minor, currency) if isinstance(minor, int) and currency else Decimal(0)
    return ProviderEvent(
        event_id=event.id,
        type=kind,
        reference=reference,
        status=EVENT_STATUSES.get(kind),
        amount=amount,
        currency=currency,
    )


def _held(intent: stripe.PaymentIntent) -> int:
    """What an authorized intent can still capture (a server without the field: its amount)."""
    capturable = _field(intent, "amount_capturable", None)
    return int(capturable) if capturable is not None else intent.amount


def _metadata(intent: stripe.PaymentIntent) -> dict[str, Any]:
    return intent.metadata.to_dict() if intent.metadata else {}


def _id(value: object) -> str:
    """An expandable field's id, whether Stripe sent the id or the object."""
    if value is None:
        return ""
    return value if isinstance(value, str) else str(_field(value, "id", ""))


def _field(obj: Any, name: str, default: Any) -> Any:
    """A field a Stripe-compatible server may leave out (localstripe omits amount_received)."""
    return getattr(obj, name, default)
