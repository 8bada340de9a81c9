"""checkoutComplete: a cart becomes exactly one order, or nothing happens at all.

Everything runs in one database transaction, so a declined payment, missing stock or a crash at
any step leaves no order, no reservation and the cart as it was. Exactly-once:
- the cart row is locked first, so a second submission waits, then finds the cart completed and
  gets the order the first one placed (`Order.cart` is unique besides);
- an idempotency key is unique on orders: the same key returns the same order.
Stock rows are locked in primary-key order (as Saleor does), so carts that share variants in any
order cannot deadlock, and the reservation is computed from the locked rows: never check-then-write.

Money last: the card is authorized only after every check that can refuse the order (stock
reserved, the discount code's use counted), and an authorization that still ends without an
order (a failing statement after it, a lost race, a cancelled request) is voided or refunded in
the same request, once the transaction has rolled back. The authorization itself stays inside the
transaction, where the cart, its stock rows and its discount code are locked: taking it outside
would need an order that exists before it is paid for, and a declined card must leave no order.
What survives a process killed mid-checkout is the payment, recorded in a statement of its own
before the transaction: the charge is made under its key and the payment gets its order in the
order's transaction, so one no order holds is a charge nobody has, which `payments.recover()`
gives back. The order number's counter, which every checkout shares, is still taken only after the
payment, so the provider's latency never serializes all checkouts.

Two forms share one path. The one-step form (`payment: {provider, token}`) records its payment
before the transaction and opens it with the provider once the total is known; a payment session
(`paymentId`, from `payments_sessions.initialize`) is locked FOR UPDATE right after the cart (so a
webhook about it waits for this checkout), must be this cart's, unordered and usable
(PAYMENT_NOT_USABLE), and for the cart's current total (PAYMENT_AMOUNT_MISMATCH). Both are then
confirmed with the provider, and the order is PAID, PLACED or AWAITING_PAYMENT by its answer
(`ORDER_STATUS`): AWAITING_PAYMENT keeps its stock reserved until the provider's webhook or
PAYMENT_TIMEOUT settles it (`payments_webhooks`).

Warehouse choice, per line: the warehouse with the most available stock when one can serve the
whole line (ties: the lowest stock id); otherwise the line is split across warehouses, most
available first.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F

from loaders import Loaders
from models import (
    Account,
    Allocation,
    Cart,
    DiscountCode,
    Order,
    OrderCounter,
    OrderEvent,
    OrderLine,
    OrderStatus,
    Payment,
    PaymentStatus,
    ProductStatus,
    Stock,
    StockMovement,
)
from models.orders import IDEMPOTENCY_KEY_LENGTH
from models.rows import ProductRow
from resolvers import cart as carts
from resolvers import checkout, outbox, payments
from resolvers.errors import DomainError, ErrorCode, text_code
from resolvers.inventory import shift_stock, stock_deltas
from resolvers.orders import announce_order


@dataclass(frozen=True)
class Take:
    stock: Stock
    quantity: int


def allocate(wanted: list[tuple[int, int]], stocks: list[Stock]) -> dict[int, list[Take]]:
    """Plan the reservation for (variant id, quantity) pairs from locked stock rows.

    Raises INSUFFICIENT_STOCK naming the line (its index in `wanted`) that cannot be served.
    """
    by_variant: dict[int, list[Stock]] = {}
    for stock in stocks:
        by_variant.setdefault(stock.variant_id, []).append(stock)
    plan: dict[int, list[Take]] = {}
    for index, (variant_id, quantity) in enumerate(wanted):
        rows = sorted(by_variant.get(variant_id, []), key=lambda s: (-(s.quantity - s.reserved), s.id))
        available = sum(max(0, s.quantity - s.reserved) for s in rows)
        if available < quantity:
            raise DomainError(
                ErrorCode.INSUFFICIENT_STOCK,
                f"Only {available} available; {quantity} asked for.",
                ["lines", str(index), "quantity"],
            )
        if rows and rows[0].quantity - rows[0].reserved >= quantity:
            plan[variant_id] = [Take(rows[0], quantity)]
            continue
        takes, left = [], quantity
        for stock in rows:
            share = min(left, stock.quantity - stock.reserved)
            if share > 0:
                takes.append(Take(stock, share))
                left -= share
            if left == 0:
                break
        plan[variant_id] = takes
    return plan


async def _existing(idempotency_key: str | None, cart: Cart | None) -> Order | None:
    if idempotency_key:
        order = await Order.get_or_none(idempotency_key=idempotency_key)
        if order is not None:
            if cart is not None and order.cart_id not in (None, cart.id):
                raise DomainError(
                    ErrorCode.IDEMPOTENCY_KEY_REUSED,
                    "This idempotency key was used for another cart.",
                    ["idempotencyKey"],
                )
            return order
    return None


async def complete(
    token: str,
    provider_name: str | None,
    payment_token: str | None,
    idempotency_key: str | None,
    prices_include_tax: bool,
    actor: Account | None,
    payment_id: int | None = None,
) -> Placed:
    """The cart's order, paid through `provider_name` (the one-step form: the payment is opened and
    confirmed here) or through the payment session `payment_id` (`payments_sessions.initialize`)."""
    if (provider_name is None) == (payment_id is None):
        raise DomainError(
            ErrorCode.INVALID, "Give either `payment` or `paymentId` (from checkoutPaymentInitialize).", ["paymentId"]
        )
    if idempotency_key is not None and not 1 <= len(idempotency_key) <= IDEMPOTENCY_KEY_LENGTH:
        raise DomainError(
            text_code(idempotency_key, IDEMPOTENCY_KEY_LENGTH),
            f"An idempotency key has 1–{IDEMPOTENCY_KEY_LENGTH} characters.",
            ["idempotencyKey"],
        )
    if len(token) > 64 or "\x00" in token:  # longer than any cart token: before it reaches the payment's column
        raise DomainError(ErrorCode.NOT_FOUND, "No cart has this token.", ["cartToken"])
    if provider_name is not None:
        provider = payments.provider(provider_name)
        if provider is None:
            raise DomainError(
                ErrorCode.UNKNOWN_PAYMENT_PROVIDER,
                f"Unknown payment provider {provider_name!r}: use manual or test-card.",
                ["payment", "provider"],
            )
        # Recorded before the transaction, in a statement of its own: it outlives a process killed
        # mid-checkout, and expires at once (recovery gives it back unless an order holds it).
        payment = Checkout(provider, await payments.start(provider.name, token, payment_token, timedelta(0)))
    else:
        payment = Checkout(None, None, session_id=payment_id)
    order: Order | None = None
    try:
        order = await _complete(token, payment, idempotency_key, prices_include_tax, actor)
    except IntegrityError:
        # A concurrent request with the same idempotency key committed first: that is the order.
        order = await _existing(idempotency_key, await Cart.get_or_none(token=token))
        if order is None:
            raise
    finally:
        if payment.unsettled(order):
            assert payment.row is not None and payment.provider is not None  # unsettled() checked
            # Shielded: a cancelled request still gives the money back.
            await asyncio.shield(
                payments.settle_unordered(payment.row, payment.provider, payment.asked, payment.declined)
            )
    assert order is not None  # both paths that get here have one
    return Placed(order, payment.row if payment.ordered(order) else None)


@dataclass(frozen=True)
class Placed:
    """The order, and the payment it was committed with as it was then (None: the order was
    placed before, by the same cart or key, and is answered again)."""

    order: Order
    payment: Payment | None


@dataclass
class Checkout:
    """The payment of a checkout, its provider, and what the provider was asked and answered.

    The one-step form records its payment before the transaction (`row`, `provider`); a session's
    (`session_id`) is locked in the transaction, right after the cart, and known from there on.
    """

    provider: payments.PaymentProvider | None
    row: Payment | None
    session_id: int | None = None
    asked: bool = False  # the provider was called: money may have moved under the payment's key
    declined: bool = False
    answer: payments.ProviderPayment | None = None

    def ordered(self, order: Order | None) -> bool:
        """Whether `order` is the one this payment was committed with."""
        return order is not None and self.answer is not None and order.payment_reference == self.answer.reference

    def unsettled(self, order: Order | None) -> bool:
        """Whether the payment must be settled after a checkout that did not place `order` on it. A
        session the provider was not asked about stays as it was, for another try."""
        if self.row is None or self.provider is None or self.ordered(order):
            return False
        return self.session_id is None or self.asked


# What the order is once its payment answered.
ORDER_STATUS = {
    PaymentStatus.CAPTURED: OrderStatus.PAID,
    PaymentStatus.AUTHORIZED: OrderStatus.PLACED,
    PaymentStatus.PENDING: OrderStatus.AWAITING_PAYMENT,
    PaymentStatus.ACTION_REQUIRED: OrderStatus.AWAITING_PAYMENT,
}


async def _session(payment: Checkout, cart: Cart) -> None:
    """Lock the session's payment (after the cart: the one order of locking every checkout keeps)
    and check that this cart may complete with it."""
    row = await Payment.filter(id=payment.session_id).select_for_update().first()
    if row is None or row.cart_token != cart.token or row.order_id is not None or row.status not in payments.USABLE:
        raise DomainError(
            ErrorCode.PAYMENT_NOT_USABLE,
            "This payment cannot pay for this cart: start another with checkoutPaymentInitialize.",
            ["paymentId"],
        )
    provider = payments.provider(row.provider)
    if provider is None:
        raise DomainError(
            ErrorCode.UNKNOWN_PAYMENT_PROVIDER, f"The payment provider {row.provider!r} is gone.", ["paymentId"]
        )
    payment.row, payment.provider = row, provider


async def _complete(
    token: str,
    payment: Checkout,
    idempotency_key: str | None,
    prices_include_tax: bool,
    actor: Account | None,
) -> Order:
    async with outbox.transaction():
        cart = await Cart.filter(token=token).select_for_update().first()
        if cart is None:
            raise DomainError(ErrorCode.NOT_FOUND, "No cart has this token.", ["cartToken"])
        existing = await _existing(idempotency_key, cart)
        if existing is not None:
            return existing
        if cart.completed_at is not None:
            order = await Order.get_or_none(cart_id=cart.id)
            if order is not None:
                return order
            raise DomainError(ErrorCode.CART_COMPLETED, "This cart has been checked out.", ["cartToken"])

        if payment.session_id is not None:
            await _session(payment, cart)

        loaders = Loaders()  # fresh reads inside the transaction, nothing cached from before the lock
        summary = await carts.priced(loaders, cart)
        if not summary.lines:
            raise DomainError(ErrorCode.CART_EMPTY, "The cart is empty.", ["cartToken"])
        if not cart.email:
            raise DomainError(ErrorCode.EMAIL_REQUIRED, "Give an email address for the order.", ["email"])
        if not cart.shipping_address:
            raise DomainError(ErrorCode.SHIPPING_ADDRESS_REQUIRED, "Give a shipping address.", ["shippingAddress"])
        if cart.shipping_method_id is None:
            raise DomainError(ErrorCode.SHIPPING_METHOD_REQUIRED, "Choose a shipping method.", ["shippingMethod"])
        # Through the loader: the totals below read the same method again, from its cache.
        method = await loaders.shipping_method_by_id.load(cart.shipping_method_id)
        if (
            method is None
            or checkout.quote(method, summary.country, summary.weight_grams, summary.subtotal, cart.currency) is None
        ):
            raise DomainError(
                ErrorCode.SHIPPING_METHOD_UNAVAILABLE,
                "The chosen shipping method no longer serves this cart.",
                ["shippingMethod"],
            )
        # One read of the lines' products: whether each is still for sale, and its name for the order.
        products = await loaders.product_by_id.load_all([p.variant.product_id for p in summary.lines])
        on_sale: list[ProductRow] = []
        for index, (line, product) in enumerate(zip(summary.lines, products, strict=True)):
            if product is None or product.status != ProductStatus.ACTIVE:
                raise DomainError(
                    ErrorCode.NOT_FOR_SALE,
                    f"{line.variant.sku} is no longer for sale; remove it.",
                    ["lines", str(index)],
                )
            on_sale.append(product)
        figures = await carts.cart_totals(loaders, summary, prices_include_tax)
        if figures.discount_code is not None and figures.discount_problem is not None:
            raise DomainError(ErrorCode.DISCOUNT_CODE_INVALID, figures.discount_problem, ["discountCodes"])
        totals = figures.totals
        row = payment.row
        assert row is not None and payment.provider is not None  # the one-step form's, or the session's (locked)
        if row.reference and (row.amount != totals.total or row.currency != cart.currency):
            raise DomainError(
                ErrorCode.PAYMENT_AMOUNT_MISMATCH,
                f"The cart now costs {totals.total} {cart.currency}, and the payment is for {row.amount} "
                f"{row.currency}: start a new payment with checkoutPaymentInitialize.",
                ["paymentId"],
            )

        wanted = [(p.variant.id, p.line.quantity) for p in summary.lines]
        stocks = list(await Stock.filter(variant_id__in=[v for v, _ in wanted]).order_by("id").select_for_update())
        plan = allocate(wanted, stocks)
        # Reserved grows, on hand stays.
        await shift_stock(stock_deltas((t.stock.id, 0, t.quantity) for takes in plan.values() for t in takes))
        if figures.discount_code is not None:
            # Counted only while the code still holds: a use that raced the last one, a deactivation
            # or new dates committed since the totals read it (the row is locked from here on).
            now = datetime.now(UTC)
            counted = await DiscountCode.filter(
                checkout.in_force(now), checkout.started(now), id=figures.discount_code.id
            ).update(used_count=F("used_count") + 1)
            if not counted:
                raise DomainError(
                    ErrorCode.DISCOUNT_CODE_INVALID,
                    "This code has just been used up, deactivated or ended: remove it from the cart.",
                    ["discountCodes"],
                )

        # Money last: nothing below refuses the order. Should anything still fail, complete() gives it back.
        provider = payment.provider
        payment.asked = True
        reference = row.reference
        opened = not reference  # the one-step form: opened with the provider only now that the total is known
        if opened:
            reference = (
                await provider.initialize(totals.total, cart.currency, row.key, "", row.method or None)
            ).reference
        answer = await provider.confirm(reference, totals.total, cart.currency, row.key, row.method or None)
        status = ORDER_STATUS.get(answer.status)
        if status is None:
            payment.declined = True
            raise DomainError(ErrorCode.PAYMENT_DECLINED, answer.message or "The payment was declined.", ["payment"])
        payment.answer = answer
        captured = status == OrderStatus.PAID

        await OrderCounter.filter(id=1).update(last_number=F("last_number") + 1)
        number = (await OrderCounter.get(id=1)).last_number
        now = datetime.now(UTC)
        order = await Order.create(
            number=number,
            token=secrets.token_urlsafe(24),
            cart_id=cart.id,
            idempotency_key=idempotency_key,
            customer_id=cart.customer_id,
            email=cart.email,
            status=status,
            currency=cart.currency,
            subtotal=totals.subtotal,
            discount_total=totals.discount,
            shipping_total=totals.shipping,
            tax_total=totals.tax,
            total=totals.total,
            shipping_address=cart.shipping_address,
            billing_address=carts.billing_address(cart),
            shipping_method_name=method.name,
            shipping_carrier=method.carrier,
            discount_code=figures.discount_code.code if figures.discount_code else "",
            payment_provider=provider.name,
            payment_reference=answer.reference,
            paid_at=now if captured else None,
        )
        await payments.mark_ordered(row, order, answer, opened)
        await OrderLine.bulk_create(
            [
                OrderLine(
                    order_id=order.id,
                    variant_id=p.variant.id,
                    sku=p.variant.sku,
                    product_name=product.name,
                    variant_name=p.variant.name,
                    quantity=p.line.quantity,
                    unit_price=p.unit_price,
                    total=p.total,
                )
                for p, product in zip(summary.lines, on_sale, strict=True)
            ]
        )
        takes = [(variant_id, take) for variant_id, variant_takes in plan.items() for take in variant_takes]
        await Allocation.bulk_create(
            [
                Allocation(order_id=order.id, variant_id=variant_id, stock_id=take.stock.id, quantity=take.quantity)
                for variant_id, take in takes
            ]
        )
        await StockMovement.bulk_create(
            [
                StockMovement(
                    stock_id=take.stock.id,
                    variant_id=variant_id,
                    kind="RESERVATION",
                    delta=0,
                    reserved_delta=take.quantity,
                    quantity_after=take.stock.quantity,
                    reason=f"order #{number}",
                    actor=actor.email if actor else "",
                )
                for variant_id, take in takes
            ]
        )
        events = [
            OrderEvent(order_id=order.id, kind="PLACED", message=f"Placed with {provider.name}.", actor=cart.email)
        ]
        if captured:
            events.append(
                OrderEvent(order_id=order.id, kind="PAID", message=f"Paid by {provider.name}.", actor=cart.email)
            )
        await OrderEvent.bulk_create(events)
        announce_order(order)
        cart.completed_at = now
        await cart.save(update_fields=["completed_at", "updated_at"])
    return order
