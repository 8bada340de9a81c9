"""The right to be forgotten: a signed-in customer asks (`request_deletion`, a link by email), and
following the link (`delete_account`) erases the account in one transaction.

What goes: the account row and with it its saved addresses, refresh tokens, links and copies of
its data (`customerDataExport`; their foreign keys cascade); its carts, checked out or not, with their lines (they hold its email and
addresses); every session, at once (the deny-list, as a sign-out). What stays, for the books: its
orders with their lines, amounts and totals untouched, no longer linked to an account, their email
blanked and their addresses reduced to the country (what taxes were charged by); the emails sent
about them keep their kind and date, not their recipient or text, so an order that changes later is
not sent an email again (resolvers/emails.py sends none to an order without an address). The
address is free: it can register again.

Left to their own retention: outbox rows (OUTBOX_RETENTION) and webhook deliveries
(WEBHOOK_LOG_RETENTION_DAYS), which may hold copies of the orders as they were.
"""

from __future__ import annotations

from typing import Any

from models import Account, Cart, Order, Return, SentEmail
from models.changes import CUSTOMER_DELETED, DELETED, EVENT, Change
from resolvers import account_tokens, accounts, outbox
from resolvers.account_tokens import LinkRules, Purpose
from resolvers.accounts import TokenRules
from resolvers.errors import DomainError, ErrorCode


async def request_deletion(account: Account, redirect_url: str | None, rules: LinkRules, secret_key: str) -> None:
    """Email the signed-in customer a link that deletes their account."""
    if account.is_staff:
        # A staff account is the shop's, not a customer's own: staff deactivate it (staffDeactivate).
        raise DomainError(ErrorCode.INVALID, "A staff account is not deleted this way: ask for it to be deactivated.")
    base = account_tokens.link_base(redirect_url, rules)
    async with outbox.transaction():
        await account_tokens.issue(
            account, Purpose.DELETION, account_tokens.DELETION_TTL, account_tokens.DELETION, base, secret_key
        )


def _erased(address: dict[str, Any] | None) -> dict[str, Any] | None:
    """An order's address with nothing personal left but the country: every field kept, empty, so
    the order still shows as an order does."""
    if address is None:
        return None
    return {key: "" for key in address} | {"country": address.get("country", "")}


async def delete_account(token: str, rules: TokenRules) -> int:
    """Erase the account the deletion link names; its ID."""
    async with outbox.transaction():
        used = await account_tokens.take(token, [Purpose.DELETION])
        account = await Account.filter(id=used.account_id).select_for_update().first()
        if account is None:
            raise account_tokens.invalid_token()
        orders = await Order.filter(customer_id=account.id).select_for_update().order_by("id")
        for order in orders:
            await Order.filter(id=order.id).update(
                customer_id=None,
                email="",
                shipping_address=_erased(order.shipping_address),
                billing_address=_erased(order.billing_address),
            )
        order_ids = [order.id for order in orders]
        if order_ids:
            await SentEmail.filter(order_id__in=order_ids).update(recipient="", message="")
            await Return.filter(order_id__in=order_ids).update(requested_by="")  # who asked: their email
        await SentEmail.filter(recipient=account.email).update(recipient="", message="")
        await Cart.filter(customer_id=account.id).delete()
        ended = await accounts.end_sessions(account.id)
        await account.delete()  # addresses, refresh tokens and links go with it
        # Nothing subscribes to it (no topics): a subscription of the account ends at its next
        # check of the viewer. Consumers of the outbox (an audit, a CRM hook) hear of it.
        outbox.record(Change(CUSTOMER_DELETED, {"id": account.id, EVENT: DELETED, "orders": order_ids}))
    await accounts.deny_sessions(ended, rules)
    return account.id
