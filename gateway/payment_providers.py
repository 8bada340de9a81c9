"""The payment providers of a process, as the settings configure them: installed by every process
that moves or gives back money (the web app, the job worker, `recover-payments`)."""

from __future__ import annotations

from datetime import timedelta

from gateway.settings import Settings
from resolvers import payments
from resolvers.card_books import CardBooks
from resolvers.payments_stripe import StripePayment


def test_card(settings: Settings) -> payments.TestCardPayment:
    """The test card on this deployment's books (TEST_CARD_LEDGER) and webhook secret."""
    return payments.TestCardPayment(CardBooks(settings.test_card_ledger), settings.test_card_webhook_secret)


def install(settings: Settings) -> StripePayment | None:
    """Install the test card, the payment timeout and, when STRIPE_API_KEY is set, the `stripe`
    provider; returns the latter (to close at shutdown)."""
    payments.install(test_card(settings))
    payments.set_timeout(timedelta(seconds=settings.payment_timeout_seconds))
    if not settings.stripe_api_key:
        return None
    provider = StripePayment(
        settings.stripe_api_key,
        settings.stripe_webhook_secret,
        capture=settings.stripe_capture,
        api_base=settings.stripe_api_base,
    )
    payments.install(provider)
    return provider
