"""Customer emails: planned by the outbox's `emails` consumer after the commit, sent by jobs of their
own through a real SMTP server (aiosmtpd, in process), once per event, and parsed with the
standard library as a mail client would."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from jinja2 import TemplateSyntaxError

from gateway import mail
from gateway.app import create_app
from gateway.job_stats import JobStats
from gateway.jobs import EMAIL_SEND, Housekeeping, Jobs
from gateway.settings import load_settings
from models import Order, OutboxEvent, Permission, SentEmail, SentEmailStatus
from resolvers import emails, outbox
from tests.conftest import ROOT, GraphQLClient
from tests.staff import bearer, token_for
from tests.test_checkout import ADDRESS, CHECKOUT, PAID, make_variant, ready_cart

REFUSED = "nobody@example.com"  # the test server answers 550 for this recipient
FULL = "full@example.com"  # and 452 (a mailbox full, for now) for this one


class Inbox:
    """An aiosmtpd handler keeping what it receives, parsed."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address == REFUSED:
            return "550 5.1.1 no such mailbox"
        if address == FULL:
            return "452 4.2.2 mailbox full"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


async def arrival(inbox: Inbox, wanted: Callable[[EmailMessage], bool], seconds: float = 10) -> list[EmailMessage]:
    """The messages `wanted` picks, once one has arrived or after `seconds`."""
    for _ in range(int(seconds / 0.05)):
        if any(wanted(message) for message in inbox.messages):
            break
        await asyncio.sleep(0.05)
    return [message for message in inbox.messages if wanted(message)]


