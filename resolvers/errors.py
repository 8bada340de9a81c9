"""Errors the domain raises; `schema/` turns them into GraphQL errors or `userErrors`."""

from __future__ import annotations


class BadInput(ValueError):
    """Malformed input the client must fix (a bad ID, cursor or page size): `BAD_USER_INPUT`."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class DomainError(Exception):
    """A business rule refused the request; reported as a `userErrors` entry, nothing changed."""

    def __init__(self, code: str, message: str, field: list[str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
