"""Account emails as their recipient gets them, for the tests of links sent by email: a real SMTP
server (aiosmtpd, as tests/test_emails.py runs it), the emails consumer and its sending jobs run
as a worker would, and the link read out of the text as a person would click it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.controller import Controller

from gateway import mail
from gateway.job_stats import JobStats
from gateway.jobs import Housekeeping, Jobs
from gateway.settings import load_settings
from gateway.worker import customer_emails
from models import OutboxEvent
from models.changes import ACCOUNT_MESSAGE
from resolvers import emails, outbox
from tests.test_emails import Inbox, deliver, free_port, parts

# Sends the account emails committed so far and returns those that arrived since the last call.
Mailbox = Callable[[], Awaitable[list[EmailMessage]]]


@asynccontextmanager
async def mailroom() -> AsyncIterator[Mailbox]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    # Events earlier tests left undelivered are not this test's: their emails would arrive here.
    await OutboxEvent.filter(delivered_at=None).update(delivered_at=datetime.now(UTC))
    server = mail.SmtpServer.parse(f"smtp://127.0.0.1:{port}")
    # As the gateway composes them: the same letters, SECRET_KEY unset (the development key) as in the test app.
    sender = customer_emails(load_settings({"EMAIL_FROM": "Test Shop <shop@example.com>"}), server.send)
    week = timedelta(days=7)
    jobs = Jobs("sqlite://:memory:", Housekeeping(timedelta(seconds=1), week, week, week), JobStats(), mailer=sender)
    await jobs.open()
    outbox.register(emails.CONSUMER, jobs.plan_emails)
    seen = 0

    async def arrived() -> list[EmailMessage]:
        nonlocal seen
        waiting = await OutboxEvent.filter(kind=ACCOUNT_MESSAGE, delivered_at=None)
        await deliver(jobs, [str(row.event_id) for row in waiting])
        new, seen = inbox.messages[seen:], len(inbox.messages)
        return new

    try:
        yield arrived
    finally:
        outbox.unregister(emails.CONSUMER)
        await jobs.close()
        controller.stop()


def address() -> str:
    return f"account.{uuid.uuid4().hex[:10]}@example.com"


def only(messages: list[EmailMessage], subject: str) -> EmailMessage:
    """The one email of `messages` with this subject."""
    [message] = [m for m in messages if m["Subject"] == subject]
    return message


def link_in(message: EmailMessage) -> str:
    """The one link of the email's text, which the HTML part holds too."""
    text, html = parts(message)
    [link] = [word for word in text.split() if word.startswith("http")]
    assert f'href="{link}"' in html.replace("&amp;", "&")
    return link


def token_in(message: EmailMessage) -> str:
    [token] = parse_qs(urlsplit(link_in(message)).query)["token"]
    return token
