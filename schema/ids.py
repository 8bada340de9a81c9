"""Opaque Relay global IDs: base64 of "Type:primary key"."""

from __future__ import annotations

import base64
import binascii
from functools import lru_cache

import strawberry

from resolvers.errors import BadInput


# A few dozen listing pages' worth (~300 IDs each), about 2 MB. Not more: every new order, line,
# cart and shipment passes through here once, and a bigger memo only grows RSS for hours with IDs
# never asked for again (200,000 entries were ~54 MB per worker; the soak saw it grow).
MAX_MEMOISED_IDS = 8192


@lru_cache(maxsize=MAX_MEMOISED_IDS)
def encode_id(type_name: str, pk: int) -> strawberry.ID:
    # Cached: a listing page encodes hundreds of IDs, the same ones request after request.
    return strawberry.ID(base64.b64encode(f"{type_name}:{pk}".encode()).decode())


def decode_id(global_id: str, argument: str = "id") -> tuple[str, int]:
    """(type name, primary key); a string that is not one of our IDs is `BAD_USER_INPUT`."""
    try:
        raw = base64.b64decode(global_id.encode(), validate=True).decode()
        type_name, _, pk = raw.partition(":")
        number = int(pk)
    except (binascii.Error, UnicodeError, ValueError):
        raise BadInput(f"`{argument}` is not a valid ID: {global_id!r}.", argument) from None
    if not type_name.isidentifier() or number < 1 or number > 2**31 - 1 or str(number) != pk:
        raise BadInput(f"`{argument}` is not a valid ID: {global_id!r}.", argument)
    return type_name, number


def decode_id_of(global_id: str, type_name: str, argument: str = "id") -> int:
    found, pk = decode_id(global_id, argument)
    if found != type_name:
        raise BadInput(f"`{argument}` must be the ID of a {type_name}, got the ID of a {found}.", argument)
    return pk
