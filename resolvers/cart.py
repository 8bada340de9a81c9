"""Cart decisions: what may be added, in what quantity, and the cart's prices.

Every mutation locks the cart row first, so two tabs editing one cart cannot lose each other's
lines; quantities are checked against availability (on hand minus reserved) at the time of the
change, and again, atomically, when checkout reserves the stock.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tortoise.exceptions import IntegrityError
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from loaders import Loaders
from loaders.catalogue import variants_where
from models import (
    Account,
    AddressType,
    Cart,
    CartLine,
    DiscountCode,
    Payment,
    Product,
    ProductStatus,
    TaxRate,
)
from models.rows import VariantRow
from resolvers import batches, checkout, outbox, payments, pricing
from resolvers.accounts import validate_email
from resolvers.addresses import default_addresses, validate_address
from resolvers.errors import DomainError, ErrorCode


@dataclass(frozen=True)
class CartRules:
    """Limits a store sets (MAX_LINE_QUANTITY); the defaults suit a typical shop."""

    max_line_quantity: int = 99
    max_lines: int = 100


DEFAULT_RULES = CartRules()


@dataclass(frozen=True)
class PricedLine:
    line: CartLine
    variant: VariantRow
    unit_price: Decimal
    total: Decimal


@dataclass(frozen=True)
class PricedCart:
    cart: Cart
    lines: list[PricedLine]
    subtotal: Decimal
    total_quantity: int
    weight_grams: int

    @property
    def country(self) -> str | None:
        return (self.cart.shipping_address or {}).get("country")


async def priced(loaders: Loaders, cart: Cart) -> PricedCart:
    """The cart with its lines priced at today's variant prices (two statements, batched)."""
    lines = await loaders.cart_lines_by_cart_id.load(cart.id)
    variants = await loaders.variant_by_id.load_all([line.variant_id for line in lines])
    priced_lines = []
    for line, variant in zip(lines, variants, strict=True):
        if variant is None:  # deleted by staff since: the line is gone with it (ON DELETE CASCADE)
            continue
        price = variant.price
        priced_lines.append(PricedLine(line, variant, price, pricing.line_total(price, line.quantity, cart.currency)))
    return PricedCart(
        cart=cart,
        lines=priced_lines,
        subtotal=pricing.subtotal((p.total for p in priced_lines), cart.currency),
        total_quantity=sum(p.line.quantity for p in priced_lines),
        weight_grams=sum(p.variant.weight_grams * p.line.quantity for p in priced_lines),
    )


async def cart_by_token(token: str) -> Cart | None:
    return await Cart.get_or_none(token=token)


def active_carts(account_id: int) -> QuerySet[Cart]:
    """The account's carts not checked out, the active one (the newest changed) first."""
    return Cart.filter(customer_id=account_id, completed_at__isnull=True).order_by("-updated_at", "-id")


async def active_cart(account_id: int) -> Cart | None:
    """The signed-in customer's cart (`me.cart`), the same on every device they sign in on; a
    checked-out cart never is."""
    return await active_carts(account_id).first()


async def cart_by_id(loaders: Loaders, cart_id: int, viewer: Account | None) -> Cart | None:
    """A cart by its ID, for the customer it belongs to only. The token is what grants a cart to
    whoever holds it; an ID is a counter anyone can guess, so it shows a signed-in customer their
    own cart, and a guest cart (owned by whoever holds its token) to nobody."""
    cart = await loaders.cart_by_id.load(cart_id)
    if cart is None or viewer is None or cart.customer_id != viewer.id:
        return None
    return cart


def _check_quantity(quantity: int, field: list[str], rules: CartRules) -> None:
    if quantity < 1:
        raise DomainError(ErrorCode.INVALID_QUANTITY, "The quantity must be at least 1.", field)
    if quantity > rules.max_line_quantity:
        raise DomainError(
            ErrorCode.INVALID_QUANTITY, f"At most {rules.max_line_quantity} of one item per order.", field
        )