@asynccontextmanager
async def serving(db: Any, port: int, tmp_path: Path, **environment: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app as it serves on SQLite, with its own consumers and in-process worker
    (it polls every second), sending to the test SMTP server on `port`."""
    settings = load_settings(
        {
            "DATABASE_URL": db.url,
            "LOG_LEVEL": "WARNING",
            "RATE_LIMIT_PER_SECOND": "0",
            "TEST_CARD_LEDGER": str(tmp_path / "ledger.jsonl"),
            "EMAIL_URL": f"smtp://127.0.0.1:{port}",
            **environment,
        }
    )
    app = create_app(settings)
    await app.state.events.start()
    await app.state.jobs.start()
    try:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
            yield http
    finally:
        await app.state.jobs.stop()
        await app.state.events.close()


def consumer(port: int) -> emails.Emails:
    server = mail.SmtpServer.parse(f"smtp://127.0.0.1:{port}")
    return emails.Emails(server.send, "Test Shop <shop@example.com>", permanent=mail.permanent)


async def place_order(gql: Any, quantity: int = 2, address: dict[str, str] | None = None) -> dict[str, Any]:
    variant = await make_variant()
    token = await ready_cart(gql, [(variant.sku, quantity)])
    if address is not None:
        update = "mutation($t: ID!, $a: AddressInput!) { cartUpdateShippingAddress(cartToken: $t, address: $a) { userErrors { code } } }"
        assert (await gql.data(update, {"t": token, "a": address}))["cartUpdateShippingAddress"]["userErrors"] == []
    result = (await gql.data(CHECKOUT, {"t": token, "p": PAID}))["checkoutComplete"]
    assert result["userErrors"] == []
    order: dict[str, Any] = result["order"]
    order["sku"] = variant.sku
    return order


async def events_of(order_token: str, kinds: tuple[str, ...] = ("order",)) -> list[str]:
    """The ids of the outbox events about this order (and with `shipment`, its parcels), oldest first."""
    order = await Order.get(token=order_token)
    rows = await OutboxEvent.filter(kind__in=kinds).order_by("-id").limit(200)

    def order_of(row: OutboxEvent) -> int:
        return int(row.payload["id"] if row.kind == "order" else row.payload["row"]["order_id"])

    return [str(row.event_id) for row in reversed(rows) if order_of(row) == order.id]


Register = Callable[[emails.Emails], Awaitable[Jobs]]


@pytest.fixture
async def registered() -> AsyncIterator[Register]:
    """Registers a process's emails as a worker does: the consumer plans, and `emails.send` jobs
    (on an in-memory queue, run by `deliver`) send.

    The worker `deliver` runs also runs the periodic redelivery, which would hand it the events
    earlier tests on this database left undelivered (and send their emails here): they are marked
    delivered first, so each test's inbox holds its own emails only."""
    await OutboxEvent.filter(delivered_at=None).update(delivered_at=datetime.now(UTC))
    opened: list[Jobs] = []

    async def register(consumer: emails.Emails) -> Jobs:
        jobs = Jobs(
            "sqlite://:memory:",
            Housekeeping(timedelta(seconds=1), timedelta(days=1), timedelta(days=30), timedelta(days=30)),
            JobStats(),
            mailer=consumer,
        )
        await jobs.open()
        outbox.register(emails.CONSUMER, jobs.plan_emails)
        opened.append(jobs)
        return jobs

    yield register
    outbox.unregister(emails.CONSUMER)
    for jobs in opened:
        await jobs.close()


async def deliver(jobs: Jobs, event_ids: list[str]) -> None:
    """Deliver the events, then run the sending jobs they deferred (those due now)."""
    await outbox.deliver(event_ids)
    await jobs.app.run_worker_async(wait=False, install_signal_handlers=False, listen_notify=False)


def parts(message: EmailMessage) -> tuple[str, str]:
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and html is not None
    # On the wire every line ends in CRLF, and the parser keeps it.
    return text.get_content().replace("\r\n", "\n"), html.get_content().replace("\r\n", "\n")


async def test_a_checkout_sends_one_confirmation_with_its_lines_and_totals(db, gql, smtp, registered):
    inbox, port = smtp
    jobs = await registered(consumer(port))
    order = await place_order(gql)
    assert inbox.messages == []  # nothing before the delivery of the committed event
    ids = await events_of(order["token"])
    assert len(ids) == 1
    await outbox.deliver(ids)
    assert inbox.messages == []  # the consumer plans; the email's own job sends it
    [planned] = await SentEmail.filter(event_id=ids[0])
    assert (planned.kind, planned.status, planned.queued) == (emails.ORDER_CONFIRMATION, "PENDING", True)
    await deliver(jobs, [])

    [message] = inbox.messages
    assert message["To"] == "ada@example.com"
    assert message["From"] == "Test Shop <shop@example.com>"
    assert message["Subject"] == f"Order #{order['number']} confirmed"
    text, html = parts(message)
    [line] = order["lines"]
    assert f"2 x Zephyr Linen Shirt (Checkout test) [{order['sku']}] at 19.99 EUR: 39.98 EUR" in text
    assert f"Total: {order['total']['amount']} EUR" in text
    assert f"Tax: {order['taxTotal']['amount']} EUR" in text
    assert f"Shipping (Standard): {order['shippingTotal']['amount']} EUR" in text
    assert "Ada Lovelace\n1 Main St\n10115 Berlin\nDE" in text
    assert line["total"]["amount"] == "39.98" and '<td align="right">39.98 EUR</td>' in html
    assert f"<strong>{order['total']['amount']} EUR</strong>" in html
    [sent] = await SentEmail.filter(event_id=ids[0], kind=emails.ORDER_CONFIRMATION)
    assert sent.status == SentEmailStatus.SENT and sent.attempts == 1 and sent.sent_at is not None


async def test_a_redelivered_event_sends_nothing_twice(db, gql, smtp, registered):
    inbox, port = smtp
    first = consumer(port)
    jobs = await registered(first)
    order = await place_order(gql)
    ids = await events_of(order["token"])
    await deliver(jobs, ids)
    assert len(inbox.messages) == 1
    # The same events again: a retried job, the periodic redelivery, another worker's consumer.
    await OutboxEvent.filter(event_id__in=ids).update(delivered_at=None)
    await deliver(jobs, ids)
    other = await registered(consumer(port))
    await OutboxEvent.filter(event_id__in=ids).update(delivered_at=None)
    await deliver(other, ids)
    # A sending job run twice (deferred again after a crash before its row was marked queued).
    [email] = await SentEmail.filter(event_id=ids[0])
    await jobs.app.configure_task(EMAIL_SEND).defer_async(email_id=email.id)
    await deliver(jobs, [])
    assert len(inbox.messages) == 1
    assert first.counts == {(emails.ORDER_CONFIRMATION, "sent"): 1}


async def test_two_jobs_for_one_email_at_once_send_it_once(db, gql, smtp, registered):
    """Two workers running a job for the same email at the same moment: the second waits for the
    first (the row's lock on PostgreSQL, the process's on SQLite) and then finds it SENT."""
    inbox, port = smtp
    server = mail.SmtpServer.parse(f"smtp://127.0.0.1:{port}")

    async def slow(message: EmailMessage) -> None:
        await asyncio.sleep(0.3)  # long enough for the other job to reach the row meanwhile
        await server.send(message)

    one, two = emails.Emails(slow, "shop@example.com"), emails.Emails(slow, "shop@example.com")
    await registered(one)
    order = await place_order(gql)
    await outbox.deliver(await events_of(order["token"]))
    [email] = await SentEmail.filter(order_id=(await Order.get(token=order["token"])).id)
    if db.name == "sqlite":
        two.one_at_a_time = one.one_at_a_time  # one process: the same lock
    assert sorted(await asyncio.gather(one.send_one(email.id), two.send_one(email.id))) == ["SENT", "SENT"]
    assert len(inbox.messages) == 1 and one.counts + two.counts == {(emails.ORDER_CONFIRMATION, "sent"): 1}


async def test_a_server_away_holds_up_no_other_consumer_and_its_job_retries(db, gql, smtp, registered):
    inbox, port = smtp
    away = consumer(free_port())  # nobody listens there
    jobs = await registered(away)
    order = await place_order(gql)
    ids = await events_of(order["token"])
    await deliver(jobs, ids)
    # The event is delivered (cache, subscriptions and webhooks are not held back); the email waits.
    assert await OutboxEvent.filter(event_id__in=ids, delivered_at=None).count() == 0
    [email] = await SentEmail.filter(event_id=ids[0])
    assert (email.status, email.attempts) == ("PENDING", 1) and "Error" in email.error
    assert away.counts == {(emails.ORDER_CONFIRMATION, "failed"): 1}
    [job] = [job for job in await jobs.app.job_manager.list_jobs_async(task=EMAIL_SEND)]
    assert job.status == "todo" and job.attempts == 1  # its retry is scheduled (EMAIL_RETRY)
    away.send = mail.SmtpServer.parse(f"smtp://127.0.0.1:{port}").send  # the server is back
    with pytest.raises(emails.TryAgain):  # the retry, run early here
        await consumer(free_port()).send_one(email.id)
    assert await away.send_one(email.id) == "SENT"
    assert [m["Subject"] for m in inbox.messages] == [f"Order #{order['number']} confirmed"]
    assert (await SentEmail.get(id=email.id)).attempts == 3


async def test_the_last_attempt_of_a_server_away_fails_the_email(db, gql, smtp, registered):
    inbox, port = smtp
    away = consumer(free_port())
    await registered(away)
    order = await place_order(gql)
    await outbox.deliver(await events_of(order["token"]))
    [email] = await SentEmail.filter(order_id=(await Order.get(token=order["token"])).id)
    assert await away.send_one(email.id, last_attempt=True) == "FAILED"  # not raised: no retry is left
    assert (await SentEmail.get(id=email.id)).status == SentEmailStatus.FAILED
    away.send = mail.SmtpServer.parse(f"smtp://127.0.0.1:{port}").send
    assert await away.send_one(email.id) == "FAILED" and inbox.messages == []  # a stray job sends nothing


@pytest.mark.parametrize("address", [REFUSED, FULL])
async def test_a_refused_address_is_not_retried(db, gql, smtp, registered, address):
    """Neither for good (550) nor for now (452): a refused recipient is FAILED at once."""
    inbox, port = smtp
    refusing = consumer(port)
    jobs = await registered(refusing)
    order = await place_order(gql)
    await Order.filter(token=order["token"]).update(email=address)
    row = await OutboxEvent.get(event_id=(await events_of(order["token"]))[0])
    row.payload["row"]["email"] = address
    await row.save(update_fields=["payload"])
    await deliver(jobs, [str(row.event_id)])
    assert inbox.messages == []
    assert refusing.counts == {(emails.ORDER_CONFIRMATION, "refused"): 1}
    [email] = await SentEmail.filter(event_id=row.event_id)
    assert email.status == SentEmailStatus.FAILED and email.error.startswith("SMTPRecipientsRefused")
    assert await jobs.app.job_manager.list_jobs_async(task=EMAIL_SEND, status="todo") == []  # not retried


async def test_cancelling_a_paid_order_sends_the_cancellation(db, gql, smtp, registered):
    inbox, port = smtp
    jobs = await registered(consumer(port))
    order = await place_order(gql, quantity=1)
    staff = await token_for(Permission.MANAGE_ORDERS)
    cancel = "mutation($o: ID!) { orderCancel(orderId: $o) { order { status } userErrors { code } } }"
    body = (
        await gql.http.post("/graphql", headers=bearer(staff), json={"query": cancel, "variables": {"o": order["id"]}})
    ).json()
    assert body["data"]["orderCancel"] == {"order": {"status": "CANCELLED"}, "userErrors": []}
    ids = await events_of(order["token"])
    assert len(ids) == 2
    await deliver(jobs, ids)
    assert [m["Subject"] for m in inbox.messages] == [
        f"Order #{order['number']} confirmed",
        f"Order #{order['number']} cancelled",
    ]
    text, _ = parts(inbox.messages[1])
    assert f"The payment of {order['total']['amount']} EUR has been refunded." in text


async def test_without_email_url_each_email_is_an_eml_file_with_escaped_html(db, gql, tmp_path: Path, registered):
    assert load_settings({}).email_url is None
    directory = tmp_path / "mail"
    jobs = await registered(emails.Emails(mail.sender(None, str(directory)), "shop@example.com"))
    order = await place_order(gql, address={**ADDRESS, "firstName": "Ada <b>&</b>"})
    await deliver(jobs, await events_of(order["token"]))
    [written] = list(directory.glob("*.eml"))
    message = message_from_bytes(written.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    assert message["To"] == "ada@example.com" and message["Subject"] == f"Order #{order['number']} confirmed"
    text, html = parts(message)
    assert "Ada <b>&</b> Lovelace" in text
    assert "Ada &lt;b&gt;&amp;&lt;/b&gt; Lovelace" in html and "<b>&" not in html


async def test_a_template_of_the_shop_replaces_the_built_in_one(db, gql, smtp, tmp_path: Path, registered):
    inbox, port = smtp
    (tmp_path / "order_confirmation.txt").write_text("Order {{ order.number }}: {{ order.total }}\n")
    server = mail.SmtpServer.parse(f"smtp://127.0.0.1:{port}")
    jobs = await registered(emails.Emails(server.send, "shop@example.com", str(tmp_path)))
    order = await place_order(gql, quantity=1)
    await deliver(jobs, await events_of(order["token"]))
    text, html = parts(inbox.messages[0])
    assert text == f"Order {order['number']}: {order['total']['amount']} EUR\n"
    assert "Thank you for your order" in html  # the built-in HTML one


def test_email_urls():
    relay = mail.SmtpServer.parse("smtp://apikey:p%40ss@smtp.example.com:587?starttls=1")
    assert (relay.hostname, relay.port, relay.username, relay.password) == ("smtp.example.com", 587, "apikey", "p@ss")
    assert relay.start_tls and not relay.use_tls
    tls = mail.SmtpServer.parse("smtps://smtp.example.com")
    assert (tls.port, tls.use_tls, tls.start_tls, tls.username) == (465, True, False, None)


async def test_each_parcel_sends_one_shipped_email_with_its_tracking_link_and_lines(db, gql, smtp, registered):
    inbox, port = smtp
    jobs = await registered(consumer(port))
    order = await place_order(gql, quantity=2)
    [line] = (await gql.data("query($t: ID!) { order(token: $t) { lines { id } } }", {"t": order["token"]}))["order"][
        "lines"
    ]
    staff = bearer(await token_for(Permission.MANAGE_SHIPMENTS))
    create = """mutation($o: ID!, $l: [ShipmentLineInput!]!, $n: String!) {
      shipmentCreate(orderId: $o, lines: $l, carrier: "dhl", trackingNumber: $n) { shipment { id } userErrors { code } } }"""
    number = f"JD{order['number']}A"
    variables = {"o": order["id"], "l": [{"orderLineId": line["id"], "quantity": 1}], "n": number}
    created = (await gql.http.post("/graphql", headers=staff, json={"query": create, "variables": variables})).json()
    assert created["data"]["shipmentCreate"]["userErrors"] == []
    moved = (
        """mutation($s: ID!) { shipmentAddTrackingEvent(shipmentId: $s, status: IN_TRANSIT) { userErrors { code } } }"""
    )
    shipment_id = created["data"]["shipmentCreate"]["shipment"]["id"]
    await gql.http.post("/graphql", headers=staff, json={"query": moved, "variables": {"s": shipment_id}})
    ids = await events_of(order["token"], ("order", "shipment"))
    assert len(ids) == 4  # placed; shipment created with the order partly shipped; the parcel moved
    await deliver(jobs, ids)
    assert [m["Subject"] for m in inbox.messages] == [
        f"Order #{order['number']} confirmed",
        f"Order #{order['number']} has shipped",
    ]
    text, html = parts(inbox.messages[1])
    url = f"https://www.dhl.com/global-en/home/tracking.html?tracking-id={number}"
    assert f"has left with DHL, tracking number {number}." in text and f"Track it: {url}" in text
    assert f"In this parcel:\n1 x Zephyr Linen Shirt (Checkout test) [{order['sku']}]\n" in text
    assert f'<a href="{url}">Track your parcel</a>' in html


async def test_the_gateway_sends_after_the_commit_and_counts_in_metrics(db, smtp, tmp_path: Path):
    """The app as it serves: its own consumer, its in-process worker (SQLite; a worker process on
    PostgreSQL, tests/test_jobs.py), its /metrics."""
    if db.name != "sqlite":
        pytest.skip("on PostgreSQL a worker process runs the jobs")
    inbox, port = smtp
    async with serving(db, port, tmp_path, EMAIL_FROM="Gateway Shop <orders@shop.example>") as http:
        order = await place_order(GraphQLClient(http))
        subject = f"Order #{order['number']} confirmed"
        mine = await arrival(inbox, lambda message: message["Subject"] == subject)
        assert len(mine) == 1 and mine[0]["From"] == "Gateway Shop <orders@shop.example>"
        metrics = (await http.get("/metrics")).text
        sent = re.search(r'^gateway_emails_total\{kind="order_confirmation",outcome="sent"\} (\S+)$', metrics, re.M)
        assert sent is not None and float(sent.group(1)) >= 1, metrics
        timed = re.search(r"^gateway_email_send_seconds_count (\S+)$", metrics, re.M)
        assert timed is not None and float(timed.group(1)) >= 1, metrics


@pytest.fixture
def email_worker(db: Any, smtp: tuple[Inbox, int]) -> Iterator[None]:
    """On PostgreSQL, `python -m gateway worker` sending to the test SMTP server."""
    if db.name != "postgres":
        pytest.skip("on SQLite the web process runs the jobs (the test above)")
    environment = {**os.environ, "DATABASE_URL": db.url, "LOG_LEVEL": "WARNING", "REDIS_URL": ""}
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway", "worker", "--concurrency", "2"],
        cwd=ROOT,
        env={**environment, "EMAIL_URL": f"smtp://127.0.0.1:{smtp[1]}", "OUTBOX_REDELIVER_AFTER": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield
    finally:
        process.terminate()
        process.wait(30)


@pytest.mark.slow  # a worker process of its own
async def test_a_worker_process_sends_on_postgresql(db, gql, smtp, email_worker):
    """`python -m gateway worker` registers the consumer: a checkout's confirmation leaves from it."""
    inbox, _ = smtp
    # The test app defers no job (no lifespan): the worker's periodic redelivery delivers the event.
    order = await place_order(gql)
    subject = f"Order #{order['number']} confirmed"
    assert len(await arrival(inbox, lambda message: message["Subject"] == subject, seconds=30)) == 1


async def test_a_template_that_fails_holds_up_nothing(db, gql, smtp, tmp_path: Path, registered):
    inbox, port = smtp
    (tmp_path / "order_confirmation.txt").write_text("Order {{ order.numbr }}\n")  # no such value
    server = mail.SmtpServer.parse(f"smtp://127.0.0.1:{port}")
    broken = emails.Emails(server.send, "shop@example.com", str(tmp_path))
    jobs = await registered(broken)
    order = await place_order(gql, quantity=1)
    ids = await events_of(order["token"])
    await deliver(jobs, ids)
    assert inbox.messages == [] and broken.counts == {(emails.ORDER_CONFIRMATION, "error"): 1}
    assert await OutboxEvent.filter(event_id__in=ids, delivered_at=None).count() == 0
    [email] = await SentEmail.filter(event_id=ids[0])
    assert email.status == SentEmailStatus.FAILED and "numbr" in email.error and not email.queued
    (tmp_path / "order_confirmation.html").write_text("{% for %}")
    with pytest.raises(TemplateSyntaxError):
        emails.Emails(server.send, "shop@example.com", str(tmp_path))
