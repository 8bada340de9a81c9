"""The payment providers the settings configure beyond the built-in ones, installed by every process
that moves or gives back money (the web app, `recover-payments`)."""

from __future__ import annotations

from gateway.settings import Settings
from resolvers import payments
from resolvers.payments_stripe import StripePayment


def install_stripe(settings: Settings) -> StripePayment | None:
    """Install the `stripe` provider when STRIPE_API_KEY is set; returns it (to close at shutdown)."""
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
