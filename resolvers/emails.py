"""Customer emails: an outbox consumer that decides which emails a committed change calls for, and
the job that sends one.

Registered by name (`CONSUMER`) like every consumer of the outbox (resolvers/outbox.py), so an
email is planned only once the change it tells of is committed. Which email an order change calls for:

- the order's first version (checkout) -> `order_confirmation`: lines, totals, address;
- a shipment's first version (a parcel leaves) -> `shipped`: carrier, tracking link, its lines;
- a later version whose status is PAID / CANCELLED / DELIVERED -> `payment_received`,
  `cancelled`, `delivered`, at most once per order (an order may be changed again
  without changing its status);
- a later version recording a refund (its payload's `refund`, resolvers/refunds.py) -> `refunded`,
  once per refund: a second partial refund has its email too.

Like outgoing webhooks, the consumer sends nothing itself: `plan` composes each email and records
it as a PENDING `sent_email` row, one per (event id, kind) under a unique key, all in one
statement, so a redelivered event plans nothing twice; gateway/jobs.py then defers one
`emails.send` job per row not yet queued. An SMTP server that is away thus holds back no other
consumer (cache invalidation, subscriptions, webhooks): only its own jobs wait and retry.

`send` is one attempt, at least once and effectively once: a job that finds its email SENT (or
FAILED) does nothing. On PostgreSQL it holds the row's lock (`SELECT ... FOR UPDATE`) over the SMTP
conversation, so a second job for the same email, in another worker at once, waits and then finds
it SENT; on SQLite, whose one process runs its jobs itself, a lock of the process does the same
without holding a write transaction open. A crash between the server's acceptance and the SENT
row is the one case that sends an email again. A temporary failure (server away or busy) raises
`TryAgain`, for the job's retry policy (its last attempt marks the email FAILED); a permanent one (`permanent` says which: a refused
recipient, a 5xx) marks the email FAILED at once, logged and counted; so does a template that
fails to render, when the email is planned (one that does not compile stops start-up).

Emails about something other than an order come from the module that records the change calling
for them (`Letters`, given to `Emails` by the change's kind: resolvers/accounts_export.py's link to a
copy of a customer's data): it says which email a change calls for and composes what it says; the
planning, the row, the sending and its retries are the same as for an order's. An email whose
link acts for whoever holds it (`secret_kinds`: a password reset, resolvers/account_tokens.py) is
kept composed only while it may be sent again: once SENT or FAILED its message is blanked.

Templates are Jinja2, `<kind>.html` (autoescaped) and `<kind>.txt`, in resolvers/email_templates/;
a file of the same name in EMAIL_TEMPLATES_DIR replaces the built-in one.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from email import message_from_string, policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any, Protocol

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, TemplateError, select_autoescape
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from models import Order, OrderLine, OrderStatus, SentEmail, SentEmailStatus, Shipment, ShipmentLine
from models.changes import REFUND, Change
from models.emails import ERROR_LENGTH
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

PENDING, SENT, FAILED = SentEmailStatus.PENDING, SentEmailStatus.SENT, SentEmailStatus.FAILED

Send = Callable[[EmailMessage], Awaitable[None]]


@dataclass(frozen=True)
class Letter:
    """An email that is not about an order, as the module calling for it composes it."""

    recipient: str
    subject: str
    context: dict[str, Any]  # what its templates are given


class Letters(Protocol):
    """The emails changes of one kind call for, from the module that records them."""

    kinds: tuple[str, ...]  # the email kinds it composes: their templates are checked at start-up

    def email_kind(self, change: Change) -> str | None:
        """Which email the change calls for, if any."""
        ...

    async def compose(self, change: Change, kind: str) -> Letter | None:
        """The email; None when it is no longer called for (its object is gone)."""
        ...


class TryAgain(Exception):
    """The server was away or busy: a later attempt may succeed (the job's retry policy)."""


def email_kind(change: Change) -> str | None:
    """Which email an outbox change calls for, if any."""
    if change.kind not in ("order", "shipment") or not change.event_id:
        return None
    row = change.payload["row"]
    if change.kind == "shipment":
        return SHIPPED if row["version"] == 1 else None
    if row["version"] == 1:
        return ORDER_CONFIRMATION
    status = OrderStatus(row["status"])
    if status not in BY_STATUS and change.payload.get(REFUND) is not None:
        return REFUNDED  # a cancellation's refund is told in the `cancelled` email
    return BY_STATUS.get(status)


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


def _postal(address: dict[str, str]) -> dict[str, Any]:
    """An address as a label shows it: the name, then its lines."""
    return {
        "name": " ".join(p for p in (address.get("first_name"), address.get("last_name")) if p),
        "lines": [
            *(address[key] for key in ("company", "line1", "line2") if address.get(key)),
            " ".join(p for p in (address.get("postal_code"), address.get("city")) if p),
            *(p for p in (address.get("region"), address.get("country")) if p),
        ],
    }


class Emails:
    """The emails of a process: `plan` (the outbox consumer's part) and `send_one` (a job's)."""

    def __init__(
        self,
        send: Send,
        sender: str,
        templates_dir: str | None = None,
        permanent: Callable[[Exception], bool] = lambda error: False,
        letters: Mapping[str, Letters] | None = None,
        secret_kinds: Iterable[str] = (),
    ) -> None:
        self.send = send
        self.sender = sender
        self.environment = templates(templates_dir)
        self.letters = dict(letters or {})  # by the kind of change that calls for them
        self.secret_kinds = frozenset(secret_kinds)  # their message is blanked once sent or given up
        # A template that does not compile stops start-up, not the first email.
        for kind in (*KINDS, *(kind for each in self.letters.values() for kind in each.kinds)):
            self.environment.get_template(f"{kind}.txt")
            self.environment.get_template(f"{kind}.html")
        self.permanent = permanent
        self.one_at_a_time = asyncio.Lock()  # SQLite: this process's jobs, one send at a time
        # Emails by (kind, outcome) for /metrics: `sent`, `failed` (its job tries again later),
        # `refused` (the server refused it for good) and `error` (its template failed): neither
        # of the last two is retried.
        self.counts: Counter[tuple[str, ...]] = Counter()

    async def plan(self, changes: list[Change]) -> list[int]:
        """Record the emails these committed changes call for, composed (one row per event id and
        kind, however often the changes come); the ids of those PENDING whose job is not queued yet."""
        wanted = [(change, kind) for change in changes if (kind := self.email_kind(change)) is not None]
        if not wanted:
            return []
        event_ids = [change.event_id for change, _ in wanted]
        known = {
            (str(event_id), kind)
            for event_id, kind in await SentEmail.filter(event_id__in=event_ids).values_list("event_id", "kind")
        }
        rows: list[SentEmail] = []
        once: set[tuple[int, str]] = set()  # (order, kind) planned in this batch, of the once-per-order kinds
        for change, kind in wanted:
            if (change.event_id, kind) not in known:
                row = await self.compose_row(change, kind, once)
                if row is not None:
                    rows.append(row)
        if rows:
            await SentEmail.bulk_create(rows, ignore_conflicts=True)  # another worker's plan may have won
        waiting = await SentEmail.filter(event_id__in=event_ids, status=PENDING, queued=False).order_by("id")
        return [email.id for email in waiting]

    def email_kind(self, change: Change) -> str | None:
        letters = self.letters.get(change.kind)
        if letters is None:
            return email_kind(change)
        return letters.email_kind(change) if change.event_id else None

    async def compose_row(self, change: Change, kind: str, once: set[tuple[int, str]]) -> SentEmail | None:
        """The email `kind` for this change, composed; None when its order is gone or was sent it."""
        letters = self.letters.get(change.kind)
        if letters is not None:
            letter = await letters.compose(change, kind)
            if letter is None:
                return None
            row = SentEmail(event_id=change.event_id, kind=kind, recipient=letter.recipient)
            return self.render(row, lambda: self.message(kind, letter.recipient, letter.subject, letter.context))
        shipment = restore(Shipment, change.payload["row"]) if kind == SHIPPED else None
        if shipment is None:
            order: Order | None = restore(Order, change.payload["row"])
        else:
            order = await Order.get_or_none(id=shipment.order_id)
        if order is None or not order.email:
            return None  # deleted since, or its customer's data erased (resolvers/accounts_deletion.py)
        if kind in BY_STATUS.values():
            if (order.id, kind) in once or await SentEmail.filter(order_id=order.id, kind=kind).exists():
                return None
            once.add((order.id, kind))
        row = SentEmail(event_id=change.event_id, kind=kind, order_id=order.id, recipient=order.email)
        context = await self.context(order)
        refund = change.payload.get(REFUND)
        if kind == REFUNDED and isinstance(refund, dict):
            context["refund"] = {"amount": _money(refund["amount"], refund.get("currency") or order.currency)}
        if shipment is not None:
            context["shipment"] = await self.parcel(shipment)
        return self.render(row, lambda: self.compose(kind, order, context), f" for order #{order.number}")

    def render(self, row: SentEmail, compose: Callable[[], EmailMessage], about: str = "") -> SentEmail:
        """The row with its message composed, or FAILED when a template fails: retrying cannot
        help until the template is fixed, so it is never sent."""
        try:
            row.message = compose().as_string()
        except TemplateError as error:
            self.counts[(row.kind, "error")] += 1
            log.error("emails: %s%s not sent: its template failed: %r", row.kind, about, error)
            row.status, row.error = FAILED, f"template: {error!r}"[:ERROR_LENGTH]
        return row

    async def send_one(self, email_id: int, last_attempt: bool = False) -> str:
        """One attempt at sending the email `email_id`; its status after. Raises TryAgain when the
        server was away or busy (the attempt is recorded first), unless this is the `last_attempt`
        the job makes: then the email is FAILED."""
        if is_postgres():
            async with in_transaction() as connection:
                # A second job for this email (another worker, at once) waits here for the first.
                email = await SentEmail.filter(id=email_id).select_for_update().using_db(connection).first()
                status, error = await self.attempt(email, connection, last_attempt)
        else:
            async with self.one_at_a_time:
                email = await SentEmail.get_or_none(id=email_id)
                status, error = await self.attempt(email, None, last_attempt)
        if error is not None:
            raise TryAgain(f"email {email_id}: {type(error).__name__}: {error}") from error
        return status

    async def attempt(
        self, email: SentEmail | None, connection: BaseDBAsyncClient | None, last_attempt: bool = False
    ) -> tuple[str, Exception | None]:
        """Send a PENDING email and record what became of it: its status, and the error when a
        later attempt may succeed (returned, not raised, so that the record commits)."""
        if email is None:
            return "gone", None
        if email.status != PENDING:
            return email.status, None  # sent (or given up on) already: a repeated job sends nothing
        message = message_from_string(email.message, policy=policy.default)
        assert isinstance(message, EmailMessage)  # policy.default parses into EmailMessage
        update = SentEmail.filter(id=email.id).using_db(connection)
        # A link that works for whoever reads it is kept only while the email may be sent again.
        done: dict[str, str] = {"message": ""} if email.kind in self.secret_kinds else {}
        try:
            await self.send(message)
        except Exception as error:  # any failure: the server decides whether it is for good
            reason = f"{type(error).__name__}: {error}"[:ERROR_LENGTH]
            if self.permanent(error):
                self.counts[(email.kind, "refused")] += 1
                log.error("emails: %s #%d to %s refused: %s", email.kind, email.id, email.recipient, error)
                await update.update(status=FAILED, attempts=email.attempts + 1, error=reason, **done)
                return FAILED, None
            self.counts[(email.kind, "failed")] += 1
            if last_attempt:
                log.error("emails: %s #%d not sent (%s), its last attempt: given up", email.kind, email.id, error)
                await update.update(status=FAILED, attempts=email.attempts + 1, error=reason, **done)
                return FAILED, None
            log.warning("emails: %s #%d not sent (%s); it will be retried", email.kind, email.id, error)
            await update.update(attempts=email.attempts + 1, error=reason)
            return PENDING, error
        await update.update(status=SENT, attempts=email.attempts + 1, error="", sent_at=datetime.now(UTC), **done)
        self.counts[(email.kind, "sent")] += 1
        return SENT, None

    def compose(self, kind: str, order: Order, context: dict[str, Any]) -> EmailMessage:
        return self.message(kind, order.email, SUBJECTS[kind].format(number=order.number), context)

    def message(self, kind: str, recipient: str, subject: str, context: dict[str, Any]) -> EmailMessage:
        message = EmailMessage()
        message["Subject"] = subject
        message["From"] = self.sender
        message["To"] = recipient
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
            "address": _postal(order.shipping_address),
            # Orders placed before billing addresses were recorded bill to where they ship.
            "billing_address": _postal(order.billing_address or order.shipping_address),
        }


async def mark_queued(email_ids: list[int]) -> None:
    await SentEmail.filter(id__in=email_ids).update(queued=True)
