"""A forgotten password: a link by email (`request_reset`), then a new password (`reset_password`).
Customers and staff alike.

Asking tells nothing about whether the address has an account: the answer is the same, and so is
the work behind it, within a statement (a transaction that looks the account up and writes an
outbox row, whose delivery job is deferred after the commit; the email itself is sent by a job of
its own, so no answer waits for the SMTP server). Only the address's owner learns, from the email.

Following the link sets the password under the one policy (resolvers/accounts_passwords.py),
confirms the address (the link proved its owner reads it), discards the account's other
outstanding links, signs every session out and signs the customer in, as a password change does.
"""

from __future__ import annotations

from models import Account
from models.accounts import EMAIL_LENGTH
from models.changes import ACCOUNT_MESSAGE, Change
from resolvers import account_tokens, accounts, outbox
from resolvers import accounts_passwords as passwords
from resolvers.account_tokens import LinkRules, Purpose
from resolvers.accounts import TokenPair, TokenRules


async def request_reset(email: str, redirect_url: str, rules: LinkRules, secret_key: str) -> None:
    """Send a reset link to `email` if an active account has it; the same answer either way."""
    # The URL first: a refused one is refused for every address alike.
    base = account_tokens.link_base(redirect_url, rules)
    address = accounts.normalize_email(email)
    async with outbox.transaction():
        fits = len(address) <= EMAIL_LENGTH  # a longer one is no account's, and no key for the index
        account = await Account.get_or_none(email=address, is_active=True) if fits else None
        if account is None:
            # No account: an event that asks for no email, so the work (and the time) is the same.
            outbox.record(Change(ACCOUNT_MESSAGE, {"message": None}))
            return
        await account_tokens.issue(
            account,
            Purpose.PASSWORD_RESET,
            rules.password_reset_ttl,
            account_tokens.PASSWORD_RESET,
            base,
            secret_key,
        )


async def reset_password(token: str, password: str, secret_key: str, rules: TokenRules) -> TokenPair:
    """The account's new password, and a session for it; INVALID_TOKEN for a link not valid (any
    more), a policy error for a password refused (the link still works then)."""
    async with outbox.transaction():
        used = await account_tokens.take(token, [Purpose.PASSWORD_RESET])
        account = await Account.filter(id=used.account_id, is_active=True).select_for_update().first()
        if account is None:  # deactivated since the link was sent: it is no way back in
            raise account_tokens.invalid_token()
        passwords.check(password, account.email)  # refused: the transaction rolls back, the link stays
        account.password_hash = accounts.hash_password(password)
        account.email_confirmed = True
        await account.save(update_fields=["password_hash", "email_confirmed"])
        await account_tokens.discard(account.id, account_tokens.AFTER_PASSWORD_CHANGE)
        ended = await accounts.end_sessions(account.id)
        pair = await accounts.start_session(account, secret_key, rules)
    await accounts.deny_sessions(ended, rules)
    return pair
