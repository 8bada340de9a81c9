"""How often an address may try to sign in: the throttling policy behind `tokenCreate`.

Keyed by address and account together, so a guesser elsewhere cannot lock the owner out; the
address alone and the account alone get looser ceilings, against guessing spread over many
accounts or many addresses.
"""

from __future__ import annotations

from typing import Protocol


class Limiter(Protocol):
    """Token buckets by key (gateway/ratelimit.py): the wait in seconds when `key` has run dry."""

    async def take(self, key: str, rate: float, burst: int) -> float | None: ...


async def sign_in_wait(limiter: Limiter | None, client_ip: str, email: str, per_minute: int) -> float | None:
    """Seconds to wait when this address has tried to sign in too often, to this account or at all."""
    if limiter is None:
        return None
    account = email.strip().lower()
    waits = [
        await limiter.take(f"sign-in:{client_ip}:{account}", per_minute / 60, per_minute),
        # One address may serve several people (an office, a phone carrier): a looser limit.
        await limiter.take("sign-in-ip:" + client_ip, 3 * per_minute / 60, 3 * per_minute),
        # The account alone: ten times the ceiling, against guessing spread over many addresses.
        await limiter.take("sign-in-email:" + account, 10 * per_minute / 60, 10 * per_minute),
    ]
    refused = [wait for wait in waits if wait is not None]
    return max(refused) if refused else None


async def email_link_wait(limiter: Limiter | None, client_ip: str, email: str, per_minute: int) -> float | None:
    """Seconds to wait when this caller has asked for too many links by email (a password reset):
    by address, as sign-in attempts are, and for the email address, which must not be flooded."""
    if limiter is None:
        return None
    waits = [
        await limiter.take("email-link-ip:" + client_ip, per_minute / 60, per_minute),
        # One recipient: a few at once, then one a minute at the default of 10.
        await limiter.take("email-link-email:" + email.strip().lower(), per_minute / 600, max(1, per_minute // 2)),
    ]
    refused = [wait for wait in waits if wait is not None]
    return max(refused) if refused else None
