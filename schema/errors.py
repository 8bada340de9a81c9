"""`userErrors`: the business failures a mutation reports instead of raising."""

from __future__ import annotations

from collections.abc import Awaitable
from enum import Enum
from typing import TypeVar

import strawberry

from resolvers.errors import DomainError

T = TypeVar("T")


@strawberry.enum
class ErrorCode(Enum):
    NOT_FOUND = "NOT_FOUND"
    INVALID = "INVALID"
    REQUIRED = "REQUIRED"
    DUPLICATE = "DUPLICATE"
    INSUFFICIENT_STOCK = "INSUFFICIENT_STOCK"
    CART_EMPTY = "CART_EMPTY"
    CART_COMPLETED = "CART_COMPLETED"
    EMAIL_REQUIRED = "EMAIL_REQUIRED"
    SHIPPING_ADDRESS_REQUIRED = "SHIPPING_ADDRESS_REQUIRED"
    SHIPPING_METHOD_REQUIRED = "SHIPPING_METHOD_REQUIRED"
    SHIPPING_METHOD_UNAVAILABLE = "SHIPPING_METHOD_UNAVAILABLE"
    DISCOUNT_CODE_INVALID = "DISCOUNT_CODE_INVALID"
    PAYMENT_DECLINED = "PAYMENT_DECLINED"
    INVALID_TRANSITION = "INVALID_TRANSITION"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    INVALID_TOKEN = "INVALID_TOKEN"
    PASSWORD_TOO_SHORT = "PASSWORD_TOO_SHORT"
    PASSWORD_TOO_COMMON = "PASSWORD_TOO_COMMON"
    PASSWORD_TOO_SIMILAR = "PASSWORD_TOO_SIMILAR"


@strawberry.type
class UserError:
    field: list[str] | None
    code: ErrorCode
    message: str


def user_error(error: DomainError) -> UserError:
    return UserError(field=error.field, code=ErrorCode(error.code), message=error.message)


async def attempt(action: Awaitable[T]) -> tuple[T | None, list[UserError]]:
    """Run a domain action: its result and no errors, or no result and the refusal as a userError."""
    try:
        return await action, []
    except DomainError as error:
        return None, [user_error(error)]
