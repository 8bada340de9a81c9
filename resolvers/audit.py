"""The staff audit log, written: what one call of an admin mutation leaves behind.

`schema/audit.py` hands over each call as an `AuditRecord` (plain values, argument names as the
client wrote them); here its secrets are redacted, its target IDs picked out, and the row written.

Redaction is one rule, on names: an argument or input field whose name holds one of
`SECRET_WORDS` as a word (`password`, `currentPassword`, `secret`, `cardToken`, `apiKey`) keeps
its name and loses its value to `REDACTED`, at any depth. File uploads never reach here as their
contents: the schema layer replaces one by its name, type and size. Long strings and lists are cut
(`MAX_TEXT`, `MAX_ITEMS`), so an entry stays small whatever was sent.

The row is written after the mutation has returned, in a transaction of its own: the mutation's
own transaction has committed or rolled back by then, so the outcome recorded is the one that
happened (a refusal never leaves a "succeeded" row). A failure to write it does not fail the
mutation, whose change is already committed (the client would retry a change that was made): it is
logged at ERROR on `gateway.audit` with the whole entry, so the log keeps what the table missed.

`prune` deletes the entries older than AUDIT_LOG_RETENTION_DAYS (the `audit.prune` job), when set.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.transactions import in_transaction

from models import AuditEntry, AuditTarget
from models.audit import (
    ERROR_CODE_LENGTH,
    OPERATION_LENGTH,
    OPERATION_NAME_LENGTH,
    REQUEST_ID_LENGTH,
    TARGET_ID_LENGTH,
)
from resolvers import batches

log = logging.getLogger("gateway.audit")

REDACTED = "[REDACTED]"
# The error code of a call whose client went away while it ran (its execution was cancelled):
# whether its change was committed is not known, so look at the object it names.
CANCELLED = "CANCELLED"
# A name holding one of these words (camelCase or snake_case, any case) names a secret.
SECRET_WORDS = frozenset(
    {
        *("password", "passwords", "secret", "secrets", "token", "tokens", "key", "keys"),
        *("card", "cvc", "cvv", "credential", "credentials", "authorization"),
    }
)
MAX_TEXT = 500  # characters of a string value kept
MAX_ITEMS = 100  # items of a list value kept
MAX_TARGETS = 50  # target IDs kept per entry
_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


@dataclass(frozen=True)
class AuditRecord:
    """One call of an admin mutation, as the schema layer saw it."""

    operation: str  # the mutation's field name
    staff_id: int | None
    staff_email: str
    operation_name: str | None  # as the client named the operation
    request_id: str
    arguments: Mapping[str, Any]  # plain values by argument name; redacted before they are kept
    error_code: str | None  # None: it succeeded
    created_ids: list[str] = field(default_factory=list)  # IDs its payload answered with


def is_secret(name: str) -> bool:
    return any(word.lower() in SECRET_WORDS for word in _WORDS.findall(name))


def redact(value: Any, name: str = "") -> Any:
    """`value` with every secret replaced by REDACTED, and cut to size."""
    if name and is_secret(name):
        return REDACTED
    if isinstance(value, Mapping):
        return {key: redact(item, key) for key, item in value.items()}
    if isinstance(value, list):
        return [redact(item) for item in value[:MAX_ITEMS]]
    if isinstance(value, str) and len(value) > MAX_TEXT:
        return f"{value[:MAX_TEXT]}… ({len(value)} characters)"
    return value


def target_ids(arguments: Mapping[str, Any]) -> list[str]:
    """The IDs the arguments name: every string under `id` or a name ending in `Id` or `Ids`, at
    any depth (`productId`, `input.productId`, `lines[].orderLineId`, `relatedIds`), in order, once."""
    found: list[str] = []

    def walk(value: Any, name: str) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                walk(item, key)
        elif isinstance(value, list):
            for item in value:
                walk(item, name)
        elif isinstance(value, str) and (name == "id" or name.endswith(("Id", "Ids"))):
            found.append(value)

    walk(arguments, "")
    return found


def _targets(record: AuditRecord) -> list[str]:
    seen: dict[str, None] = {}
    for target in [*target_ids(record.arguments), *record.created_ids]:
        if len(target) <= TARGET_ID_LENGTH:  # a longer one is no ID of ours
            seen.setdefault(target)
    return list(seen)[:MAX_TARGETS]


async def prune(retention: timedelta, size: int = batches.SIZE) -> int:
    """Delete the entries older than `retention`, with their targets; how many entries went."""
    cutoff = datetime.now(UTC) - retention
    return await batches.delete_in_batches(lambda batch: _prune(cutoff, batch), size)


async def _prune(cutoff: datetime, size: int) -> int:
    async with in_transaction():
        ids = await AuditEntry.filter(created_at__lt=cutoff).order_by("id").limit(size).values_list("id", flat=True)
        if not ids:
            return 0
        await AuditTarget.filter(entry_id__in=ids).delete()
        return await AuditEntry.filter(id__in=ids).delete()


async def record(entry: AuditRecord) -> None:
    """Write the entry; never raises (see the module's docstring)."""
    targets = _targets(entry)
    try:
        async with in_transaction():
            row = await AuditEntry.create(
                staff_id=entry.staff_id,
                staff_email=entry.staff_email,
                operation=entry.operation[:OPERATION_LENGTH],
                operation_name=None if entry.operation_name is None else entry.operation_name[:OPERATION_NAME_LENGTH],
                target_ids=targets,
                # A failure changed nothing: what it asked for is not claimed as a change.
                changes=redact(dict(entry.arguments)) if entry.error_code is None else None,
                request_id=entry.request_id[:REQUEST_ID_LENGTH],
                error_code=None if entry.error_code is None else entry.error_code[:ERROR_CODE_LENGTH],
            )
            if targets:
                await AuditTarget.bulk_create([AuditTarget(entry_id=row.id, target_id=target) for target in targets])
    except Exception:
        kept = {**asdict(entry), "arguments": redact(dict(entry.arguments)), "created_ids": targets}
        log.error("audit entry NOT recorded: %s", json.dumps(kept, default=str), exc_info=True)
