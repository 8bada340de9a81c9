"""Whose address is it: confirming the email address at registration, and changing it.

Registration sends a link to the new address (`register`); following it (`confirm`) marks the
account's address confirmed, which REQUIRE_EMAIL_CONFIRMATION makes a condition of signing in
(resolvers/accounts.py `sign_in`; a password reset confirms too, the link having reached the same
inbox). A change of address (`request_change`) needs the password, and takes effect only when the
link sent to the new address is followed: the same `confirm`, which knows the two kinds of link
apart. The old address is told at once, so its owner can stop a change they did not ask for (a
password change discards the link).

Asking for a change to an address another account has answers as for any other, and sends the
new address nothing (it could never be confirmed): only whoever reads that inbox could tell.
"""

from __future__ import annotations

from tortoise.exceptions import IntegrityError

from models import Account
from models.changes import ACCOUNT_MESSAGE, Change
from resolvers import account_tokens, accounts, outbox
from resolvers.account_tokens import LinkRules, Purpose
from resolvers.errors import DomainError, ErrorCode


async def register(
    email: str,
    password: str,
    first_name: str,
    last_name: str,
    redirect_url: str | None,
    rules: LinkRules,
    secret_key: str,
) -> Account:
    """A new customer account, and the link confirming its address, in one transaction."""
    base = account_tokens.link_base(redirect_url, rules)
    async with outbox.transaction():
        account = await accounts.register_customer(email, password, first_name, last_name)
        await account_tokens.issue(
            account,
            Purpose.EMAIL_CONFIRMATION,
            account_tokens.EMAIL_CONFIRMATION_TTL,
            account_tokens.EMAIL_CONFIRMATION,
            base,
            secret_key,
        )
    return account


def _taken() -> DomainError:
    return DomainError(ErrorCode.DUPLICATE, "Another account has this email address now.", ["token"])


async def confirm(token: str) -> Account:
    """Follow a confirmation link (the address confirmed) or an email change link (the account moves
    to the new address, confirmed); INVALID_TOKEN for a link not valid (any more)."""
    async with outbox.transaction():
        used = await account_tokens.take(token, [Purpose.EMAIL_CONFIRMATION, Purpose.EMAIL_CHANGE])
        account = await Account.filter(id=used.account_id, is_active=True).select_for_update().first()
        if account is None:
            raise account_tokens.invalid_token()
        if used.purpose == Purpose.EMAIL_CONFIRMATION.value:
            if account.email != used.email:  # the address changed since: this link confirms nothing
                raise account_tokens.invalid_token()
        else:
            if await Account.filter(email=used.email).exclude(id=account.id).exists():
                raise _taken()
            account.email = used.email
            # The newest change wins; links confirming the old address confirm nothing now.
            await account_tokens.discard(account.id, [Purpose.EMAIL_CHANGE, Purpose.EMAIL_CONFIRMATION])
        account.email_confirmed = True
        try:
            await account.save(update_fields=["email", "email_confirmed"])
        except IntegrityError:  # the address was registered between the check and the update
            raise _taken() from None
    return account


async def request_change(
    account: Account, new_email: str, password: str, redirect_url: str | None, rules: LinkRules, secret_key: str
) -> None:
    """Send a link to `new_email` that moves the signed-in account there, and tell the old address."""
    base = account_tokens.link_base(redirect_url, rules)
    if not accounts.password_matches(account, password):
        raise DomainError(ErrorCode.INVALID_CREDENTIALS, "The password is not correct.", ["password"])
    address = accounts.validate_email(new_email, "newEmail")
    if address == account.email:
        raise DomainError(ErrorCode.INVALID, "This is the account's email address already.", ["newEmail"])
    async with outbox.transaction():
        # One change at a time: an earlier link to another address stops working.
        await account_tokens.discard(account.id, [Purpose.EMAIL_CHANGE])
        if await Account.filter(email=address).exists():
            outbox.record(Change(ACCOUNT_MESSAGE, {"message": None}))  # the same work, no link
        else:
            await account_tokens.issue(
                account,
                Purpose.EMAIL_CHANGE,
                account_tokens.EMAIL_CHANGE_TTL,
                account_tokens.EMAIL_CHANGE,
                base,
                secret_key,
                to=address,
            )
        account_tokens.message(account_tokens.EMAIL_CHANGE_NOTICE, account.email, account, new_email=address)
