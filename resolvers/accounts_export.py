"""A customer's copy of everything held about them (issue 16, point 6: the right to a copy).

`customerDataExport` records a PENDING `DataExport` and, in the same transaction, an outbox change
of its own kind (`data_export`); once committed, this module's outbox consumer (`plan`, registered
by gateway/jobs.py) has one `exports.build` job deferred per request. The job (`build`) reads the
customer's profile, addresses, orders (lines, addresses, payments, parcels, events), carts,
sessions, the emails sent to them and their earlier exports into one JSON document, and stores it
on the row with the READY status and a second `data_export` change, in one transaction: the
`emails` consumer then sends the link (`ExportEmails`, a kind of email resolvers/emails.py sends
like any other). A second job for the same request (deferred twice after a crash) finds it READY,
or loses the conditional update, and sends nothing twice.

The link is `PUBLIC_URL/exports/<key>.<signature>`: the row's random key and its HMAC-SHA256 under
SECRET_KEY. No token is stored: the database holds the key, which alone opens nothing, and
`sent_email.message` holds the email as sent (link included), as every email's text is kept for
its retries; the link stops working when the export expires (`LIFETIME` after the request), and
the periodic pruning then deletes the row with its document. Unknown, forged and expired links
are answered alike (gateway/exports.py).

Throttled per customer: one export in preparation at a time, `PER_DAY` requests a day.
"""

from __future__ import annotations

import json
import secrets
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.parser import HeaderParser
from typing import Any

from tortoise.expressions import Q

from models import (
    Account,
    Address,
    Cart,
    CartLine,
    DataExport,
    DataExportStatus,
    Order,
    OrderEvent,
    OrderLine,
    Payment,
    RefreshToken,
    SentEmail,
    Shipment,
    ShipmentEvent,
    ShipmentLine,
)
from models.accounts_export import KEY_LENGTH
from models.changes import Change
from resolvers import batches, outbox, signed_keys
from resolvers.emails import Letter
from resolvers.errors import DomainError, ErrorCode

DATA_EXPORT = "data_export"  # the outbox change kind, and the email that carries the link
LIFETIME = timedelta(days=7)  # from the request until the link stops working and the copy is deleted
PER_DAY = 3  # requests one customer may make in a day
# A request still PENDING this long after it was made lost its job (an SQLite process restarted
# with its in-memory queue): it is given up, so that it does not hold off a new one for a week.
STALE_AFTER = timedelta(hours=1)
FORMAT = "commerce-gateway/customer-data-export/1"  # names the document's shape, for whoever reads it
PENDING, READY, FAILED = DataExportStatus.PENDING, DataExportStatus.READY, DataExportStatus.FAILED
_SIGNED = b"data-export:"  # what the signature is for, so no other HMAC under SECRET_KEY can pass for it


async def request(account: Account) -> DataExport:
    """Record a request for a copy of the account's data; its job is deferred after the commit."""
    now = datetime.now(UTC)
    async with outbox.transaction():
        # Under the account's row lock: two requests at once cannot both pass the checks below.
        await Account.filter(id=account.id).select_for_update().first()
        mine = DataExport.filter(account_id=account.id)
        await mine.filter(status=PENDING, requested_at__lt=now - STALE_AFTER).update(status=FAILED)
        if await mine.filter(status=PENDING).exists():
            raise DomainError(
                ErrorCode.TOO_MANY, "A copy of your data is being prepared already: its link comes by email."
            )
        if await mine.filter(requested_at__gte=now - timedelta(days=1)).count() >= PER_DAY:
            raise DomainError(
                ErrorCode.TOO_MANY, f"A copy of your data can be requested {PER_DAY} times a day: try again tomorrow."
            )
        export = await DataExport.create(
            account_id=account.id, key=secrets.token_urlsafe(24), requested_at=now, expires_at=now + LIFETIME
        )
        outbox.record(Change(DATA_EXPORT, {"id": export.id, "status": PENDING.value}))
    return export


async def plan(changes: list[Change]) -> list[int]:
    """The outbox consumer's part: the requests among these changes whose job is not deferred yet."""
    requested = [c.payload["id"] for c in changes if c.kind == DATA_EXPORT and c.payload["status"] == PENDING]
    if not requested:
        return []
    waiting = await DataExport.filter(id__in=requested, status=PENDING, queued=False).order_by("id").only("id")
    return [export.id for export in waiting]


async def mark_queued(export_ids: list[int]) -> None:
    await DataExport.filter(id__in=export_ids).update(queued=True)


async def build(export_id: int) -> str:
    """Build the requested copy and store it, READY; its status after (or `gone`)."""
    export = await DataExport.get_or_none(id=export_id)
    if export is None:
        return "gone"
    if export.status != PENDING:
        return str(export.status)  # built (or given up on) already: a repeated job does nothing
    now = datetime.now(UTC)
    text = json.dumps(await document(export.account_id, now, leave_out=export.id), ensure_ascii=False, indent=2)
    async with outbox.transaction():
        # Conditional: of two jobs for one request, only the first to commit announces it.
        if await DataExport.filter(id=export_id, status=PENDING).update(status=READY, document=text, ready_at=now):
            outbox.record(Change(DATA_EXPORT, {"id": export_id, "status": READY.value}))
            return READY.value
    return str((await DataExport.get(id=export_id)).status)


