"""Staff accounts: bootstrapping one from the command line, creating them, setting their permissions,
deactivating and activating them.

An account is staff when `is_staff` is set; what it may do is its list of permissions, read again on
every request (resolvers/accounts.py: `viewer`), so a change counts from the next request. The same
read sees `is_active`: a deactivated account's access tokens stop working at its next request.
"""

from __future__ import annotations

from tortoise.exceptions import IntegrityError

from models import Account, Permission
from resolvers import accounts, outbox
from resolvers import accounts_passwords as passwords
from resolvers.accounts import TokenRules, hash_password, validate_email
from resolvers.errors import DomainError, ErrorCode


async def create_staff(email: str, password: str, permissions: list[Permission]) -> Account:
    """Bootstrap or promote a staff account (the `create-staff` command)."""
    email = validate_email(email)
    passwords.check(password, email)
    values = {
        "password_hash": hash_password(password),
        "is_staff": True,
        "permissions": sorted(p.value for p in permissions),
    }
    account, created = await Account.get_or_create(email=email, defaults=values)
    if not created:
        await Account.filter(id=account.id).update(**values)
        account = await Account.get(id=account.id)
    return account


async def add_staff(email: str, password: str, permissions: list[Permission]) -> Account:
    """`staffCreate`: a new staff account; an existing email is a DUPLICATE, never a promotion."""
    email = validate_email(email)
    passwords.check(password, email)
    if await Account.filter(email=email).exists():
        raise DomainError(ErrorCode.DUPLICATE, "An account with this email already exists.", ["email"])
    try:
        return await Account.create(
            email=email,
            password_hash=hash_password(password),
            is_staff=True,
            permissions=sorted(p.value for p in permissions),
        )
    except IntegrityError:
        raise DomainError(ErrorCode.DUPLICATE, "An account with this email already exists.", ["email"]) from None


async def set_permissions(account_id: int, permissions: list[Permission], actor: Account | None) -> Account:
    account = await Account.get_or_none(id=account_id, is_staff=True)
    if account is None:
        raise DomainError(ErrorCode.NOT_FOUND, "No staff account has this ID.", ["staffId"])
    values = sorted({p.value for p in permissions})
    if actor is not None and actor.id == account.id and Permission.MANAGE_STAFF.value not in values:
        # Nobody may lock themselves (possibly the last administrator) out of staff management.
        raise DomainError(ErrorCode.INVALID, "You cannot remove MANAGE_STAFF from your own account.", ["permissions"])
    account.permissions = values
    await account.save(update_fields=["permissions"])
    return account


async def set_active(account_id: int, active: bool, actor: Account | None, rules: TokenRules) -> Account:
    """`staffActivate` / `staffDeactivate`. Deactivated, the account cannot sign in or refresh (both
    read `is_active`), every refresh token of it is revoked at once, and its access tokens stop at
    its next request, as each request reads the account again; its sessions also go on the
    deny-list, which stops them without that read (until they would have expired anyway)."""
    async with outbox.transaction():
        account = await Account.filter(id=account_id, is_staff=True).select_for_update().first()
        if account is None:
            raise DomainError(ErrorCode.NOT_FOUND, "No staff account has this ID.", ["id"])
        if not active and actor is not None and actor.id == account.id:
            # Nobody may lock themselves (possibly the last administrator) out.
            raise DomainError(ErrorCode.INVALID, "You cannot deactivate your own account.", ["id"])
        account.is_active = active
        await account.save(update_fields=["is_active"])
        ended = [] if active else await accounts.end_sessions(account.id)
    await accounts.deny_sessions(ended, rules)  # after the commit: a rolled-back change denies nothing
    return account
