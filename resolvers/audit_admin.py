"""The staff audit log, read (VIEW_AUDIT_LOG): its entries newest first, filtered."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise.expressions import Subquery

from models import AuditEntry, AuditTarget
from models.audit import OPERATION_LENGTH, TARGET_ID_LENGTH
from resolvers.accounts_listing import as_utc
from resolvers.errors import BadInput
from resolvers.pagination import Page, newest_first


@dataclass(frozen=True)
class AuditSearch:
    """Which entries: every condition given must hold."""

    staff_id: int | None = None
    operation: str | None = None  # a mutation's field name, exactly
    target_id: str | None = None  # a global ID, exactly
    since: datetime | None = None  # at this moment or later
    until: datetime | None = None  # before this moment


@dataclass(frozen=True)
class AuditListing:
    page: Page  # its rows are AuditEntries
    total_count: int | None  # None when not asked for


def audit_search(
    staff_id: int | None,
    operation: str | None,
    target_id: str | None,
    since: datetime | None,
    until: datetime | None,
) -> AuditSearch:
    """The filter, checked against the columns it is compared with; moments made UTC."""
    for name, value, length in (("operation", operation, OPERATION_LENGTH), ("targetId", target_id, TARGET_ID_LENGTH)):
        if value is not None and len(value) > length:
            raise BadInput(f"`{name}` may have at most {length} characters, got {len(value)}.", name)
    return AuditSearch(staff_id, operation, target_id, as_utc(since), as_utc(until))


async def list_entries(
    search: AuditSearch, first: int | None, after: str | None, *, with_total: bool = False
) -> AuditListing:
    """Newest first; the total of all matching entries when `with_total`."""
    entries = AuditEntry.all()
    if search.staff_id is not None:
        entries = entries.filter(staff_id=search.staff_id)
    if search.operation is not None:
        entries = entries.filter(operation=search.operation)
    if search.target_id is not None:
        entries = entries.filter(id__in=Subquery(AuditTarget.filter(target_id=search.target_id).values("entry_id")))
    if search.since is not None:
        entries = entries.filter(created_at__gte=search.since)
    if search.until is not None:
        entries = entries.filter(created_at__lt=search.until)
    page = await newest_first(entries, "auditLog", first, after)
    return AuditListing(page, await entries.count() if with_total else None)
