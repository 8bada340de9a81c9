"""Accounts: registration, sign-in with short-lived access tokens and rotating refresh tokens.

Access tokens are JWTs (HS256 under SECRET_KEY, 15 minutes) naming the account; the account is
read again on each request, so a deactivated account or a revoked permission takes effect at once.
Refresh tokens are random, stored only as a SHA-256, valid 30 days and rotated on every use.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from tortoise.exceptions import IntegrityError

from loaders import Loaders
from models import Account, Address, Permission, RefreshToken
from resolvers import outbox
from resolvers.countries import COUNTRIES
from resolvers.errors import DomainError

ACCESS_TOKEN_LIFETIME = timedelta(minutes=15)
REFRESH_TOKEN_LIFETIME = timedelta(days=30)
_JWT_ALGORITHM = "HS256"
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
_hasher = PasswordHasher()
# Verifying against this when the email is unknown keeps the answer time the same either way.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    account: Account


def normalize_email(email: str) -> str:
    return email.strip().lower()


def validate_email(email: str, field: str = "email") -> str:
    normalized = normalize_email(email)
    if len(normalized) > 254 or not _EMAIL.match(normalized):
        raise DomainError("INVALID", "Enter a valid email address.", [field])
    return normalized


def validate_password(password: str, email: str) -> None:
    """At least 8 characters (at most 128), not only digits, not the email address."""
    if len(password) < 8:
        raise DomainError("PASSWORD_TOO_SHORT", "The password must have at least 8 characters.", ["password"])
    if len(password) > 128:
        raise DomainError("INVALID", "The password may have at most 128 characters.", ["password"])
    if password.isdigit():
        raise DomainError("PASSWORD_TOO_COMMON", "The password must not consist of digits only.", ["password"])
    if password.strip().lower() == email.lower():
        raise DomainError("PASSWORD_TOO_SIMILAR", "The password must differ from the email address.", ["password"])


async def register_customer(email: str, password: str, first_name: str = "", last_name: str = "") -> Account:
    email = validate_email(email)
    validate_password(password, email)
    if len(first_name) > 100 or len(last_name) > 100:
        raise DomainError("INVALID", "Names may have at most 100 characters.", ["firstName" if len(first_name) > 100 else "lastName"])
    if await Account.filter(email=email).exists():
        raise DomainError("DUPLICATE", "An account with this email already exists.", ["email"])
    try:
        return await Account.create(
            email=email, password_hash=_hasher.hash(password), first_name=first_name.strip(), last_name=last_name.strip()
        )
    except IntegrityError:  # registered concurrently between the check and the insert
        raise DomainError("DUPLICATE", "An account with this email already exists.", ["email"]) from None


async def create_staff(email: str, password: str, permissions: list[Permission]) -> Account:
    """Bootstrap or promote a staff account (the `create-staff` command)."""
    email = validate_email(email)
    validate_password(password, email)
    values = {"password_hash": _hasher.hash(password), "is_staff": True, "permissions": sorted(p.value for p in permissions)}
    account, created = await Account.get_or_create(email=email, defaults=values)
    if not created:
        await Account.filter(id=account.id).update(**values)
        account = await Account.get(id=account.id)
    return account


async def sign_in(email: str, password: str, secret_key: str) -> TokenPair:
    """Wrong email and wrong password get the same answer, in the same time."""
    account = await Account.get_or_none(email=normalize_email(email), is_active=True)
    try:
        _hasher.verify(account.password_hash if account else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        account = None
    if account is None:
        raise DomainError("INVALID_CREDENTIALS", "The email or password is not correct.", ["email"])
    return await _issue(account, secret_key, family=secrets.token_hex(16))


async def refresh(refresh_token: str, secret_key: str) -> TokenPair:
    now = datetime.now(timezone.utc)
    invalid = DomainError("INVALID_TOKEN", "The refresh token is not valid.", ["refreshToken"])
    async with outbox.transaction():
        stored = await RefreshToken.filter(token_hash=_digest(refresh_token)).select_for_update().first()
        if stored is None or stored.expires_at <= now:
            raise invalid
        if stored.revoked_at is not None:
            # A used or revoked token came back: the whole family is treated as stolen. The
            # revocation must commit, so the refusal is raised after the transaction.
            await RefreshToken.filter(family=stored.family, revoked_at__isnull=True).update(revoked_at=now)
            pair = None
        else:
            account = await Account.get_or_none(id=stored.account_id, is_active=True)
            if account is None:
                raise invalid
            await RefreshToken.filter(id=stored.id).update(revoked_at=now)
            pair = await _issue(account, secret_key, family=stored.family)
    if pair is None:
        raise invalid
    return pair


async def revoke(refresh_token: str) -> bool:
    """Sign out: the token's whole family stops working. Unknown tokens are not an error."""
    stored = await RefreshToken.get_or_none(token_hash=_digest(refresh_token))
    if stored is None:
        return False
    await RefreshToken.filter(family=stored.family, revoked_at__isnull=True).update(revoked_at=datetime.now(timezone.utc))
    return True