async def fail(export_id: int) -> None:
    """The job's last attempt failed: the request is given up, and the customer may make another."""
    await DataExport.filter(id=export_id, status=PENDING).update(status=FAILED)


async def prune(size: int = batches.SIZE) -> int:
    """Delete the exports past their expiry, documents and all; how many went."""
    cutoff = datetime.now(UTC)

    async def batch(limit: int) -> int:
        expired = (
            await DataExport.filter(expires_at__lt=cutoff).order_by("id").limit(limit).values_list("id", flat=True)
        )
        return await DataExport.filter(id__in=list(expired)).delete() if expired else 0

    return await batches.delete_in_batches(batch, size)


def download_token(key: str, secret_key: str) -> str:
    """What the download link carries: the export's key and its signature."""
    return signed_keys.sign(_SIGNED, key, secret_key)


async def find_download(token: str, secret_key: str) -> DataExport | None:
    """The READY export a link names, or None: unknown, forged, expired and not yet built alike."""
    key = signed_keys.verified_key(_SIGNED, token, KEY_LENGTH, secret_key)
    if key is None:
        return None  # a forged or mistyped link costs no query
    return await DataExport.get_or_none(key=key, status=READY, expires_at__gt=datetime.now(UTC))


class ExportEmails:
    """The email with the download link (resolvers/emails.py `Letters`), sent when an export is READY."""

    kinds: tuple[str, ...] = (DATA_EXPORT,)

    def __init__(self, public_url: str, secret_key: str) -> None:
        self.public_url = public_url.rstrip("/")
        self.secret_key = secret_key

    def email_kind(self, change: Change) -> str | None:
        return DATA_EXPORT if change.payload.get("status") == READY else None

    async def compose(self, change: Change, kind: str) -> Letter | None:
        export = await DataExport.get_or_none(id=change.payload["id"]).select_related("account")
        if export is None or export.status != READY:
            return None  # expired and deleted since
        account: Account = export.account
        return Letter(
            recipient=account.email,
            subject="Your data is ready to download",
            context={
                "first_name": account.first_name,
                "link": f"{self.public_url}/exports/{download_token(export.key, self.secret_key)}",
                "requested_at": _minutes(export.requested_at),
                "expires_at": _minutes(export.expires_at),
            },
        )