async def sellable(variant_ids: list[int]) -> dict[int, VariantRow]:
    """Variants that are for sale (their product ACTIVE), with their availability."""
    variants = await variants_where("id", list(dict.fromkeys(variant_ids)))
    products = {p.id: p for p in await Product.filter(id__in=[v.product_id for v in variants]).only("id", "status")}
    return {
        v.id: v
        for v in variants
        if products.get(v.product_id) is not None and products[v.product_id].status == ProductStatus.ACTIVE
    }


def _check_available(variant: VariantRow, quantity: int, field: list[str]) -> None:
    available = variant.quantity_available
    if quantity > available:
        raise DomainError(
            ErrorCode.INSUFFICIENT_STOCK,
            f"Only {available} of {variant.sku} available; {quantity} asked for.",
            field,
        )


async def _locked(token: str) -> Cart:
    cart = await Cart.filter(token=token).select_for_update().first()
    if cart is None:
        raise DomainError(ErrorCode.NOT_FOUND, "No cart has this token.", ["cartToken"])
    if cart.completed_at is not None:
        raise DomainError(ErrorCode.CART_COMPLETED, "This cart has been checked out; start a new one.", ["cartToken"])
    return cart


async def _merge_lines(cart: Cart, additions: list[tuple[int, int]], rules: CartRules) -> None:
    """Add (variant id, quantity) pairs, merging with lines of the same variant; validates all first."""
    for index, (_, quantity) in enumerate(additions):
        _check_quantity(quantity, ["lines", str(index), "quantity"], rules)
    for_sale = await sellable([variant_id for variant_id, _ in additions])
    existing = {line.variant_id: line for line in await CartLine.filter(cart_id=cart.id)}
    wanted: dict[int, int] = {}
    for index, (variant_id, quantity) in enumerate(additions):
        variant = for_sale.get(variant_id)
        if variant is None:
            raise DomainError(ErrorCode.NOT_FOR_SALE, "This item is not for sale.", ["lines", str(index), "variantId"])
        total = wanted.get(variant_id, existing[variant_id].quantity if variant_id in existing else 0) + quantity
        _check_quantity(total, ["lines", str(index), "quantity"], rules)
        _check_available(variant, total, ["lines", str(index), "quantity"])
        wanted[variant_id] = total
    if len(set(existing) | set(wanted)) > rules.max_lines:
        raise DomainError(ErrorCode.TOO_MANY, f"A cart holds at most {rules.max_lines} different items.", ["lines"])
    new_lines = [CartLine(cart_id=cart.id, variant_id=v, quantity=q) for v, q in wanted.items() if v not in existing]
    if new_lines:
        await CartLine.bulk_create(new_lines)
    changed = [existing[variant_id] for variant_id in wanted if variant_id in existing]
    for line in changed:
        line.quantity = wanted[line.variant_id]
    if changed:
        await CartLine.bulk_update(changed, fields=["quantity"])


async def create_cart(
    currency: str,
    lines: list[tuple[int, int]],
    email: str | None,
    account: Account | None,
    rules: CartRules = DEFAULT_RULES,
) -> Cart:
    """A new cart; made by a signed-in account, it is bound to it (the account is its customer)
    and starts with its email address and its default shipping and billing addresses."""
    clean_email = validate_email(email, "email") if email else (account.email if account else "")
    defaults = await default_addresses(account.id) if account else {}
    async with outbox.transaction():
        cart = await Cart.create(
            token=secrets.token_urlsafe(24),
            currency=currency,
            email=clean_email,
            customer=account,
            shipping_address=defaults.get(AddressType.SHIPPING),
            billing_address=defaults.get(AddressType.BILLING),
        )
        if lines:
            await _merge_lines(cart, lines, rules)
    return cart


async def add_lines(token: str, lines: list[tuple[int, int]], rules: CartRules = DEFAULT_RULES) -> Cart:
    if not lines:
        raise DomainError(ErrorCode.REQUIRED, "Give at least one line.", ["lines"])
    async with outbox.transaction():
        cart = await _locked(token)
        await _merge_lines(cart, lines, rules)
        await cart.save(update_fields=["updated_at"])
    return cart


