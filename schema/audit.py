"""Every admin mutation is audited: `Audited`, put on each root mutation field that needs a staff
permission (schema/root.py, beside the permission check), records each call in the audit log
(resolvers/audit.py), whatever the mutation.

It wraps the permission check, so it sees every call that reached the field: one that succeeded
(its payload without userErrors), one a business rule refused (the first userError's code), one
refused as input (`BAD_USER_INPUT`), one that failed (`INTERNAL_SERVER_ERROR`, a database fault's
code), one refused for want of the permission (`FORBIDDEN`, from a signed-in account), and one
cancelled because its client went away (`CANCELLED`: whether its change was committed is then not
known). Anonymous calls (`UNAUTHENTICATED`) are not recorded: they name nobody, and anyone could fill the
log with them. A mutation refused before any field runs (a malformed document, a query-cost limit)
reached no mutation and is not recorded either.

The arguments are recorded as the client named them (GraphQL names, input objects as objects,
enums by name, an uploaded file as its name, type and size, never its contents) and the IDs the
payload answered with (`product.id`, `deletedId`) join those of the arguments as targets.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import MISSING, fields, is_dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from graphql import GraphQLError
from starlette.datastructures import UploadFile
from strawberry.extensions.field_extension import FieldExtension
from strawberry.schema.name_converter import NameConverter
from strawberry.types import Info, has_object_definition
from strawberry.types.base import get_object_definition
from strawberry.types.field import StrawberryField
from strawberry.types.unset import UNSET

from resolvers import audit
from resolvers.errors import BadInput, GraphQLErrorCode, database_fault
from schema.context import Context
from schema.permissions import needs_staff

log = logging.getLogger("gateway.audit")


def audit_staff_mutations(mutation_fields: list[StrawberryField]) -> None:
    """Put `Audited` on every one of the root mutation fields that needs a staff permission, after
    (so around) its permission check."""
    for field in mutation_fields:
        if needs_staff(field) and not any(isinstance(extension, Audited) for extension in field.extensions):
            field.extensions.append(Audited())


class Audited(FieldExtension):
    """Records each call of the admin mutation it is put on (one instance per field)."""

    field: StrawberryField

    def apply(self, field: StrawberryField) -> None:
        self.field = field

    async def resolve_async(
        self, next_: Callable[..., Awaitable[Any]], source: Any, info: Info[Context, Any], **kwargs: Any
    ) -> Any:
        # Shielded: a client that disconnects cancels the request's execution (gateway/disconnect.py),
        # which must not take the entry of a change already made with it.
        try:
            result = await next_(source, info, **kwargs)
        except asyncio.CancelledError:
            await asyncio.shield(self._record(info, kwargs, None, audit.CANCELLED))
            raise
        except Exception as error:
            await asyncio.shield(self._record(info, kwargs, None, _error_code(error)))
            raise
        errors = getattr(result, "user_errors", None) or []
        code = str(getattr(errors[0].code, "value", errors[0].code)) if errors else None
        await asyncio.shield(self._record(info, kwargs, result, code))
        return result

    async def _record(self, info: Info[Context, Any], kwargs: dict[str, Any], result: Any, code: str | None) -> None:
        """Never raises: the mutation's answer stands whatever happens to its entry."""
        context = info.context
        try:
            # Looked up by the permission check already; only a database that is away makes it raise.
            viewer = await context.viewer() if isinstance(context, Context) else None
        except Exception:
            log.error("audit entry NOT recorded: %s by an account not known (%s)", info.field_name, code, exc_info=True)
            return
        if viewer is None:
            return
        converter = info.schema.config.name_converter
        arguments = {
            converter.from_argument(argument): plain(kwargs[argument.python_name], converter)
            for argument in self.field.arguments
            if argument.python_name in kwargs and not _left_out(kwargs[argument.python_name], argument.default)
        }
        operation = info.operation.name.value if info.operation.name else None
        await audit.record(
            audit.AuditRecord(
                operation=info.field_name,
                staff_id=viewer.id,
                staff_email=viewer.email,
                operation_name=operation,
                request_id=getattr(context, "request_id", ""),
                arguments=arguments,
                error_code=code,
                created_ids=[] if code is not None or result is None else payload_ids(result),
            )
        )


def _error_code(error: Exception) -> str:
    """The code the client is answered with for `error` (as schema/errors.py classifies it)."""
    if isinstance(error, GraphQLError) and error.extensions and "code" in error.extensions:
        return str(error.extensions["code"])
    if isinstance(error, BadInput):
        return GraphQLErrorCode.BAD_USER_INPUT.value
    fault = database_fault(error)
    return (fault or GraphQLErrorCode.INTERNAL_SERVER_ERROR).value


def plain(value: Any, converter: NameConverter) -> Any:
    """An argument's value as JSON-like data, named as in GraphQL."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, (Decimal, datetime, date)):
        return str(value) if isinstance(value, Decimal) else value.isoformat()
    if isinstance(value, UploadFile):
        return {"filename": value.filename, "contentType": value.content_type, "size": value.size}
    if isinstance(value, (list, tuple)):
        return [plain(item, converter) for item in value]
    if has_object_definition(value):  # an input object
        definition = get_object_definition(value, strict=True)
        return {
            converter.get_graphql_name(field): plain(getattr(value, field.python_name), converter)
            for field in definition.fields
            if not _left_out(getattr(value, field.python_name, UNSET), field.default)
        }
    if isinstance(value, Mapping):
        return {str(key): plain(item, converter) for key, item in value.items()}
    return type(value).__name__


def _left_out(value: Any, default: Any) -> bool:
    """Not given, or given as its default (`slug: String = null` left out or sent as null: the
    same call). A null where the default is not null (an update's "clear it") is kept."""
    if value is UNSET:
        return True
    return default is not MISSING and type(value) is type(default) and bool(value == default)


def payload_ids(payload: Any) -> list[str]:
    """The IDs a payload answers with: its objects' `id` and its `…Id` fields (`deletedId`), one
    level deep (its objects are built already: no query)."""
    if not is_dataclass(payload):
        return []
    found: list[str] = []
    for field in fields(payload):
        value = getattr(payload, field.name, None)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and field.name.endswith("_id"):
                found.append(item)
            elif is_dataclass(item) and isinstance(identity := getattr(item, "id", None), str):
                found.append(identity)
    return found
