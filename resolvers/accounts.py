"""Accounts: registration, sign-in with short-lived access tokens and rotating refresh tokens.

Access tokens are JWTs (HS256 under SECRET_KEY, 15 minutes by default) naming the account and the
session (the refresh token family) they were issued for; the account is read again on each
request, so a deactivated account or a revoked permission takes effect at once, and a signed-out
session is on a short deny-list (`RevokedSessions`) until its access tokens would have expired.
Refresh tokens are random, stored only as a SHA-256, valid 30 days and rotated on every use. A
token used again within `TokenRules.refresh_grace` of its rotation (two tabs refreshing at once)
gets the same successor pair back; used again later, it revokes its whole family.

The password policy is `accounts_passwords`; the profile and the password change `accounts_profile`;
saved addresses `addresses`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from tortoise.exceptions import IntegrityError

from loaders import Loaders
from models import Account, Permission, RefreshToken
from models.accounts import EMAIL_LENGTH, PERSON_NAME_LENGTH
from resolvers import accounts_listing, batches, outbox
from resolvers import accounts_passwords as passwords
from resolvers.errors import DomainError, ErrorCode

ACCESS_TOKEN_LIFETIME = timedelta(minutes=15)
REFRESH_TOKEN_LIFETIME = timedelta(days=30)
REFRESH_REUSE_GRACE = timedelta(seconds=5)
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
    access_expires_at: datetime  # the access token's `exp`, in whole seconds as the JWT holds it
    refresh_expires_at: datetime  # as the refresh token's row holds it


@dataclass(frozen=True)
class AccessClaims:
    """What a valid access token says: whose it is, for which session, until when."""

    account_id: int
    session: str | None  # the refresh token family; None on tokens issued before sessions were named
    expires_at: float  # POSIX seconds


class RevokedSessions(Protocol):
    """Signed-out sessions, remembered until their last access token has expired (gateway/sessions.py)."""

    async def add(self, session: str, ttl_seconds: float) -> None: ...

    async def contains(self, session: str) -> bool: ...


@dataclass(frozen=True)
class TokenRules:
    access_ttl: timedelta = ACCESS_TOKEN_LIFETIME
    refresh_grace: timedelta = REFRESH_REUSE_GRACE
    revoked: RevokedSessions | None = None
    # REQUIRE_EMAIL_CONFIRMATION: a customer signs in only once their address is confirmed.
    require_confirmed_email: bool = False


def normalize_email(email: str) -> str:
    return email.strip().lower()


def hash_password(password: str) -> str:
    """Argon2id, salted: what an account stores instead of its password."""
    return _hasher.hash(password)


def validate_email(email: str, field: str = "email") -> str:
    normalized = normalize_email(email)
    if len(normalized) > EMAIL_LENGTH:
        raise DomainError(ErrorCode.TOO_LONG, f"An email address may have at most {EMAIL_LENGTH} characters.", [field])
    if not _EMAIL.match(normalized):
        raise DomainError(ErrorCode.INVALID_EMAIL, "Enter a valid email address.", [field])
    return normalized


async def register_customer(email: str, password: str, first_name: str = "", last_name: str = "") -> Account:
    email = validate_email(email)
    passwords.check(password, email)
    for name, value in (("firstName", first_name), ("lastName", last_name)):
        if len(value.strip()) > PERSON_NAME_LENGTH:
            raise DomainError(ErrorCode.TOO_LONG, f"`{name}` may have at most {PERSON_NAME_LENGTH} characters.", [name])
    if await Account.filter(email=email).exists():
        raise DomainError(ErrorCode.DUPLICATE, "An account with this email already exists.", ["email"])
    try:
        return await Account.create(
            email=email,
            password_hash=hash_password(password),
            first_name=first_name.strip(),
            last_name=last_name.strip(),
        )
    except IntegrityError:  # registered concurrently between the check and the insert
        raise DomainError(ErrorCode.DUPLICATE, "An account with this email already exists.", ["email"]) from None


async def sign_in(email: str, password: str, secret_key: str, rules: TokenRules = TokenRules()) -> TokenPair:
    """Wrong email and wrong password get the same answer, in the same time."""
    account = await Account.get_or_none(email=normalize_email(email), is_active=True)
    try:
        _hasher.verify(account.password_hash if account else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        account = None
    if account is None:
        raise DomainError(ErrorCode.INVALID_CREDENTIALS, "The email or password is not correct.", ["email"])
    # Told only to whoever knows the password: it says nothing to a guesser.
    if rules.require_confirmed_email and not account.is_staff and not account.email_confirmed:
        raise DomainError(
            ErrorCode.EMAIL_NOT_CONFIRMED,
            "Confirm your email address first: follow the link sent to it when you registered.",
            ["email"],
        )
    return await start_session(account, secret_key, rules)


def password_matches(account: Account, password: str) -> bool:
    """Whether `password` is the account's (Argon2's constant-time check)."""
    try:
        return _hasher.verify(account.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def start_session(account: Account, secret_key: str, rules: TokenRules = TokenRules()) -> TokenPair:
    """A new session (refresh token family) for the account, and its first token pair."""
    now = datetime.now(UTC)
    return await _issue(account, secret_key, secrets.token_hex(16), rules, now, secrets.token_urlsafe(32))


async def end_sessions(account_id: int) -> list[str]:
    """Revoke every refresh token of the account; the sessions (families) that were live, to be
    passed to `deny_sessions` once the transaction this runs in has committed."""
    live = RefreshToken.filter(account_id=account_id, revoked_at__isnull=True)
    families = sorted({str(family) for family in await live.values_list("family", flat=True)})
    await live.update(revoked_at=datetime.now(UTC))
    return families


async def deny_sessions(families: list[str], rules: TokenRules) -> None:
    """The access tokens of these ended sessions stop working at once, not when they expire."""
    for family in families:
        await _deny(family, rules)


async def refresh(refresh_token: str, secret_key: str, rules: TokenRules = TokenRules()) -> TokenPair:
    now = datetime.now(UTC)
    invalid = DomainError(ErrorCode.INVALID_TOKEN, "The refresh token is not valid.", ["refreshToken"])
    # The successor is derived from the token (keyed by SECRET_KEY), not drawn at random: a repeat
    # within the grace window can then be given the same pair without storing it anywhere.
    successor = _successor(refresh_token, secret_key)
    async with outbox.transaction():
        stored = await RefreshToken.filter(token_hash=_digest(refresh_token)).select_for_update().first()
        if stored is None or stored.expires_at <= now:
            raise invalid
        if stored.revoked_at is None:
            account = await Account.get_or_none(id=stored.account_id, is_active=True)
            if account is None:
                raise invalid
            await RefreshToken.filter(id=stored.id).update(revoked_at=now)
            pair: TokenPair | None = await _issue(account, secret_key, stored.family, rules, now, successor)
        elif now - stored.revoked_at <= rules.refresh_grace:
            pair = await _repeat(stored, successor, secret_key, rules)
        else:
            pair = None
        if pair is None:
            # A used or revoked token came back: the whole family is treated as stolen. The
            # revocation must commit, so the refusal is raised after the transaction.
            await RefreshToken.filter(family=stored.family, revoked_at__isnull=True).update(revoked_at=now)
    if pair is None:
        await _deny(stored.family, rules)
        raise invalid
    return pair


async def _repeat(stored: RefreshToken, successor: str, secret_key: str, rules: TokenRules) -> TokenPair | None:
    """The pair `stored` was rotated into, if that rotation is what revoked it and the successor
    is still unused; None when the family was revoked or the successor has been used in turn."""
    assert stored.revoked_at is not None
    issued = await RefreshToken.filter(token_hash=_digest(successor), revoked_at__isnull=True).first()
    if issued is None:
        return None
    account = await Account.get_or_none(id=stored.account_id, is_active=True)
    if account is None:
        return None
    expires_at = _access_expiry(stored.revoked_at, rules.access_ttl)
    access = _access_token(account.id, stored.family, stored.revoked_at, expires_at, successor, secret_key)
    return TokenPair(access, successor, account, access_expires_at=expires_at, refresh_expires_at=issued.expires_at)


async def revoke(refresh_token: str, rules: TokenRules = TokenRules()) -> bool:
    """Sign out: the token's whole family stops working, its access tokens included. Unknown
    tokens are not an error."""
    stored = await RefreshToken.get_or_none(token_hash=_digest(refresh_token))
    if stored is None:
        return False
    await RefreshToken.filter(family=stored.family, revoked_at__isnull=True).update(revoked_at=datetime.now(UTC))
    await _deny(stored.family, rules)
    return True


async def prune_refresh_tokens(size: int = batches.SIZE) -> int:
    """Delete the refresh tokens past their expiry, used and revoked ones included; how many went.

    A used or revoked token is kept until then for the reuse detection: presented again, it
    revokes its family. Once expired, `refresh` refuses it before that check, so the row serves
    nothing any more."""
    now = datetime.now(UTC)
    return await batches.delete_in_batches(lambda batch: _prune_refresh_tokens(now, batch), size)


async def _prune_refresh_tokens(now: datetime, size: int) -> int:
    ids = await RefreshToken.filter(expires_at__lte=now).order_by("id").limit(size).values_list("id", flat=True)
    return await RefreshToken.filter(id__in=list(ids), expires_at__lte=now).delete() if ids else 0


async def _deny(family: str, rules: TokenRules) -> None:
    # Access tokens are checked by signature alone; until the last one issued for this family
    # expires, the deny-list is what stops them.
    if rules.revoked is not None:
        await rules.revoked.add(family, rules.access_ttl.total_seconds())


def access_claims(token: str, secret_key: str) -> AccessClaims | None:
    """What an access token says, or None when it is malformed, forged or expired. A signature
    check only: no database, no Redis (the rate limiter calls it on every signed-in request)."""
    try:
        claims = jwt.decode(token, secret_key, algorithms=[_JWT_ALGORITHM], options={"require": ["exp", "sub", "typ"]})
    except jwt.PyJWTError:
        return None
    if claims.get("typ") != "access":
        return None
    session = claims.get("sid")
    try:
        return AccessClaims(int(claims["sub"]), session if isinstance(session, str) else None, float(claims["exp"]))
    except (TypeError, ValueError):
        return None


def account_id_from_access_token(token: str, secret_key: str) -> int | None:
    """The account an access token names, or None when it is malformed, forged or expired."""
    claims = access_claims(token, secret_key)
    return None if claims is None else claims.account_id


async def _issue(
    account: Account, secret_key: str, family: str, rules: TokenRules, now: datetime, raw: str
) -> TokenPair:
    """A refresh token `raw` (stored as its hash) issued at `now`, and its access token."""
    refresh_expires_at = now + REFRESH_TOKEN_LIFETIME
    await RefreshToken.create(account=account, token_hash=_digest(raw), family=family, expires_at=refresh_expires_at)
    access_expires_at = _access_expiry(now, rules.access_ttl)
    access = _access_token(account.id, family, now, access_expires_at, raw, secret_key)
    return TokenPair(access, raw, account, access_expires_at=access_expires_at, refresh_expires_at=refresh_expires_at)


def _access_expiry(issued_at: datetime, ttl: timedelta) -> datetime:
    # A JWT's `exp` is whole seconds (PyJWT drops the fraction): the expiry told is the one it holds.
    return (issued_at + ttl).replace(microsecond=0)


def _access_token(
    account_id: int, family: str, issued_at: datetime, expires_at: datetime, refresh_token: str, secret_key: str
) -> str:
    # Everything in it follows from its refresh token and issue time (HS256 is deterministic), so
    # a refresh repeated within the grace window gets the very same token.
    claims = {
        "sub": str(account_id),
        "typ": "access",
        "sid": family,
        "iat": issued_at,
        "exp": expires_at,
        "jti": _digest("jti:" + refresh_token)[:16],
    }
    return jwt.encode(claims, secret_key, algorithm=_JWT_ALGORITHM)


def _successor(refresh_token: str, secret_key: str) -> str:
    """The refresh token that `refresh_token` rotates into: unguessable without SECRET_KEY."""
    mac = hmac.new(secret_key.encode(), b"refresh-successor:" + refresh_token.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def viewer(
    loaders: Loaders, access_token: str | None, secret_key: str, revoked: RevokedSessions | None = None
) -> Account | None:
    """The signed-in, active account an access token names, read through the loader; None when
    the token is not valid or its session was signed out."""
    if not access_token:
        return None
    claims = access_claims(access_token, secret_key)
    if claims is None:
        return None
    if claims.session is not None and revoked is not None and await revoked.contains(claims.session):
        return None
    account = await loaders.account_by_id.load(claims.account_id)
    return account if account is not None and account.is_active else None


async def account_by_id(loaders: Loaders, account_id: int, viewer: Account | None) -> Account | None:
    """An account by its ID: one's own (what `me` shows), any account for staff who manage
    accounts (MANAGE_STAFF, whose mutations return them), a customer's for staff who manage
    customers (MANAGE_CUSTOMERS); nobody else learns that it exists."""
    if viewer is None:
        return None
    if viewer.id == account_id:
        return viewer
    if viewer.has_permission(Permission.MANAGE_STAFF):
        return await loaders.account_by_id.load(account_id)
    if viewer.has_permission(Permission.MANAGE_CUSTOMERS):
        return await accounts_listing.customer_by_id(loaders, account_id)
    return None
