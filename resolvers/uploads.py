"""A file a staff member sent with a mutation (the `Upload` scalar), as the domain sees it.

The HTTP layer has spooled it to a temporary file (gateway/graphql_view.py); the domain reads it
as a binary stream, never whole into memory unless it decides to, and never learns about HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO


@dataclass(frozen=True)
class UploadedFile:
    stream: BinaryIO  # positioned at the start
    filename: str  # as the client named it: shown back, never trusted for the content's type
    content_type: str | None  # as the client declared it: likewise only a hint
