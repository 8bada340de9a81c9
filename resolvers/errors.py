"""Errors the domain raises and the codes they carry; `schema/errors.py` renders them for GraphQL.

The codes themselves (`ErrorCode`, `GraphQLErrorCode`) are defined in `models/error_codes.py`, which
the HTTP layer can import without depending on a business module, and re-exported here.
"""

from __future__ import annotations

from asyncpg import InterfaceError, InternalClientError

from models.error_codes import DescribedCode, ErrorCode, GraphQLErrorCode

__all__ = [
    "FAULT_MESSAGES",
    "BadInput",
    "DatabaseUnavailable",
    "DescribedCode",
    "DomainError",
    "ErrorCode",
    "GraphQLErrorCode",
    "database_fault",
    "text_code",
]


class BadInput(ValueError):
    """Malformed input the client must fix (a bad ID, cursor or page size): `BAD_USER_INPUT`."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class DomainError(Exception):
    """A business rule refused the request; reported as a `userErrors` entry, nothing changed."""

    def __init__(self, code: ErrorCode, message: str, field: list[str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


def text_code(text: str, length: int) -> ErrorCode:
    """The code for a trimmed text its check refused: REQUIRED when blank, TOO_LONG when over
    `length` (its column's), else INVALID (its format). One rule, so every text field says the same."""
    if not text:
        return ErrorCode.REQUIRED
    return ErrorCode.TOO_LONG if len(text) > length else ErrorCode.INVALID


class DatabaseUnavailable(Exception):
    """The database cannot be reached (refused, unreachable, starting up or shutting down, out of
    connections): raised where a connection is opened (gateway/db.py), so that an outage is told
    apart from a bug by its type rather than by its message."""


class StorageUnavailable(Exception):
    """The media storage cannot be reached or refuses to keep or give a file (a directory that is
    full or gone, S3 away or refusing the gateway's credentials): raised by the storage
    implementations (gateway/media_storage.py), so that it is answered SERVICE_UNAVAILABLE, like a
    database outage, and not as a bug."""


STORAGE_UNAVAILABLE_MESSAGE = "The media storage is unavailable; try again shortly."

# The reasons a request fails although nothing is wrong with it, and what the client is told.
FAULT_MESSAGES = {
    GraphQLErrorCode.SERVICE_UNAVAILABLE: "The database is unavailable; try again shortly.",
    GraphQLErrorCode.TIMEOUT: "The database stopped a statement that ran past its time limit; try again later, or ask for less.",
}

# SQLSTATEs (PostgreSQL appendix A) meaning "the server cannot serve now", whatever the statement:
# class 08 (connection exception, e.g. 08003 from asyncpg when a connection dies mid-query),
# 57P01-57P03 (shut down by an administrator or a crash, or not accepting connections yet) and
# class 53 (insufficient resources, e.g. 53300 too many connections).
_UNAVAILABLE_CLASSES = ("08", "53")
_UNAVAILABLE_STATES = frozenset({"57P01", "57P02", "57P03"})
# asyncpg's bare InterfaceError ("the underlying connection is closed", "another operation is in
# progress") and InternalClientError carry no SQLSTATE: a connection that the server closed under
# a statement (a restart) leaves its protocol in this state, and the rollback after it fails so.
# Its typed subclasses (configuration, unsupported features, outdated caches) are real faults.
_BROKEN_CONNECTION = (InterfaceError, InternalClientError)
_QUERY_CANCELED = "57014"  # statement_timeout (DATABASE_STATEMENT_TIMEOUT), or cancelled by an operator


def database_fault(error: BaseException) -> GraphQLErrorCode | None:
    """SERVICE_UNAVAILABLE or TIMEOUT when `error` (or an error it was raised from) is the database
    being unreachable or a statement it stopped for running too long; None for anything else.

    Read from the exception's type and the SQLSTATE the driver attaches (`sqlstate`, as asyncpg
    and psycopg name it), never from its message. Follows `__cause__`/`__context__`: Tortoise
    re-raises some driver errors as its own, and a rollback that fails on a dead connection hides
    the error that killed it.
    """
    seen = 0
    current: BaseException | None = error
    while current is not None and seen < 5:
        if isinstance(current, DatabaseUnavailable) or type(current) in _BROKEN_CONNECTION:
            return GraphQLErrorCode.SERVICE_UNAVAILABLE
        state = getattr(current, "sqlstate", None)
        if isinstance(state, str):
            if state[:2] in _UNAVAILABLE_CLASSES or state in _UNAVAILABLE_STATES:
                return GraphQLErrorCode.SERVICE_UNAVAILABLE
            if state == _QUERY_CANCELED:
                return GraphQLErrorCode.TIMEOUT
        current = current.__cause__ or current.__context__
        seen += 1
    return None