async def update_lines(token: str, updates: list[tuple[int, int]], rules: CartRules = DEFAULT_RULES) -> Cart:
    """Set line quantities; 0 removes the line (as Shopify does)."""
    if not updates:
        raise DomainError(ErrorCode.REQUIRED, "Give at least one line.", ["lines"])
    async with outbox.transaction():
        cart = await _locked(token)
        lines = {line.id: line for line in await CartLine.filter(cart_id=cart.id)}
        for_sale = await sellable([lines[line_id].variant_id for line_id, _ in updates if line_id in lines])
        for index, (line_id, quantity) in enumerate(updates):
            line = lines.get(line_id)
            if line is None:
                raise DomainError(ErrorCode.NOT_FOUND, "This cart has no such line.", ["lines", str(index), "lineId"])
            if quantity == 0:
                continue
            _check_quantity(quantity, ["lines", str(index), "quantity"], rules)
            variant = for_sale.get(line.variant_id)
            if variant is None:
                raise DomainError(
                    ErrorCode.NOT_FOR_SALE,
                    "This item is no longer for sale; remove it.",
                    ["lines", str(index), "lineId"],
                )
            _check_available(variant, quantity, ["lines", str(index), "quantity"])
        # A 0 anywhere removes the line; otherwise the last quantity given for it holds.
        removed = {line_id for line_id, quantity in updates if quantity == 0}
        kept = {line_id: quantity for line_id, quantity in updates if line_id not in removed}
        if removed:
            await CartLine.filter(id__in=sorted(removed)).delete()
        for line_id, quantity in kept.items():
            lines[line_id].quantity = quantity
        if kept:
            await CartLine.bulk_update([lines[line_id] for line_id in kept], fields=["quantity"])
        await cart.save(update_fields=["updated_at"])  # a change: the cart is not abandoned
    return cart


async def remove_lines(token: str, line_ids: list[int]) -> Cart:
    async with outbox.transaction():
        cart = await _locked(token)
        owned = {line.id for line in await CartLine.filter(cart_id=cart.id, id__in=line_ids).only("id")}
        for index, line_id in enumerate(line_ids):
            if line_id not in owned:
                raise DomainError(ErrorCode.NOT_FOUND, "This cart has no such line.", ["lineIds", str(index)])
        await CartLine.filter(id__in=line_ids).delete()
        await cart.save(update_fields=["updated_at"])
    return cart


async def _set(token: str, name: str, value: object) -> Cart:
    """Set one of the cart's own fields, under its lock."""
    async with outbox.transaction():
        cart = await _locked(token)
        setattr(cart, name, value)
        await cart.save(update_fields=[name, "updated_at"])
    return cart


async def update_email(token: str, email: str) -> Cart:
    return await _set(token, "email", validate_email(email))


async def update_shipping_address(loaders: Loaders, token: str, values: dict[str, str | None]) -> Cart:
    """Store the address; a chosen shipping method that no longer serves it is cleared."""
    address = validate_address(values)
    async with outbox.transaction():
        cart = await _locked(token)
        cart.shipping_address = address
        if cart.shipping_method_id is not None:
            method = await loaders.shipping_method_by_id.load(cart.shipping_method_id)
            summary = await priced(loaders, cart)
            if (
                method is None
                or checkout.quote(method, address["country"], summary.weight_grams, summary.subtotal, cart.currency)
                is None
            ):
                cart.shipping_method_id = None
        await cart.save(update_fields=["shipping_address", "shipping_method_id", "updated_at"])
    return cart


