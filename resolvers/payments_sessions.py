"""checkoutPaymentInitialize: a payment session for a cart, opened with its provider before checkout.

The storefront shows the provider's payment form with the session's `client_secret` (or sends the
shopper to its `redirect_url`), then places the order with `checkoutComplete(paymentId)`, which
confirms the payment in the order's transaction (`checkout_complete`). The session is for the
cart's total as it is now: a cart changed since cannot complete with it (PAYMENT_AMOUNT_MISMATCH).

Cheap on purpose, as every checkout of a storefront using sessions pays it: the cart is priced
read-only with the functions checkout uses, the provider is called outside any transaction, and
the payment and its first event are two INSERTs. A session never completed holds nothing the
shopper did not confirm; past its `expires_at` (PAYMENT_TIMEOUT) recovery gives back whatever it
holds (`payments.recover`).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from tortoise.transactions import in_transaction

from loaders import Loaders
from models import Account, Cart, Payment, PaymentEvent, PaymentStatus, Permission
from models.payments import METHOD_LENGTH
from resolvers import cart as carts
from resolvers import payments
from resolvers.account_tokens import LinkRules, link_base
from resolvers.errors import DomainError, ErrorCode, text_code


async def initialize(
    loaders: Loaders,
    cart_token: str,
    provider_name: str,
    return_url: str | None,
    method: str | None,
    prices_include_tax: bool,
    rules: LinkRules,
) -> Payment:
    provider = payments.provider(provider_name)
    if provider is None:
        raise DomainError(
            ErrorCode.UNKNOWN_PAYMENT_PROVIDER,
            f"Unknown payment provider {provider_name!r}: use manual or test-card.",
            ["provider"],
        )
    if return_url is not None:  # bounded there too (shorter than the column, `URL_LENGTH`)
        return_url = link_base(return_url, rules, "returnUrl")
    if method is not None and (not method or len(method) > METHOD_LENGTH or "\x00" in method):
        raise DomainError(
            text_code(method, METHOD_LENGTH), f"A payment token has 1–{METHOD_LENGTH} characters.", ["token"]
        )
    if len(cart_token) > 64 or "\x00" in cart_token:
        raise DomainError(ErrorCode.NOT_FOUND, "No cart has this token.", ["cartToken"])
    cart = await Cart.get_or_none(token=cart_token)
    if cart is None:
        raise DomainError(ErrorCode.NOT_FOUND, "No cart has this token.", ["cartToken"])
    if cart.completed_at is not None:
        raise DomainError(ErrorCode.CART_COMPLETED, "This cart has been checked out.", ["cartToken"])
    summary = await carts.priced(loaders, cart)
    if not summary.lines:
        raise DomainError(ErrorCode.CART_EMPTY, "The cart is empty.", ["cartToken"])
    total = (await carts.cart_totals(loaders, summary, prices_include_tax)).totals.total

    key = uuid.uuid4().hex
    # Outside any transaction: nothing is locked while the provider answers.
    answer = await provider.initialize(total, cart.currency, key, return_url or "", method)
    # The payment and its first event in one commit: never one without the other.
    async with in_transaction():
        payment = await Payment.create(
            key=key,
            provider=provider.name,
            cart_token=cart.token,
            status=answer.status,
            amount=total,
            currency=cart.currency,
            reference=answer.reference,
            method=method or "",
            client_secret=answer.client_secret,
            return_url=return_url or "",
            redirect_url=answer.redirect_url,
            captured=Decimal("0.00"),
            refunded=Decimal("0.00"),
            # Never completed: recovery gives back whatever it holds from then on.
            expires_at=datetime.now(UTC) + payments.timeout(),
        )
        await PaymentEvent.create(payment_id=payment.id, type=payments.INITIALIZED, amount=total)
    return payment


async def payment_by_id(loaders: Loaders, payment_id: int, viewer: Account | None) -> Payment | None:
    """A payment by its ID (a counter anyone can guess), for whoever may read its order or cart by
    ID: the customer it belongs to, and staff with MANAGE_ORDERS."""
    if viewer is None:
        return None
    payment = await loaders.payment_by_id.load(payment_id)
    if payment is None:
        return None
    if viewer.has_permission(Permission.MANAGE_ORDERS):
        return payment
    if payment.order_id is not None:
        order = await loaders.order_by_id.load(payment.order_id)
        return payment if order is not None and order.customer_id == viewer.id else None
    cart = await Cart.get_or_none(token=payment.cart_token)
    return payment if cart is not None and cart.customer_id == viewer.id else None


# What a client is shown of a payment's status: RETURNING is the gateway's own step of giving the
# money back, which ends CANCELLED.
def shown_status(status: PaymentStatus) -> PaymentStatus:
    return PaymentStatus.CANCELLED if status == PaymentStatus.RETURNING else PaymentStatus(status)