def _minutes(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _when(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def _amount(amount: Decimal | None) -> str | None:
    return None if amount is None else f"{amount:.2f}"


def _address(address: dict[str, str] | None) -> dict[str, str] | None:
    """A stored address with the API's field names (`first_name` -> `firstName`)."""
    if address is None:
        return None
    return {_camel(name): value for name, value in address.items()}


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)


async def document(account_id: int, now: datetime, leave_out: int | None = None) -> dict[str, Any]:
    """Everything held about the account, in the API's words. Left out: secrets that are not data
    about the person (password hash, refresh token hashes, cart and order tokens) and staff who
    acted on their orders; `leave_out` is the export being built, which is not one of its own."""
    account = await Account.get(id=account_id)
    orders = await Order.filter(customer_id=account_id).order_by("id")
    order_ids = [order.id for order in orders]
    return {
        "format": FORMAT,
        "exportedAt": _when(now),
        "customer": {
            "email": account.email,
            "firstName": account.first_name,
            "lastName": account.last_name,
            "phone": account.phone,
            "marketingConsent": account.marketing_consent,
            "isStaff": account.is_staff,
            "createdAt": _when(account.created_at),
        },
        "addresses": [
            {
                **{_camel(name): getattr(address, name) for name in _ADDRESS_FIELDS},
                "defaultShipping": address.default_shipping,
                "defaultBilling": address.default_billing,
            }
            for address in await Address.filter(account_id=account_id).order_by("id")
        ],
        "orders": await _orders(orders),
        "carts": await _carts(account_id),
        "sessions": [
            {
                "createdAt": _when(token.created_at),
                "expiresAt": _when(token.expires_at),
                "revokedAt": _when(token.revoked_at),
            }
            for token in await RefreshToken.filter(account_id=account_id).order_by("id")
        ],
        "emails": [
            {
                "kind": email.kind,
                "to": email.recipient,
                "subject": HeaderParser().parsestr(email.message, headersonly=True)["Subject"] or "",
                "status": email.status,
                "sentAt": _when(email.sent_at),
            }
            for email in await SentEmail.filter(Q(recipient=account.email) | Q(order_id__in=order_ids or [0]))
            .order_by("id")
            .only("id", "kind", "recipient", "message", "status", "sent_at")
        ],
        "dataExports": [
            {"requestedAt": _when(export.requested_at), "status": export.status, "expiresAt": _when(export.expires_at)}
            for export in await DataExport.filter(account_id=account_id)
            .exclude(id=leave_out or 0)
            .order_by("id")
            .only("id", "requested_at", "status", "expires_at")
        ],
    }


_ADDRESS_FIELDS = (
    "first_name",
    "last_name",
    "company",
    "line1",
    "line2",
    "city",
    "postal_code",
    "region",
    "country",
    "phone",
)


def _grouped(rows: list[Any], by: str) -> defaultdict[int, list[Any]]:
    """Rows by the id they belong to (`order_id`, `shipment_id`), each group in the rows' order."""
    groups: defaultdict[int, list[Any]] = defaultdict(list)
    for row in rows:
        groups[getattr(row, by)].append(row)
    return groups


async def _orders(orders: list[Order]) -> list[dict[str, Any]]:
    ids = [order.id for order in orders]
    if not ids:
        return []
    lines = await OrderLine.filter(order_id__in=ids).order_by("id")
    events = _grouped(await OrderEvent.filter(order_id__in=ids).order_by("id"), "order_id")
    payments = _grouped(await Payment.filter(order_id__in=ids).order_by("id"), "order_id")
    shipments = await Shipment.filter(order_id__in=ids).order_by("id")
    parcel_ids = [shipment.id for shipment in shipments]
    parcel_lines = _grouped(
        await ShipmentLine.filter(shipment_id__in=parcel_ids).order_by("id") if parcel_ids else [], "shipment_id"
    )
    tracking = _grouped(
        await ShipmentEvent.filter(shipment_id__in=parcel_ids).order_by("id") if parcel_ids else [], "shipment_id"
    )
    sku_of = {line.id: line.sku for line in lines}
    lines_of, parcels_of = _grouped(lines, "order_id"), _grouped(shipments, "order_id")
    return [
        {
            "number": order.number,
            "status": order.status.value,
            "email": order.email,
            "currency": order.currency,
            "subtotal": _amount(order.subtotal),
            "discountTotal": _amount(order.discount_total),
            "shippingTotal": _amount(order.shipping_total),
            "taxTotal": _amount(order.tax_total),
            "total": _amount(order.total),
            "shippingAddress": _address(order.shipping_address),
            # Orders placed before billing addresses were recorded bill to where they ship.
            "billingAddress": _address(order.billing_address or order.shipping_address),
            "shippingMethod": order.shipping_method_name,
            "discountCode": order.discount_code or None,
            "paidAt": _when(order.paid_at),
            "createdAt": _when(order.created_at),
            "lines": [
                {
                    "sku": line.sku,
                    "productName": line.product_name,
                    "variantName": line.variant_name,
                    "quantity": line.quantity,
                    "quantityShipped": line.quantity_shipped,
                    "unitPrice": _amount(line.unit_price),
                    "total": _amount(line.total),
                }
                for line in lines_of[order.id]
            ],
            "payments": [
                {
                    "provider": payment.provider,
                    "status": payment.status.value,
                    "amount": _amount(payment.amount),
                    "currency": payment.currency,
                    "reference": payment.reference,
                    "createdAt": _when(payment.created_at),
                }
                for payment in payments[order.id]
            ],
            "shipments": [
                {
                    "carrier": shipment.carrier,
                    "trackingNumber": shipment.tracking_number,
                    "trackingUrl": shipment.tracking_url,
                    "status": shipment.status.value,
                    "estimatedDelivery": shipment.estimated_delivery.isoformat()
                    if shipment.estimated_delivery
                    else None,
                    "createdAt": _when(shipment.created_at),
                    "lines": [
                        {"sku": sku_of.get(line.order_line_id), "quantity": line.quantity}
                        for line in parcel_lines[shipment.id]
                    ],
                    "events": [
                        {
                            "status": event.status.value,
                            "description": event.description,
                            "location": event.location,
                            "occurredAt": _when(event.occurred_at),
                        }
                        for event in tracking[shipment.id]
                    ],
                }
                for shipment in parcels_of[order.id]
            ],
            "events": [
                {"kind": event.kind, "message": event.message, "createdAt": _when(event.created_at)}
                for event in events[order.id]
            ],
        }
        for order in orders
    ]


async def _carts(account_id: int) -> list[dict[str, Any]]:
    carts = await Cart.filter(customer_id=account_id).order_by("id")
    if not carts:
        return []
    lines = (
        await CartLine.filter(cart_id__in=[cart.id for cart in carts])
        .order_by("id")
        .values("cart_id", "quantity", "variant__sku", "variant__name")
    )
    return [
        {
            "email": cart.email,
            "currency": cart.currency,
            "shippingAddress": _address(cart.shipping_address),
            "billingAddress": _address(cart.billing_address),
            "completedAt": _when(cart.completed_at),
            "createdAt": _when(cart.created_at),
            "updatedAt": _when(cart.updated_at),
            "lines": [
                {"sku": line["variant__sku"], "variantName": line["variant__name"], "quantity": line["quantity"]}
                for line in lines
                if line["cart_id"] == cart.id
            ],
        }
        for cart in carts
    ]
