"""Customer emails: an outbox consumer that tells a customer what happened to their order.

Registered by name (`CONSUMER`) like every consumer of the outbox (resolvers/outbox.py), so an
email leaves only once the change it tells of is committed. Which email an order change calls for:

- the order's first version (checkout) -> `order_confirmation`: lines, totals, address;
- a shipment's first version (a parcel leaves) -> `shipped`: carrier, tracking link, its lines;
- a later version whose status is PAID / CANCELLED / REFUNDED / DELIVERED -> `payment_received`,
  `cancelled`, `refunded`, `delivered`, at most once per order (an order may be changed again
  without changing its status).

Each email is sent once per (event id, kind): the pair is unique in `sent_email`, and a row is
there only once the server has accepted the message (on PostgreSQL it is inserted in a
transaction that commits after the send, so the same event in two workers at once sends once; on
SQLite, whose one process runs its jobs one at a time, it is inserted after the send). So a
redelivered event sends nothing twice; a crash between the server's acceptance and the row is the
one case that sends it again (at least once, never lost). A temporary failure (server away or busy) raises: the outbox delivers the event again later. A
permanent one (`permanent` says which: a refused recipient, a 5xx) is logged and counted, and not
retried; so is
a template that fails to render (one that does not compile stops start-up).

Templates are Jinja2, `<kind>.html` (autoescaped) and `<kind>.txt`, in resolvers/email_templates/;
a file of the same name in EMAIL_TEMPLATES_DIR replaces the built-in one.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from decimal import Decimal
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, TemplateError, select_autoescape
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models import Order, OrderLine, OrderStatus, SentEmail, Shipment, ShipmentLine
from models.changes import Change
from models.snapshot import restore
from models.sql import is_postgres

log = logging.getLogger("resolvers.emails")

CONSUMER = "emails"  # its name among the outbox's consumers
TEMPLATES = Path(__file__).resolve().parent / "email_templates"

ORDER_CONFIRMATION = "order_confirmation"
SHIPPED = "shipped"
PAYMENT_RECEIVED = "payment_received"
CANCELLED = "cancelled"
REFUNDED = "refunded"
DELIVERED = "delivered"
# The email a later version of an order calls for, by its status (once per order).
BY_STATUS = {
    OrderStatus.PAID: PAYMENT_RECEIVED,
    OrderStatus.CANCELLED: CANCELLED,
    OrderStatus.REFUNDED: REFUNDED,
    OrderStatus.DELIVERED: DELIVERED,
}
KINDS = (ORDER_CONFIRMATION, SHIPPED, PAYMENT_RECEIVED, CANCELLED, REFUNDED, DELIVERED)
SUBJECTS = {
    ORDER_CONFIRMATION: "Order #{number} confirmed",
    SHIPPED: "Order #{number} has shipped",
    PAYMENT_RECEIVED: "Payment received for order #{number}",
    CANCELLED: "Order #{number} cancelled",
    REFUNDED: "Order #{number} refunded",
    DELIVERED: "Order #{number} delivered",
}

Send = Callable[[EmailMessage], Awaitable[None]]


def email_kind(change: Change) -> str | None:
    """Which email an outbox change calls for, if any."""
    if change.kind not in ("order", "shipment") or not change.event_id:
        return None
    row = change.payload["row"]
    if change.kind == "shipment":
        return SHIPPED if row["version"] == 1 else None
    if row["version"] == 1:
        return ORDER_CONFIRMATION
    return BY_STATUS.get(OrderStatus(row["status"]))


def templates(directory: str | None = None) -> Environment:
    """The built-in templates, each replaced by a file of the same name in `directory`."""
    loaders = [FileSystemLoader(directory)] if directory else []
    return Environment(
        loader=ChoiceLoader([*loaders, FileSystemLoader(TEMPLATES)]),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,  # a template naming a value that does not exist fails loudly
        keep_trailing_newline=True,
    )


def _money(amount: Decimal | str, currency: str) -> str:
    return f"{Decimal(amount):.2f} {currency}"


def _name(line: OrderLine) -> str:
    return line.product_name + (f" ({line.variant_name})" if line.variant_name else "")


class Emails:
    """The outbox consumer: `await emails(changes)`."""

    def __init__(
        self,
        send: Send,
        sender: str,
        templates_dir: str | None = None,
        permanent: Callable[[Exception], bool] = lambda error: False,
    ) -> None:
        self.send = send
        self.sender = sender
        self.environment = templates(templates_dir)
        for kind in KINDS:  # a template that does not compile stops start-up, not the first email
            self.environment.get_template(f"{kind}.txt")
            self.environment.get_template(f"{kind}.html")
        self.permanent = permanent
        # Emails by (kind, outcome) for /metrics: `sent`, `failed` (tried again later), `refused`
        # (the server refused it for good) and `error` (its template failed): neither is retried.
        self.counts: Counter[tuple[str, ...]] = Counter()

    async def __call__(self, changes: list[Change]) -> None:
        for change in changes:
            kind = email_kind(change)
            if kind is not None:
                await self.send_once(change, kind)

    async def send_once(self, change: Change, kind: str) -> bool:
        """Send the email `kind` for this change unless it has been sent; whether it was now."""
        if await SentEmail.filter(event_id=change.event_id, kind=kind).exists():
            return False
        shipment = restore(Shipment, change.payload["row"]) if kind == SHIPPED else None
        if shipment is None:
            order: Order | None = restore(Order, change.payload["row"])
        else:
            order = await Order.get_or_none(id=shipment.order_id)
        if order is None:
            return False  # deleted since
        if kind in BY_STATUS.values() and await SentEmail.filter(order_id=order.id, kind=kind).exists():
            return False
        context = await self.context(order)
        if shipment is not None:
            context["shipment"] = await self.parcel(shipment)
        try:
            message = self.compose(kind, order, context)
        except TemplateError as error:
            # Retrying cannot help until the template is fixed, and would hold up every other event.
            self.counts[(kind, "error")] += 1
            log.error("emails: %s for order #%s not sent: its template failed: %r", kind, order.number, error)
            return False
        sent = SentEmail(event_id=change.event_id, kind=kind, order_id=order.id, recipient=order.email)
        try:
            if is_postgres():
                # Workers on many hosts: the row claims the email, and a second worker handed the
                # same event waits on the unique key until the first commits (or rolls back).
                async with in_transaction() as connection:
                    await sent.save(using_db=connection, force_create=True)
                    await self.send(message)
            else:
                # SQLite: one process runs its jobs one at a time, so nothing races; and a
                # transaction held over the SMTP conversation would stall every write it serves.
                await self.send(message)
                await sent.save(force_create=True)
        except IntegrityError:
            return False  # another worker sent it meanwhile
        except Exception as error:
            if self.permanent(error):
                self.counts[(kind, "refused")] += 1
                log.error("emails: %s for order #%s to %s refused: %s", kind, order.number, order.email, error)
                return False
            self.counts[(kind, "failed")] += 1
            log.warning("emails: %s for order #%s not sent (%s); it will be retried", kind, order.number, error)
            raise
        self.counts[(kind, "sent")] += 1
        return True

    def compose(self, kind: str, order: Order, context: dict[str, Any]) -> EmailMessage:
        message = EmailMessage()
        message["Subject"] = SUBJECTS[kind].format(number=order.number)
        message["From"] = self.sender
        message["To"] = order.email
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2].strip("> ") or None)
        message.set_content(self.environment.get_template(f"{kind}.txt").render(context))
        message.add_alternative(self.environment.get_template(f"{kind}.html").render(context), subtype="html")
        return message

    @staticmethod
    async def parcel(shipment: Shipment) -> dict[str, Any]:
        """One parcel: its carrier, tracking number and link, and what is in it."""
        lines = await ShipmentLine.filter(shipment_id=shipment.id).order_by("id").prefetch_related("order_line")
        return {
            "carrier": shipment.carrier.upper(),
            "tracking_number": shipment.tracking_number,
            "tracking_url": shipment.tracking_url,
            "estimated_delivery": shipment.estimated_delivery.isoformat() if shipment.estimated_delivery else "",
            "lines": [
                {"sku": line.order_line.sku, "name": _name(line.order_line), "quantity": line.quantity}
                for line in lines
            ],
        }

    @staticmethod
    async def context(order: Order) -> dict[str, Any]:
        lines = await OrderLine.filter(order_id=order.id).order_by("id")
        currency = order.currency
        address = dict(order.shipping_address)
        return {
            "order": {
                "number": order.number,
                "email": order.email,
                "status": OrderStatus(order.status).value,
                "paid": order.paid_at is not None,
                "shipping_method": order.shipping_method_name,
                "discount_code": order.discount_code,
                "subtotal": _money(order.subtotal, currency),
                "discount_total": _money(order.discount_total, currency),
                "has_discount": Decimal(order.discount_total) > 0,
                "shipping_total": _money(order.shipping_total, currency),
                "tax_total": _money(order.tax_total, currency),
                "total": _money(order.total, currency),
            },
            "lines": [
                {
                    "sku": line.sku,
                    "name": _name(line),
                    "quantity": line.quantity,
                    "unit_price": _money(line.unit_price, currency),
                    "total": _money(line.total, currency),
                }
                for line in lines
            ],
            "address": {
                "name": " ".join(p for p in (address.get("first_name"), address.get("last_name")) if p),
                "lines": [
                    *(address[key] for key in ("company", "line1", "line2") if address.get(key)),
                    " ".join(p for p in (address.get("postal_code"), address.get("city")) if p),
                    *(p for p in (address.get("region"), address.get("country")) if p),
                ],
            },
        }
