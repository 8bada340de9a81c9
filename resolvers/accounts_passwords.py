"""The one password policy: registration, staff accounts, a password change (and later a reset).

A password is refused when it is shorter than 8 or longer than 128 characters, when it is the
account's email address or the part before its @, or when it is common: digits only (a date, a
phone number) or on the list of common passwords shipped beside this module
(common_passwords.txt: the 8-character-or-longer entries of Django's 20,000 most common passwords,
by Royce Williams; provenance and BSD licence in common_passwords.LICENSE). Each refusal has its
own code, so a client can say which rule failed. Comparisons ignore case and surrounding spaces:
"Password123 " is as guessable as "password123".
"""

from __future__ import annotations

import functools
from pathlib import Path

from resolvers.errors import DomainError, ErrorCode

MIN_LENGTH = 8
# Argon2 hashes any length, but an unbounded password is a cheap way to make the server work.
MAX_LENGTH = 128
COMMON_PASSWORDS = Path(__file__).resolve().parent / "common_passwords.txt"


@functools.cache
def common_passwords() -> frozenset[str]:
    """The list, read once per process (about 8,000 entries, lower-cased)."""
    return frozenset(line.strip().lower() for line in COMMON_PASSWORDS.read_text("utf-8").splitlines() if line.strip())


def check(password: str, email: str, field: str = "password") -> None:
    """Refuse `password` for the account of `email` (DomainError naming the rule and `field`)."""
    if len(password) < MIN_LENGTH:
        raise DomainError(
            ErrorCode.PASSWORD_TOO_SHORT, f"The password must have at least {MIN_LENGTH} characters.", [field]
        )
    if len(password) > MAX_LENGTH:
        raise DomainError(ErrorCode.TOO_LONG, f"The password may have at most {MAX_LENGTH} characters.", [field])
    folded = password.strip().lower()
    address = email.strip().lower()
    if folded in (address, address.partition("@")[0]):
        raise DomainError(ErrorCode.PASSWORD_TOO_SIMILAR, "The password must differ from the email address.", [field])
    if folded.isdigit():
        raise DomainError(ErrorCode.PASSWORD_TOO_COMMON, "The password must not consist of digits only.", [field])
    if folded in common_passwords():
        raise DomainError(
            ErrorCode.PASSWORD_TOO_COMMON, "This password is one of the most commonly used: choose another.", [field]
        )
