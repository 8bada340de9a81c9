"""`GET /exports/{token}`: a customer downloads the copy of their data the emailed link names.

The token is the export's key and its signature under SECRET_KEY (resolvers/accounts_export.py).
Answers:

- 200: the JSON document as an attachment (`Content-Disposition`), `Cache-Control: no-store`, so
  no proxy or shared cache keeps a copy of someone's personal data, and the browser keeps none;
- 404: any other link, with the same body whatever the reason: unknown, forged, expired (and
  deleted) or not built yet, so a link says nothing about exports it does not open.

Every answer leaves no `Referer` behind (`Referrer-Policy: no-referrer`) for pages opened from it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from models import ProductFileFormat
from resolvers import accounts_export, imports_admin

PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"}


def data_export_download(secret_key: str) -> Callable[[Request], Awaitable[Response]]:
    async def download(request: Request) -> Response:
        export = await accounts_export.find_download(request.path_params["token"], secret_key)
        if export is None or export.document is None:
            return PlainTextResponse("No such download: the link is wrong or has expired.", 404, headers=PRIVATE)
        day = export.requested_at.date().isoformat()
        return Response(
            export.document.encode(),
            media_type="application/json",
            headers={**PRIVATE, "Content-Disposition": f'attachment; filename="customer-data-{day}.json"'},
        )

    return download


def product_export_download(secret_key: str) -> Callable[[Request], Awaitable[Response]]:
    """`GET /exports/products/{token}`: the file a staff member's `productExport` wrote, from the
    link `ExportJob.downloadUrl` gives (resolvers/imports_admin.py); 404 alike for any other link."""

    async def download(request: Request) -> Response:
        export = await imports_admin.find_download(request.path_params["token"], secret_key)
        if export is None or export.document is None:
            return PlainTextResponse("No such download: the link is wrong or has expired.", 404, headers=PRIVATE)
        csv = export.format == ProductFileFormat.CSV
        name = f"products-{export.requested_at.date().isoformat()}-{export.id}.{'csv' if csv else 'jsonl'}"
        return Response(
            export.document.encode(),
            media_type="text/csv; charset=utf-8" if csv else "application/jsonl; charset=utf-8",
            headers={**PRIVATE, "Content-Disposition": f'attachment; filename="{name}"'},
        )

    return download