async def update_shipping_method(loaders: Loaders, token: str, method_id: int) -> Cart:
    async with outbox.transaction():
        cart = await _locked(token)
        if not cart.shipping_address:
            raise DomainError(ErrorCode.SHIPPING_ADDRESS_REQUIRED, "Set a shipping address first.", ["cartToken"])
        # Through the loader: the cart's totals in the answer read the same method, from its cache.
        method = await loaders.shipping_method_by_id.load(method_id)
        summary = await priced(loaders, cart)
        if (
            method is None
            or checkout.quote(method, summary.country, summary.weight_grams, summary.subtotal, cart.currency) is None
        ):
            raise DomainError(
                ErrorCode.SHIPPING_METHOD_UNAVAILABLE,
                "This shipping method does not serve this cart.",
                ["shippingMethodId"],
            )
        cart.shipping_method_id = method.id
        try:
            await cart.save(update_fields=["shipping_method_id", "updated_at"])
        except IntegrityError:  # deleted by staff (shippingMethodDelete) since it was read
            raise DomainError(
                ErrorCode.SHIPPING_METHOD_UNAVAILABLE, "This shipping method has been removed.", ["shippingMethodId"]
            ) from None
    return cart


async def update_billing_address(token: str, values: dict[str, str | None]) -> Cart:
    """Store the address the order is billed to (validated as a shipping address is); a cart
    without one bills to its shipping address. Prices do not depend on it: tax follows where the
    order ships."""
    return await _set(token, "billing_address", validate_address(values))


def billing_address(cart: Cart) -> dict[str, str] | None:
    """Where the cart's order is billed: its billing address, else its shipping address."""
    return cart.billing_address or cart.shipping_address


@dataclass(frozen=True)
class CartTotals:
    totals: pricing.Totals
    discount_code: DiscountCode | None
    discount_problem: str | None  # why the applied code does not count now (None: it does)


async def cart_totals(loaders: Loaders, summary: PricedCart, prices_include_tax: bool) -> CartTotals:
    """Discount, shipping, tax and total for the cart as it is now."""
    cart = summary.cart
    code, problem, kind, value = None, None, None, Decimal(0)
    if cart.discount_code_id is not None:
        code = await DiscountCode.get_or_none(id=cart.discount_code_id)
        if code is not None:
            uses = await checkout.customer_uses(code, cart.customer_id)
            problem = checkout.discount_problem(code, summary.subtotal, uses, datetime.now(UTC))
            if problem is None:
                kind, value = code.kind.value, code.value
    shipping = None
    if cart.shipping_method_id is not None:
        method = await loaders.shipping_method_by_id.load(cart.shipping_method_id)
        quote = method and checkout.quote(
            method, summary.country, summary.weight_grams, summary.subtotal, cart.currency
        )
        shipping = quote.price if quote else None
    rate = Decimal(0)
    if summary.country:
        tax = await TaxRate.get_or_none(country=summary.country)
        rate = tax.rate if tax else Decimal(0)
    totals = pricing.totals(
        summary.subtotal,
        cart.currency,
        discount_kind=kind,
        discount_value=value,
        shipping=shipping,
        tax_rate=rate,
        prices_include_tax=prices_include_tax,
    )
    return CartTotals(totals, code, problem)


async def apply_discount(loaders: Loaders, token: str, code_text: str) -> Cart:
    """One code per cart (a new one replaces the old); a code that does not apply is refused with the reason."""
    async with outbox.transaction():
        cart = await _locked(token)
        code = await DiscountCode.get_or_none(code=code_text.strip().upper())
        if code is None:
            raise DomainError(ErrorCode.DISCOUNT_CODE_INVALID, "This code does not exist.", ["code"])
        summary = await priced(loaders, cart)
        uses = await checkout.customer_uses(code, cart.customer_id)
        problem = checkout.discount_problem(code, summary.subtotal, uses, datetime.now(UTC))
        if problem is not None:
            raise DomainError(ErrorCode.DISCOUNT_CODE_INVALID, problem, ["code"])
        cart.discount_code_id = code.id
        await cart.save(update_fields=["discount_code_id", "updated_at"])
    return cart


async def remove_discount(token: str, code_text: str) -> Cart:
    async with outbox.transaction():
        cart = await _locked(token)
        code = await DiscountCode.get_or_none(code=code_text.strip().upper())
        if code is None or cart.discount_code_id != code.id:
            raise DomainError(ErrorCode.NOT_FOUND, "This code is not applied to the cart.", ["code"])
        cart.discount_code_id = None
        await cart.save(update_fields=["discount_code_id", "updated_at"])
    return cart


