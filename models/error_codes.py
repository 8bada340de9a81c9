"""The error codes the gateway answers with: one enum for business refusals, one for failed requests.

Two code sets, each one enum: `ErrorCode` for a business refusal (a `userErrors` entry, nothing
changed) and `GraphQLErrorCode` for a request or field that failed (`errors[].extensions.code`).
Both are `str` enums, so a member is its name as a string: it compares, hashes and serialises as the
plain strings did, and a misspelt code is an AttributeError at import (and a mypy error) rather than
a masked 500 at run time. Each value carries the sentence that says what it means; the GraphQL
schema and README's table show the same text.

Here, importing nothing of the project, so the HTTP layer (gateway/) names its codes from the same
enum as the domain without depending on a business module; `resolvers/errors.py` re-exports them
beside the errors that carry them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Self


class DescribedCode(StrEnum):
    """A code whose members are written `NAME = "NAME", "What it means."`: the value, then its description."""

    description: str

    def __new__(cls, value: str, description: str) -> Self:
        member = str.__new__(cls, value)
        member._value_ = value
        member.description = description
        return member


class ErrorCode(DescribedCode):
    """Why a business rule refused a mutation: `UserError.code`. A client branches on it, so a
    refusal it would handle differently has a code of its own; `INVALID` is what has no better name."""

    NOT_FOUND = "NOT_FOUND", "Nothing has the ID, token or code given (or it is not yours to see)."
    INVALID = "INVALID", "The value breaks a rule no more specific code names; the message says which."
    REQUIRED = "REQUIRED", "A value that must be given (or a list that must not be empty) is missing."
    TOO_LONG = "TOO_LONG", "The text is longer than its field can hold; the message gives the limit."
    TOO_MANY = "TOO_MANY", "A limit on how many there may be (cart lines, saved addresses) is reached."
    DUPLICATE = (
        "DUPLICATE",
        "Something with this unique value (email, slug, SKU, code) already exists, or it is given twice.",
    )
    IN_USE = "IN_USE", "Other objects still depend on this one (a category's subcategories): move or delete them first."
    INVALID_QUANTITY = (
        "INVALID_QUANTITY",
        "A quantity or stock change is out of its range; the message gives the range.",
    )
    INVALID_AMOUNT = "INVALID_AMOUNT", "A money amount is out of range or has more than two decimal places."
    INVALID_EMAIL = "INVALID_EMAIL", "The text is not an email address."
    UNKNOWN_COUNTRY = "UNKNOWN_COUNTRY", "Not an ISO 3166-1 alpha-2 country code (such as DE)."
    NOT_FOR_SALE = "NOT_FOR_SALE", "The item is not (or no longer) for sale: remove it from the cart."
    INSUFFICIENT_STOCK = "INSUFFICIENT_STOCK", "Fewer units are available than asked for; the message says how many."
    CART_EMPTY = "CART_EMPTY", "The cart has no lines to check out."
    CART_COMPLETED = "CART_COMPLETED", "The cart has been checked out already: start a new one."
    EMAIL_REQUIRED = "EMAIL_REQUIRED", "The cart needs an email address before checkout."
    SHIPPING_ADDRESS_REQUIRED = "SHIPPING_ADDRESS_REQUIRED", "The cart needs a shipping address first."
    SHIPPING_METHOD_REQUIRED = "SHIPPING_METHOD_REQUIRED", "The cart needs a shipping method before checkout."
    SHIPPING_METHOD_UNAVAILABLE = (
        "SHIPPING_METHOD_UNAVAILABLE",
        "The shipping method does not serve this cart's address or contents.",
    )
    DISCOUNT_CODE_INVALID = (
        "DISCOUNT_CODE_INVALID",
        "The discount code does not exist, has expired, is used up or does not apply to this cart.",
    )
    UNKNOWN_PAYMENT_PROVIDER = (
        "UNKNOWN_PAYMENT_PROVIDER",
        "No payment provider of this name is configured on the gateway.",
    )
    PAYMENT_DECLINED = (
        "PAYMENT_DECLINED",
        "The payment provider refused (or did not answer in time); nothing was charged.",
    )
    PAYMENT_AMOUNT_MISMATCH = (
        "PAYMENT_AMOUNT_MISMATCH",
        "The cart's total changed since its payment was initialized: initialize a new payment for the new total.",
    )
    PAYMENT_NOT_USABLE = (
        "PAYMENT_NOT_USABLE",
        "The payment cannot pay for this cart: it belongs to another cart, or it was declined, cancelled or used.",
    )
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED", "The idempotency key was used for another cart: send a new key."
    INVALID_TRANSITION = (
        "INVALID_TRANSITION",
        "The order (or the return) is in a status this change cannot start from.",
    )
    REFUND_EXCEEDS_CAPTURED = (
        "REFUND_EXCEEDS_CAPTURED",
        "The refund is more than what the order's payment captured and has not given back yet (or nothing was "
        "captured); the message says how much is left.",
    )
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS", "The email or password is not correct."
    INVALID_TOKEN = (
        "INVALID_TOKEN",
        "The token is not valid (expired, used, revoked or unknown): for a refresh token, sign in again; for a "
        "link sent by email, ask for a new one.",
    )
    EMAIL_NOT_CONFIRMED = (
        "EMAIL_NOT_CONFIRMED",
        "The account's email address is not confirmed yet (REQUIRE_EMAIL_CONFIRMATION): follow the link sent to it.",
    )
    REDIRECT_URL_NOT_ALLOWED = (
        "REDIRECT_URL_NOT_ALLOWED",
        "The link's URL is not on one of the storefronts the gateway sends links to (STOREFRONT_URLS).",
    )
    PASSWORD_TOO_SHORT = "PASSWORD_TOO_SHORT", "The password has fewer than 8 characters."
    PASSWORD_TOO_COMMON = (
        "PASSWORD_TOO_COMMON",
        "The password is too easy to guess: digits only, or one of the most common passwords.",
    )
    PASSWORD_TOO_SIMILAR = "PASSWORD_TOO_SIMILAR", "The password is the email address, or the part of it before the @."
    INVALID_IMAGE = (
        "INVALID_IMAGE",
        "The file is not an image of a format the gateway takes (JPEG, PNG, WebP, AVIF), or it is damaged.",
    )
    FILE_TOO_LARGE = (
        "FILE_TOO_LARGE",
        "The file has more bytes, or the image more pixels, than the limit the message gives.",
    )


class GraphQLErrorCode(DescribedCode):
    """Why a request or a field failed: `extensions.code` of an entry in a response's `errors`, from
    the HTTP layer (gateway/) and the GraphQL layer (schema/) alike."""

    BAD_REQUEST = "BAD_REQUEST", "The HTTP request is not a well-formed GraphQL-over-HTTP request."
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED", "The HTTP method cannot carry this request (a mutation over GET)."
    NOT_ACCEPTABLE = "NOT_ACCEPTABLE", "The `Accept` header names no media type the gateway answers in."
    UNAUTHENTICATED = "UNAUTHENTICATED", "Sign in first, or the bearer token is malformed, forged or expired."
    FORBIDDEN = "FORBIDDEN", "The signed-in account lacks the permission this needs."
    NOT_FOUND = "NOT_FOUND", "The object a root field names does not exist."
    BAD_USER_INPUT = (
        "BAD_USER_INPUT",
        "An argument is malformed (an ID, cursor, page size, list length, NUL character).",
    )
    GRAPHQL_VALIDATION_FAILED = (
        "GRAPHQL_VALIDATION_FAILED",
        "The document does not parse or does not validate against the schema.",
    )
    OPERATION_RESOLUTION_FAILURE = (
        "OPERATION_RESOLUTION_FAILURE",
        "The operation to run cannot be chosen from the document.",
    )
    QUERY_TOO_COMPLEX = (
        "QUERY_TOO_COMPLEX",
        "The query (or the request body) is over a cost, depth, alias or size limit.",
    )
    RATE_LIMITED = "RATE_LIMITED", "Too many requests: retry after `extensions.retryAfter` seconds."
    PERSISTED_QUERY_NOT_FOUND = (
        "PERSISTED_QUERY_NOT_FOUND",
        "The persisted query's hash is unknown: send the query text with it.",
    )
    PERSISTED_QUERY_NOT_SUPPORTED = "PERSISTED_QUERY_NOT_SUPPORTED", "Persisted queries are turned off on this gateway."
    PERSISTED_QUERY_INVALID = (
        "PERSISTED_QUERY_INVALID",
        "`extensions.persistedQuery` is malformed or of an unknown version.",
    )
    PERSISTED_QUERY_HASH_MISMATCH = (
        "PERSISTED_QUERY_HASH_MISMATCH",
        "The query text does not hash to the persisted query's hash.",
    )
    PERSISTED_QUERY_NOT_IN_LIST = "PERSISTED_QUERY_NOT_IN_LIST", "The hash is not on the gateway's allow-list."
    QUERY_NOT_IN_ALLOWLIST = "QUERY_NOT_IN_ALLOWLIST", "Only the operations on the gateway's allow-list may run."
    EVENTS_LOST = "EVENTS_LOST", "A subscription may have missed events: load the current state and subscribe again."
    SERVICE_UNAVAILABLE = (
        "SERVICE_UNAVAILABLE",
        "The database (or the event bus, or the media storage) cannot be reached now: retry shortly.",
    )
    TIMEOUT = "TIMEOUT", "The database stopped a statement that ran past its time limit."
    CLIENT_CLOSED_REQUEST = "CLIENT_CLOSED_REQUEST", "The client went away before the answer (only in the access log)."
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR", "An unexpected fault; the log has it under `extensions.requestId`."
