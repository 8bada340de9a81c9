"""Links sent by email that let whoever holds them act on an account once: reset its password,
confirm its email address (or a new one), delete it; and the storefront URLs such links may lead to.

A link is `<redirectUrl>?token=<token>`, where `redirectUrl` must lie on one of the storefronts of
STOREFRONT_URLS (never an open redirect: a link in an email from this shop leads only to its shops).
The storefront page sends the token back (`customerResetPassword`, `customerConfirmEmail`,
`customerDelete`). A token is single use, expires, and is discarded when the account's password
changes (`discard`).

What is stored where, and why the raw token exists only in the email:

- `account_token.token_hash`: the token's SHA-256 (random tokens need no slow hash). A leaked table
  gives nobody a working link.
- The outbox row announcing the email (kind ACCOUNT_MESSAGE, written in the transaction that
  stored the hash, so the email is planned exactly when the token exists): the recipient, the link's
  base and a random `seed`, not the token. The token is HMAC-SHA256(SECRET_KEY, seed): the email
  consumer, which has SECRET_KEY, makes it when it composes the email; whoever reads the database (or
  the event bus, which carries the row to nobody: it has no topics) without SECRET_KEY cannot. The
  row is pruned with the outbox (OUTBOX_RETENTION).
- `sent_email.message`: the composed email, link included, from the moment it is planned until it
  is sent (seconds; longer only while the SMTP server is away and its job retries), since a retry
  sends the very same message. Once SENT or FAILED, resolvers/emails.py blanks it (`MESSAGES` are
  its `secret_kinds`).

`AccountLetters` composes these emails for resolvers/emails.py, as the `Letters` of ACCOUNT_MESSAGE.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from tortoise.expressions import Q

from models import Account, AccountToken, AccountTokenPurpose
from models.changes import ACCOUNT_MESSAGE, Change
from resolvers import batches, outbox
from resolvers.emails import Letter
from resolvers.errors import DomainError, ErrorCode

Purpose = AccountTokenPurpose
URL_LENGTH = 2000  # the longest redirectUrl accepted
DEFAULT_STOREFRONTS = "http://localhost:3000,http://127.0.0.1:3000"
# How long each link works. The password reset's is PASSWORD_RESET_TTL (`LinkRules`); confirming an
# address may wait for a slow inbox; a deletion is asked for by someone signed in, who acts at once.
EMAIL_CONFIRMATION_TTL = timedelta(days=3)
EMAIL_CHANGE_TTL = timedelta(days=1)
DELETION_TTL = timedelta(hours=1)

# The emails (resolvers/emails.py kinds) a change of kind ACCOUNT_MESSAGE asks for.
PASSWORD_RESET = "password_reset"
EMAIL_CONFIRMATION = "email_confirmation"
EMAIL_CHANGE = "email_change"  # to the new address: the link that makes the change
EMAIL_CHANGE_NOTICE = "email_change_notice"  # to the old address: a change was asked for
DELETION = "account_deletion"
MESSAGES = (PASSWORD_RESET, EMAIL_CONFIRMATION, EMAIL_CHANGE, EMAIL_CHANGE_NOTICE, DELETION)
SUBJECTS = {
    PASSWORD_RESET: "Reset your password",
    EMAIL_CONFIRMATION: "Confirm your email address",
    EMAIL_CHANGE: "Confirm your new email address",
    EMAIL_CHANGE_NOTICE: "Your email address is being changed",
    DELETION: "Confirm the deletion of your account",
}


@dataclass(frozen=True)
class LinkRules:
    """Where links may lead (STOREFRONT_URLS, parsed by `storefronts`) and how long a password reset works."""

    storefronts: tuple[str, ...] = ("http://localhost:3000", "http://127.0.0.1:3000")
    password_reset_ttl: timedelta = timedelta(hours=1)


def storefronts(value: str) -> tuple[str, ...]:
    """STOREFRONT_URLS: comma-separated URL prefixes, each http(s) with a host, no query or fragment.
    Raises ValueError naming the bad entry."""
    found = tuple(part.strip() for part in value.split(",") if part.strip())
    if not found:
        raise ValueError("expected at least one storefront URL such as https://shop.example.com")
    for url in found:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError(f"expected storefront URLs such as https://shop.example.com/account, got {url!r}")
        if parts.username is not None or parts.password is not None:
            raise ValueError(f"a storefront URL may not hold a user name or password, got {url!r}")
    return found


def _origin_and_path(url: str) -> tuple[str, str, int | None, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port, parts.path or "/"


def link_base(url: str | None, rules: LinkRules, field: str = "redirectUrl") -> str:
    """The URL a link is built on: `url` when it lies on an allowed storefront (same scheme, host and
    port, and under the storefront's path), else refused; left out, the first storefront."""
    if url is None:
        return rules.storefronts[0]
    refused = DomainError(
        ErrorCode.REDIRECT_URL_NOT_ALLOWED,
        "The URL must be a page of one of the shop's storefronts (STOREFRONT_URLS).",
        [field],
    )
    url = url.strip()
    if len(url) > URL_LENGTH or any(c.isspace() or ord(c) < 32 for c in url):
        raise refused
    try:
        parts = urlsplit(url)
        scheme, host, port, path = _origin_and_path(url)
    except ValueError:  # a port out of range, brackets that do not close
        raise refused from None
    if parts.username is not None or parts.password is not None or parts.fragment:
        raise refused
    for allowed in rules.storefronts:
        a_scheme, a_host, a_port, a_path = _origin_and_path(allowed)
        if (scheme, host, port) != (a_scheme, a_host, a_port):
            continue
        # Under the storefront's path: `/account` allows `/account/reset`, not `/accounting`.
        if a_path == "/" or path == a_path or path.startswith(a_path.rstrip("/") + "/"):
            return url
    raise refused


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_of(seed: str, secret_key: str) -> str:
    """The token a message's seed stands for: only whoever holds SECRET_KEY can make it."""
    mac = hmac.new(secret_key.encode(), b"account-token:" + seed.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def link(payload: dict[str, Any], secret_key: str) -> str:
    """The link of an ACCOUNT_MESSAGE change's payload, token included ("" for a message without one)."""
    seed = payload.get("seed")
    if not seed:
        return ""
    base = str(payload["link_base"])
    return f"{base}{'&' if '?' in base else '?'}token={token_of(str(seed), secret_key)}"


def message(kind: str, to: str, account: Account, **details: Any) -> Change:
    """An email about the account, recorded in the current transaction (outbox.record)."""
    change = Change(
        ACCOUNT_MESSAGE,
        {"message": kind, "to": to, "account_id": account.id, "first_name": account.first_name, **details},
    )
    outbox.record(change)
    return change


async def issue(
    account: Account,
    purpose: Purpose,
    ttl: timedelta,
    kind: str,
    base: str,
    secret_key: str,
    to: str | None = None,
) -> None:
    """A token for `purpose`, stored as its hash, and the email `kind` carrying its link to `to` (the
    account's address unless given). Inside outbox.transaction(): both commit, or neither."""
    to = to or account.email
    seed = secrets.token_urlsafe(32)
    expires_at = datetime.now(UTC) + ttl
    # Only the hash is written; the email's composer makes the token again from the seed.
    await AccountToken.create(
        account_id=account.id,
        purpose=purpose.value,
        token_hash=digest(token_of(seed, secret_key)),
        email=to,
        expires_at=expires_at,
    )
    message(kind, to, account, seed=seed, link_base=base, expires_at=expires_at.isoformat(), new_email=to)


async def take(token: str, purposes: Iterable[Purpose], field: str = "token") -> AccountToken:
    """The unused, unexpired token of one of `purposes`, now used; INVALID_TOKEN otherwise (unknown,
    used, expired, of another purpose: one answer for all). Inside a transaction, under its row lock,
    so two uses at once find it used."""
    wanted = {purpose.value for purpose in purposes}
    found = None
    if 0 < len(token) <= 200:
        found = await AccountToken.filter(token_hash=digest(token)).select_for_update().first()
    now = datetime.now(UTC)
    if found is None or found.purpose not in wanted or found.used_at is not None or found.expires_at <= now:
        raise invalid_token(field)
    await AccountToken.filter(id=found.id).update(used_at=now)
    return found


def invalid_token(field: str = "token") -> DomainError:
    return DomainError(ErrorCode.INVALID_TOKEN, "This link is not valid any more: ask for a new one.", [field])


async def discard(account_id: int, purposes: Iterable[Purpose] = tuple(Purpose)) -> int:
    """Make the account's outstanding tokens of `purposes` useless (a password changed, a newer
    link sent); how many there were."""
    return await AccountToken.filter(
        account_id=account_id, used_at__isnull=True, purpose__in=[p.value for p in purposes]
    ).update(used_at=datetime.now(UTC))


# Everything but the confirmation of the address the account already has: after a password change
# a reset, an email change or a deletion asked for before it (by a thief, perhaps) must not go on.
AFTER_PASSWORD_CHANGE = (Purpose.PASSWORD_RESET, Purpose.EMAIL_CHANGE, Purpose.DELETION)


async def prune(size: int = batches.SIZE) -> int:
    """Delete the links used or past their expiry; how many went. Neither can be used again, and a
    used one is not needed to tell a replay apart: it is refused as an unknown one is."""
    now = datetime.now(UTC)
    return await batches.delete_in_batches(lambda batch: _prune(now, batch), size)


async def _prune(now: datetime, size: int) -> int:
    done = AccountToken.filter(Q(used_at__isnull=False) | Q(expires_at__lte=now))
    ids = await done.order_by("id").limit(size).values_list("id", flat=True)
    return await AccountToken.filter(id__in=list(ids)).delete() if ids else 0


class AccountLetters:
    """The emails about an account (resolvers/emails.py `Letters` of ACCOUNT_MESSAGE changes), each
    link's token made from its change's seed under `secret_key`, the process's SECRET_KEY."""

    kinds: tuple[str, ...] = MESSAGES

    def __init__(self, secret_key: str) -> None:
        self.secret_key = secret_key

    def email_kind(self, change: Change) -> str | None:
        kind = change.payload.get("message")  # None: a password reset asked for an unknown address
        return kind if kind in MESSAGES else None

    async def compose(self, change: Change, kind: str) -> Letter | None:
        payload = change.payload
        expires = payload.get("expires_at")
        return Letter(
            recipient=payload["to"],
            subject=SUBJECTS[kind],
            context={
                "first_name": payload.get("first_name", ""),
                "email": payload["to"],
                "new_email": payload.get("new_email", ""),
                "link": link(payload, self.secret_key),
                "expires_at": datetime.fromisoformat(expires).strftime("%Y-%m-%d %H:%M UTC") if expires else "",
            },
        )
