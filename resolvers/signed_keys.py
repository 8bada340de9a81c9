"""Download links that open one row: its random key and the key's HMAC-SHA256 under SECRET_KEY.

Nothing stored makes a working link on its own (the row holds only the key), and a forged or
mistyped link is refused before any query. `purpose` goes into what is signed, so a signature made
for one kind of link (a customer's data export, a product export) never passes for another.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

SIGNATURE_LENGTH = 43  # unpadded URL-safe base64 of a SHA-256


def _signature(purpose: bytes, key: str, secret_key: str) -> str:
    digest = hmac.new(secret_key.encode(), purpose + key.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign(purpose: bytes, key: str, secret_key: str) -> str:
    """What a link carries: the key, a dot, its signature."""
    return f"{key}.{_signature(purpose, key, secret_key)}"


def verified_key(purpose: bytes, token: str, key_length: int, secret_key: str) -> str | None:
    """The key a link carries when its signature is right, else None."""
    key, _, signature = token.partition(".")
    if len(token) != key_length + 1 + SIGNATURE_LENGTH or not token.isascii():
        return None
    if not hmac.compare_digest(signature.encode(), _signature(purpose, key, secret_key).encode()):
        return None
    return key
