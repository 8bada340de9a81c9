"""Where outgoing email goes: an SMTP server (EMAIL_URL), or `.eml` files under var/mail/.

`smtp://user:pass@host:587?starttls=1` sends through a relay with STARTTLS, `smtps://…:465` over
TLS from the first byte; user and password are optional and percent-decoded. Without EMAIL_URL
(the embedded default) each message is written as one `.eml` file, which any mail client opens,
and the log says where: a laptop sends no email by mistake and loses none either.
"""

from __future__ import annotations

import bisect
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib
from prometheus_client.utils import floatToGoString

from gateway.metrics import BUCKETS, Metrics

log = logging.getLogger("gateway.mail")
_LE = tuple(floatToGoString(bound) for bound in (*BUCKETS, float("inf")))

MAIL_DIRECTORY = "var/mail"
SMTP_TIMEOUT = 15.0  # seconds for each step of a conversation with the server
_TRUE = ("1", "true", "yes", "on")

# Sends one message or raises (the server refused it, or could not be reached).
Send = Callable[[EmailMessage], Awaitable[None]]


@dataclass(frozen=True)
class SmtpServer:
    hostname: str
    port: int
    username: str | None
    password: str | None
    use_tls: bool  # smtps://: TLS from the first byte
    start_tls: bool  # smtp://…?starttls=1: upgrade after EHLO, or fail

    @classmethod
    def parse(cls, url: str) -> SmtpServer:
        """The server an EMAIL_URL names; ValueError saying what is wrong with it."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError(f"expected smtp://USER:PASS@HOST:PORT or smtps://…, got scheme {parts.scheme!r}")
        if not parts.hostname:
            raise ValueError("the URL names no host")
        try:
            port = parts.port
        except ValueError:
            raise ValueError("the port is not a number between 1 and 65535") from None
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        unknown = sorted(set(query) - {"starttls"})
        if unknown:
            raise ValueError(f"unknown parameter {unknown[0]!r} (only starttls is known)")
        tls = parts.scheme == "smtps"
        return cls(
            hostname=parts.hostname,
            port=port or (465 if tls else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=tls,
            start_tls=query.get("starttls", "").lower() in _TRUE,
        )

    async def send(self, message: EmailMessage) -> None:
        await aiosmtplib.send(
            message,
            hostname=self.hostname,
            port=self.port,
            username=self.username,
            password=self.password,
            use_tls=self.use_tls,
            # False, not None: aiosmtplib would otherwise upgrade whenever the server offers it.
            start_tls=self.start_tls,
            timeout=SMTP_TIMEOUT,
        )


@dataclass(frozen=True)
class MailDirectory:
    """The embedded default: each message an `.eml` file in `directory`."""

    directory: Path

    async def send(self, message: EmailMessage) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        path = self.directory / f"{stamp}-{uuid.uuid4().hex[:12]}.eml"
        path.write_bytes(message.as_bytes())
        log.info("mail: EMAIL_URL is unset, so %r to %s was written to %s", message["Subject"], message["To"], path)


def sender(email_url: str | None, directory: str = MAIL_DIRECTORY) -> Send:
    """How this process sends a message: through EMAIL_URL's server, or into `directory`."""
    if email_url:
        return SmtpServer.parse(email_url).send
    return MailDirectory(Path(directory)).send


def permanent(error: Exception) -> bool:
    """Whether a failed send is not worth trying again: the server refused the recipient (even
    with a 4xx: a mailbox full for days would hold up every outbox event queued behind it) or
    answered 5xx. The server away, busy or closing (421) is a failure for now: tried again."""
    if isinstance(error, (aiosmtplib.SMTPRecipientsRefused, aiosmtplib.SMTPRecipientRefused)):
        return True
    return isinstance(error, aiosmtplib.SMTPResponseException) and 500 <= error.code < 600


class Timed:
    """A `Send` that times each message handed to the server (or written), failed ones too."""

    def __init__(self, send: Send) -> None:
        self.inner = send
        self.buckets: dict[tuple[str, ...], float] = defaultdict(float)  # (le,) -> sends
        self.seconds = 0.0

    async def __call__(self, message: EmailMessage) -> None:
        started = time.perf_counter()
        try:
            await self.inner(message)
        finally:
            seconds = time.perf_counter() - started
            self.buckets[(_LE[bisect.bisect_left(BUCKETS, seconds)],)] += 1
            self.seconds += seconds


def publish(metrics: Metrics, counts: Callable[[], Mapping[tuple[str, ...], float]], timed: Timed) -> None:
    """The emails this process sent, by kind and outcome, as `counts` reads them, and how long each
    took the server to accept (or refuse)."""
    metrics.reading(
        "gateway_emails_total",
        "counter",
        "Customer emails this process sent or failed to send, by kind and outcome.",
        counts,
        ("kind", "outcome"),
    )
    metrics.histogram(
        "gateway_email_send_seconds",
        "How long sending one email took (the SMTP conversation, or writing the .eml file).",
        (),
        lambda: timed.buckets,
        lambda: {(): timed.seconds},
    )
