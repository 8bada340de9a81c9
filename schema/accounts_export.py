"""`customerDataExport`: the signed-in customer asks for a copy of everything held about them,
which comes by email as a download link (resolvers/accounts_export.py builds and sends it)."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from models import DataExport as DataExportModel
from models import DataExportStatus
from resolvers import accounts_export
from schema.context import Context
from schema.ids import encode_id
from schema.permissions import require_signed_in, signed_in
from schema.shared import UserError, attempt, described_enum

described_enum(
    DataExportStatus,
    "Where a copy of a customer's data stands (`customerDataExport`).",
    {
        DataExportStatus.PENDING: "Requested: it is being put together, and its link is emailed when it is ready.",
        DataExportStatus.READY: "Put together: the download link has been emailed and works until `expiresAt`.",
        DataExportStatus.FAILED: "It could not be put together: request another.",
    },
)


@strawberry.type(description="A copy of everything held about the signed-in customer, as one JSON document.")
class DataExport:
    id: strawberry.ID = strawberry.field(description="The request's ID.")
    status: DataExportStatus = strawberry.field(description="Where it stands.")
    requested_at: datetime = strawberry.field(description="When it was requested.")
    expires_at: datetime = strawberry.field(
        description="When its download link stops working and the copy is deleted: "
        f"{accounts_export.LIFETIME.days} days after the request."
    )


def build_data_export(export: DataExportModel) -> DataExport:
    return DataExport(
        id=encode_id("DataExport", export.id),
        status=DataExportStatus(export.status),
        requested_at=export.requested_at,
        expires_at=export.expires_at,
    )


@strawberry.type(description="What `customerDataExport` did.")
class DataExportPayload:
    data_export: DataExport | None = strawberry.field(description="The request, PENDING; null when refused.")
    user_errors: list[UserError] = strawberry.field(
        description="Why nothing was requested (TOO_MANY: one is being prepared, or the day's requests are used "
        "up); empty on success."
    )


@strawberry.type
class AccountsExportMutation:
    @strawberry.mutation(
        extensions=signed_in(),
        description="Ask for a copy of everything held about the signed-in customer (profile, addresses, orders "
        "with their payments, parcels and events, carts, sessions, emails sent) as one JSON file. It is put "
        "together in the background and a download link comes by email to the account's address, working "
        f"{accounts_export.LIFETIME.days} days. One at a time, {accounts_export.PER_DAY} a day.",
    )
    async def customer_data_export(self, info: Info[Context, None]) -> DataExportPayload:
        account = require_signed_in(await info.context.viewer())  # as the field's extension made sure
        export, errors = await attempt(accounts_export.request(account))
        return DataExportPayload(data_export=None if export is None else build_data_export(export), user_errors=errors)