async def merge_guest_cart(guest_token: str, account: Account, rules: CartRules = DEFAULT_RULES) -> Cart:
    """At sign-in: the guest cart joins the account's open cart (or becomes it, when it has none).

    Quantities add up, capped at what is available and at the per-line maximum, so a merge never
    fails a sign-in; the guest cart is deleted once merged.
    """
    async with outbox.transaction():
        guest = await _locked(guest_token)
        if guest.customer_id not in (None, account.id):
            raise DomainError(ErrorCode.NOT_FOUND, "No cart has this token.", ["cartToken"])
        target = await active_carts(account.id).exclude(id=guest.id).select_for_update().first()
        if target is None:
            # The guest cart becomes the customer's, filled in as a cart they started would be.
            defaults = await default_addresses(account.id)
            guest.customer_id = account.id
            guest.email = guest.email or account.email
            guest.shipping_address = guest.shipping_address or defaults.get(AddressType.SHIPPING)
            guest.billing_address = guest.billing_address or defaults.get(AddressType.BILLING)
            await guest.save(
                update_fields=["customer_id", "email", "shipping_address", "billing_address", "updated_at"]
            )
            return guest
        guest_lines = await CartLine.filter(cart_id=guest.id)
        existing = {line.variant_id: line for line in await CartLine.filter(cart_id=target.id)}
        for_sale = await sellable([line.variant_id for line in guest_lines])
        changed: list[CartLine] = []
        created: list[CartLine] = []
        for line in guest_lines:
            variant = for_sale.get(line.variant_id)
            if variant is None:
                continue
            current = existing[line.variant_id].quantity if line.variant_id in existing else 0
            quantity = min(current + line.quantity, variant.quantity_available, rules.max_line_quantity)
            if line.variant_id in existing:
                existing[line.variant_id].quantity = max(quantity, current)
                changed.append(existing[line.variant_id])
            elif quantity > 0:
                created.append(CartLine(cart_id=target.id, variant_id=line.variant_id, quantity=quantity))
        if changed:
            await CartLine.bulk_update(changed, fields=["quantity"])
        if created:
            await CartLine.bulk_create(created)
        await guest.delete()
        await target.save(update_fields=["updated_at"])
        return target


def _abandoned(cutoff: datetime) -> QuerySet[Cart]:
    # A guest's (no customer: a customer's cart is theirs on every device they sign in on), never
    # checked out (a completed cart belongs to its order), and not changed since `cutoff`.
    return Cart.filter(customer_id__isnull=True, completed_at__isnull=True, updated_at__lt=cutoff)


async def remove_abandoned(ttl: timedelta, size: int = batches.SIZE) -> int:
    """Delete the guest carts nobody has changed for `ttl` (CART_TTL_DAYS), with their lines; how
    many carts went. A cart holds no reservation (checkout reserves stock for the order), so its
    lines are all there is to remove."""
    cutoff = datetime.now(UTC) - ttl
    return await batches.delete_in_batches(lambda batch: _remove_abandoned(cutoff, batch), size)


async def _remove_abandoned(cutoff: datetime, size: int) -> int:
    async with in_transaction():
        # Locked as every cart change and checkout locks it, skipping the carts another transaction
        # holds (a checkout under way): the statement below then sees them as they are now.
        found = (
            await _abandoned(cutoff).order_by("id").limit(size).select_for_update(skip_locked=True).only("id", "token")
        )
        if not found:
            return 0
        # A checkout (or a payment session) records its payment before it locks the cart: one no
        # order holds yet that may hold money means a checkout is under way on this cart, or its
        # money is moving.
        paying = {
            payment.cart_token
            for payment in await Payment.filter(
                cart_token__in=[cart.token for cart in found], order_id__isnull=True, status__in=payments.UNSETTLED
            ).only("id", "cart_token")
        }
        ids = [cart.id for cart in found if cart.token not in paying]
        if not ids:
            return 0
        await CartLine.filter(cart_id__in=ids).delete()
        return await _abandoned(cutoff).filter(id__in=ids).delete()
