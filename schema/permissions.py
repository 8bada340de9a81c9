"""The one place access is decided: every protected field declares a permission class.

Anonymous callers get `UNAUTHENTICATED`; signed-in callers without the permission `FORBIDDEN`.
`tests/test_permissions.py` walks the schema and checks every field not on the public list.
"""

from __future__ import annotations

from typing import Any

from strawberry.extensions.field_extension import FieldExtension
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.types import Info
from strawberry.types.field import StrawberryField

from models import Account, Permission
from schema.context import Context
from schema.errors import Forbidden, Unauthenticated

SIGN_IN = "Sign in first: send a valid access token as `Authorization: Bearer …`."


def require_signed_in(account: Account | None) -> Account:
    if account is None:
        raise Unauthenticated(SIGN_IN)
    return account


def require_permission(account: Account | None, permission: Permission) -> Account:
    """The account, if it is a staff account holding `permission`; else UNAUTHENTICATED or FORBIDDEN."""
    signed_in = require_signed_in(account)
    if not signed_in.has_permission(permission):
        raise Forbidden(f"This needs the {permission.value} permission.")
    return signed_in


class SignedIn(BasePermission):
    """Any signed-in account."""

    async def has_permission(self, source: Any, info: Info[Context, Any], **kwargs: Any) -> bool:
        require_signed_in(await info.context.viewer())
        return True


class Staff(BasePermission):
    """A staff account holding `permission`."""

    def __init__(self, permission: Permission) -> None:
        self.permission = permission

    async def has_permission(self, source: Any, info: Info[Context, Any], **kwargs: Any) -> bool:
        require_permission(await info.context.viewer(), self.permission)
        return True


def requires(permission: Permission) -> list[FieldExtension]:
    """`extensions=requires(Permission.X)` on a field: staff holding X only."""
    return [PermissionExtension(permissions=[Staff(permission)])]


def signed_in() -> list[FieldExtension]:
    return [PermissionExtension(permissions=[SignedIn()])]


def needs_staff(field: StrawberryField) -> bool:
    """Whether a field declares a staff permission (`extensions=requires(...)`)."""
    return any(
        isinstance(extension, PermissionExtension) and any(isinstance(p, Staff) for p in extension.permissions)
        for extension in field.extensions
    )
