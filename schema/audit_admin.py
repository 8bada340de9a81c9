"""The staff audit log for staff holding VIEW_AUDIT_LOG: `auditLog(filter)`, newest first.

What is written, and when, is schema/audit.py and resolvers/audit.py.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from models import AuditEntry as AuditEntryModel
from models import Permission
from resolvers import audit_admin
from schema.context import Context
from schema.ids import decode_id_of, encode_id
from schema.permissions import requires
from schema.selection import selection_tree
from schema.shared import After, Connection, First


@strawberry.type(description="One call of an admin mutation: who, what, on what, from which request, and how it ended.")
class AuditEntry:
    id: strawberry.ID = strawberry.field(description="The entry's ID.")
    staff_id: strawberry.ID | None = strawberry.field(
        description="The account that called it (`Customer.id`, as `staffCreate` answers it); it stays "
        "after the account is deleted."
    )
    staff_email: str = strawberry.field(description="That account's email address at the time.")
    operation: str = strawberry.field(description="The mutation called, by its field name, such as `productUpdate`.")
    operation_name: str | None = strawberry.field(
        description="The name the client gave the GraphQL operation it was part of; null for an anonymous one."
    )
    target_ids: list[strawberry.ID] = strawberry.field(
        description="The IDs it acted on: those among its arguments (`id`, `productId`, `input.productId`, "
        "`lines[].orderLineId`...) and, when it succeeded, those its payload answered with (what it created)."
    )
    changes: str | None = strawberry.field(
        description="Its arguments as a JSON object (text, to parse), by their GraphQL names, as sent, when it succeeded; null when it did not (it "
        'changed nothing). Secrets are "[REDACTED]": every argument or input field whose name holds password, '
        "secret, token, key, card, cvc, cvv, credential or authorization as a word. An uploaded file is its "
        "name, type and size. Strings are cut to 500 characters, lists to 100 items."
    )
    request_id: str = strawberry.field(description="The request it came in (its `X-Request-Id`), as the logs name it.")
    succeeded: bool = strawberry.field(description="Whether it changed what it was asked to.")
    error_code: str | None = strawberry.field(
        description="Why it did not: its first userError's `ErrorCode`, or the `extensions.code` of the error "
        "it raised (`FORBIDDEN`, `BAD_USER_INPUT`, `INTERNAL_SERVER_ERROR`...), or `CANCELLED` when its client went "
        "away while it ran (whether its change was committed is then not known); null when it succeeded."
    )
    created_at: datetime = strawberry.field(description="When it was called.")


def build_audit_entry(entry: AuditEntryModel) -> AuditEntry:
    return AuditEntry(
        id=encode_id("AuditEntry", entry.id),
        staff_id=None if entry.staff_id is None else encode_id("Customer", entry.staff_id),
        staff_email=entry.staff_email,
        operation=entry.operation,
        operation_name=entry.operation_name,
        target_ids=[strawberry.ID(target) for target in entry.target_ids],
        changes=None if entry.changes is None else json.dumps(entry.changes, ensure_ascii=False),
        request_id=entry.request_id,
        succeeded=entry.error_code is None,
        error_code=entry.error_code,
        created_at=entry.created_at,
    )


@strawberry.input(description="Which audit entries: every condition given must hold.")
class AuditLogFilter:
    staff_id: strawberry.ID | None = strawberry.field(
        default=None, description="Calls by this account (`AuditEntry.staffId`)."
    )
    operation: str | None = strawberry.field(
        default=None, description="Calls of this mutation, such as `productUpdate`."
    )
    target_id: strawberry.ID | None = strawberry.field(
        default=None, description="Calls that acted on this ID (one of `AuditEntry.targetIds`)."
    )
    since: datetime | None = strawberry.field(default=None, description="Calls at this moment or later.")
    until: datetime | None = strawberry.field(default=None, description="Calls before this moment.")


@strawberry.type(description="A page of the audit log, with the number of all entries that match.")
class AuditEntryConnection(Connection[AuditEntry]):
    total_count: int = strawberry.field(description="How many entries match the filter, on every page.")


@strawberry.type
class AuditAdminQuery:
    @strawberry.field(
        extensions=requires(Permission.VIEW_AUDIT_LOG),
        description="Every call of an admin mutation, newest first: who called it, on what, with which "
        "arguments (secrets redacted), and how it ended.",
    )
    async def audit_log(
        self,
        info: Info[Context, None],
        filter: Annotated[
            AuditLogFilter | None, strawberry.argument(description="Which entries; left out: all.")
        ] = None,
        first: First = None,
        after: After = None,
    ) -> AuditEntryConnection | None:
        filter = filter or AuditLogFilter()
        search = audit_admin.audit_search(
            staff_id=None if filter.staff_id is None else decode_id_of(filter.staff_id, "Customer", "staffId"),
            operation=filter.operation,
            target_id=filter.target_id,
            since=filter.since,
            until=filter.until,
        )
        listing = await audit_admin.list_entries(search, first, after, with_total="totalCount" in selection_tree(info))
        return AuditEntryConnection.of(
            listing.page,
            [build_audit_entry(entry) for entry in listing.page.rows],
            total_count=listing.total_count or 0,
        )