def account_id_from_access_token(token: str, secret_key: str) -> int | None:
    """The account an access token names, or None when it is malformed, forged or expired."""
    try:
        claims = jwt.decode(token, secret_key, algorithms=[_JWT_ALGORITHM], options={"require": ["exp", "sub", "typ"]})
    except jwt.PyJWTError:
        return None
    if claims.get("typ") != "access":
        return None
    try:
        return int(claims["sub"])
    except (TypeError, ValueError):
        return None


async def _issue(account: Account, secret_key: str, family: str) -> TokenPair:
    now = datetime.now(timezone.utc)
    access = jwt.encode(
        {"sub": str(account.id), "typ": "access", "iat": now, "exp": now + ACCESS_TOKEN_LIFETIME, "jti": secrets.token_hex(8)},
        secret_key,
        algorithm=_JWT_ALGORITHM,
    )
    raw = secrets.token_urlsafe(32)
    await RefreshToken.create(account=account, token_hash=_digest(raw), family=family, expires_at=now + REFRESH_TOKEN_LIFETIME)
    return TokenPair(access, raw, account)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def viewer(loaders: Loaders, access_token: str | None, secret_key: str) -> Account | None:
    """The signed-in, active account an access token names, read through the loader."""
    if not access_token:
        return None
    account_id = account_id_from_access_token(access_token, secret_key)
    if account_id is None:
        return None
    account = await loaders.account_by_id.load(account_id)
    return account if account is not None and account.is_active else None


async def add_staff(email: str, password: str, permissions: list[Permission]) -> Account:
    """`staffCreate`: a new staff account; an existing email is a DUPLICATE, never a promotion."""
    email = validate_email(email)
    validate_password(password, email)
    if await Account.filter(email=email).exists():
        raise DomainError("DUPLICATE", "An account with this email already exists.", ["email"])
    try:
        return await Account.create(
            email=email, password_hash=_hasher.hash(password), is_staff=True,
            permissions=sorted(p.value for p in permissions),
        )
    except IntegrityError:
        raise DomainError("DUPLICATE", "An account with this email already exists.", ["email"]) from None


async def set_permissions(account_id: int, permissions: list[Permission], actor: Account | None) -> Account:
    account = await Account.get_or_none(id=account_id, is_staff=True)
    if account is None:
        raise DomainError("NOT_FOUND", "No staff account has this ID.", ["staffId"])
    values = sorted({p.value for p in permissions})
    if actor is not None and actor.id == account.id and Permission.MANAGE_STAFF.value not in values:
        # Nobody may lock themselves (possibly the last administrator) out of staff management.
        raise DomainError("INVALID", "You cannot remove MANAGE_STAFF from your own account.", ["permissions"])
    account.permissions = values
    await account.save(update_fields=["permissions"])
    return account


ADDRESS_LIMITS = {"first_name": 100, "last_name": 100, "company": 200, "line1": 200, "line2": 200, "city": 100,
                  "postal_code": 20, "region": 100, "phone": 40}
REQUIRED_ADDRESS_FIELDS = ("first_name", "last_name", "line1", "city", "postal_code", "country")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def validate_address(values: dict[str, str | None], prefix: str = "address") -> dict[str, str]:
    """Required fields present, lengths bounded, country an ISO 3166-1 alpha-2 code."""
    clean: dict[str, str] = {}
    for name in (*ADDRESS_LIMITS, "country"):
        value = (values.get(name) or "").strip()
        if name in REQUIRED_ADDRESS_FIELDS and not value:
            raise DomainError("REQUIRED", f"`{_camel(name)}` is required.", [prefix, _camel(name)])
        if name in ADDRESS_LIMITS and len(value) > ADDRESS_LIMITS[name]:
            raise DomainError("INVALID", f"`{_camel(name)}` may have at most {ADDRESS_LIMITS[name]} characters.", [prefix, _camel(name)])
        clean[name] = value
    clean["country"] = clean["country"].upper()
    if clean["country"] not in COUNTRIES:
        raise DomainError("INVALID", "`country` must be an ISO 3166-1 alpha-2 code such as DE.", [prefix, "country"])
    return clean


async def add_address(account: Account, values: dict[str, str | None]) -> Address:
    if await Address.filter(account_id=account.id).count() >= 20:
        raise DomainError("INVALID", "At most 20 addresses can be saved.", ["address"])
    return await Address.create(account_id=account.id, **validate_address(values))


async def remove_address(account: Account, address_id: int) -> Address:
    address = await Address.get_or_none(id=address_id, account_id=account.id)  # never someone else's
    if address is None:
        raise DomainError("NOT_FOUND", "You have no saved address with this ID.", ["id"])
    await address.delete()
    return address
