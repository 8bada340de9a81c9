"""The signed-in customer's own details: name, phone, marketing consent, and their password.

A password change needs the current password, follows the one policy (resolvers/accounts_passwords.py),
and signs every session of the account out, the one it was made from included: that one gets a
fresh token pair in the answer, so only a thief holding an old token is locked out. The links sent
by email for the account (resolvers/account_tokens.py) stop working, but for confirming its address.
"""

from __future__ import annotations

from dataclasses import dataclass

from models import Account
from models.accounts import ADDRESS_LENGTHS, PERSON_NAME_LENGTH
from resolvers import account_tokens, accounts, outbox
from resolvers import accounts_passwords as passwords
from resolvers.accounts import TokenPair, TokenRules
from resolvers.errors import DomainError, ErrorCode

PHONE_LENGTH = ADDRESS_LENGTHS["phone"]


@dataclass(frozen=True)
class ProfileChanges:
    """What `customerUpdate` was given; None leaves a field as it is."""

    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    marketing_consent: bool | None = None


def _text(value: str, field: str, limit: int) -> str:
    clean = value.strip()
    if len(clean) > limit:
        raise DomainError(ErrorCode.TOO_LONG, f"`{field}` may have at most {limit} characters.", [field])
    return clean


async def update_profile(account: Account, changes: ProfileChanges) -> Account:
    """Only the fields given change; an empty text clears the field."""
    values: dict[str, str | bool] = {}
    for name, field, value, limit in (
        ("first_name", "firstName", changes.first_name, PERSON_NAME_LENGTH),
        ("last_name", "lastName", changes.last_name, PERSON_NAME_LENGTH),
        ("phone", "phone", changes.phone, PHONE_LENGTH),
    ):
        if value is not None:
            values[name] = _text(value, field, limit)
    if changes.marketing_consent is not None:
        values["marketing_consent"] = changes.marketing_consent
    if values:
        await Account.filter(id=account.id).update(**values)
        for name, new in values.items():
            setattr(account, name, new)
    return account


async def change_password(
    account: Account, current_password: str, new_password: str, secret_key: str, rules: TokenRules
) -> TokenPair:
    if not accounts.password_matches(account, current_password):
        raise DomainError(ErrorCode.INVALID_CREDENTIALS, "The current password is not correct.", ["currentPassword"])
    passwords.check(new_password, account.email, "newPassword")
    async with outbox.transaction():
        # Under the account's row lock: a change made at the same time from another session waits,
        # then finds its current password no longer matches the stored hash it re-reads.
        locked = await Account.filter(id=account.id).select_for_update().first()
        if locked is None or not locked.is_active or locked.password_hash != account.password_hash:
            raise DomainError(
                ErrorCode.INVALID_CREDENTIALS, "The current password is not correct.", ["currentPassword"]
            )
        locked.password_hash = accounts.hash_password(new_password)
        await locked.save(update_fields=["password_hash"])
        # A reset, an email change or a deletion asked for before (by whoever had the password) stops.
        await account_tokens.discard(locked.id, account_tokens.AFTER_PASSWORD_CHANGE)
        ended = await accounts.end_sessions(locked.id)
        pair = await accounts.start_session(locked, secret_key, rules)
    await accounts.deny_sessions(ended, rules)
    return pair
