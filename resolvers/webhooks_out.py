"""Outgoing webhooks: subscriptions, which committed changes become which events, and sending one
delivery, signed per Standard Webhooks (https://www.standardwebhooks.com).

The outbox hands every committed change to the "webhooks" consumer at least once (gateway/jobs.py
registers it): `plan` turns the changes into one delivery row per (subscription, event id), the
unique pair making a second hand-over a no-op, and names the rows that still need a sending job.
`send` makes one attempt: success and refusals are final; a timeout, a connection failure or a 5xx
raises `TryAgain`, for the job's retry policy, except on the job's last attempt, which marks the
delivery FAILED (`webhookRedeliver` can still send it again). 410 Gone pauses the subscription for
good. `prune_logs` deletes the deliveries finished longer ago than WEBHOOK_LOG_RETENTION_DAYS.

Targets are https URLs whose host resolves only to public addresses (no loopback, private,
link-local, cloud metadata or otherwise reserved address), checked when a subscription is created
or changed and again before every attempt (DNS may have changed), unless `allow_private`
(WEBHOOK_ALLOW_PRIVATE_TARGETS, for development and tests) allows http and any address. An attempt
connects to the address it checked (`Target`), so a DNS answer changed in between cannot redirect it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import certifi
import httpx
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from models import (
    OutboxEvent,
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEvent,
    WebhookSubscription,
)
from models.changes import CREATED, DELETED, EVENT, PRODUCT, REFUND, STOCK_LOW, UPDATED, Change
from models.error_codes import ErrorCode
from models.sql import is_postgres
from models.webhooks_out import RESPONSE_LENGTH, SECRET_LENGTH, URL_LENGTH
from resolvers import batches, outbox
from resolvers.errors import DomainError
from resolvers.pagination import Page, newest_first

TIMEOUT = httpx.Timeout(10.0, connect=5.0)  # one attempt waits at most this long
REDELIVERY = "webhook_redelivery"  # the outbox change kind of webhookRedeliver
SECRET_PREFIX = "whsec_"
SECRET_BYTES = 24  # a generated secret's key
MIN_SECRET_BYTES, MAX_SECRET_BYTES = 16, 64
MAX_EVENTS = len(WebhookEvent)
USER_AGENT = "commerce-gateway-webhooks/1"
PENDING, SUCCEEDED, FAILED = (
    WebhookDeliveryStatus.PENDING,
    WebhookDeliveryStatus.SUCCEEDED,
    WebhookDeliveryStatus.FAILED,
)
NOT_SENT = "NOT_SENT"  # what `send` says when there was nothing to attempt (gone, or finished already)

# An order's status after a change, and the event that says it got there (PARTIALLY_REFUNDED has
# none: ORDER_REFUNDED comes with each refund's change, not with every later change of the order).
ORDER_STATUS_EVENTS = {
    "PAID": WebhookEvent.ORDER_PAID,
    "CANCELLED": WebhookEvent.ORDER_CANCELLED,
    "REFUNDED": WebhookEvent.ORDER_REFUNDED,
    "SHIPPED": WebhookEvent.ORDER_FULFILLED,
    "DELIVERED": WebhookEvent.ORDER_DELIVERED,
}
# What happened to a product (resolvers/catalogue_events.py), and the event that says so.
PRODUCT_EVENTS = {
    CREATED: WebhookEvent.PRODUCT_CREATED,
    UPDATED: WebhookEvent.PRODUCT_UPDATED,
    DELETED: WebhookEvent.PRODUCT_DELETED,
}


class TryAgain(Exception):
    """The attempt failed in a way a later one may not: a timeout, no connection, a 5xx."""


def events_of(change: Change) -> list[WebhookEvent]:
    """The webhook events a committed change is, most specific first."""
    row = change.payload.get("row")
    if not isinstance(row, dict):
        return []
    first = row.get("version") == 1
    if change.kind == "order":
        found = [WebhookEvent.ORDER_PLACED] if first else []
        status_event = ORDER_STATUS_EVENTS.get(str(row.get("status")))
        found = [*found, status_event] if status_event is not None else found
        # Every refund says so, once (a second partial refund leaves the status as it was; a
        # cancellation's refund comes after ORDER_CANCELLED): resolvers/refunds.py marks its change.
        if change.payload.get(REFUND) is not None and WebhookEvent.ORDER_REFUNDED not in found:
            found.append(WebhookEvent.ORDER_REFUNDED)
        return found
    if change.kind == "shipment":
        return [WebhookEvent.SHIPMENT_CREATED if first else WebhookEvent.SHIPMENT_UPDATED]
    if change.kind == PRODUCT:
        product_event = PRODUCT_EVENTS.get(str(change.payload.get(EVENT)))
        return [product_event] if product_event is not None else []
    if change.kind == STOCK_LOW:
        return [WebhookEvent.STOCK_LOW]
    return []


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _secret_key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)


def check_secret(secret: str) -> str:
    """A secret given by the caller: `whsec_` and the base64 of 16 to 64 bytes."""
    try:
        key = _secret_key(secret) if secret.startswith(SECRET_PREFIX) else b""
    except (binascii.Error, ValueError):
        key = b""
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES or len(secret) > SECRET_LENGTH:
        raise DomainError(
            ErrorCode.INVALID,
            f"A secret is `{SECRET_PREFIX}` followed by the base64 of {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} "
            "random bytes; leave it out to have one generated.",
            ["secret"],
        )
    return secret


def _refused(reason: str) -> DomainError:
    return DomainError(ErrorCode.INVALID, f"This URL cannot receive webhooks: {reason}.", ["url"])


@dataclass(frozen=True)
class Target:
    """Where one attempt connects: the address the host was checked at (so a DNS answer that
    changes after the check, DNS rebinding, cannot send it elsewhere), with the original host in
    the Host header and in TLS (SNI and the certificate check)."""

    url: str
    host: str  # the Host header: the URL's host[:port]
    server_name: str  # the URL's host name


async def check_target(url: str, allow_private: bool) -> Target:
    """Where webhooks to `url` go now (see the module's docstring); else INVALID on `url`."""
    if len(url) > URL_LENGTH:
        raise DomainError(ErrorCode.TOO_LONG, f"A URL has at most {URL_LENGTH} characters.", ["url"])
    parts = urlsplit(url)
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes:
        raise _refused("only https URLs are allowed")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        raise _refused("its port is not a number") from None
    if not host:
        raise _refused("it names no host")
    if parts.username is not None or parts.password is not None:
        raise _refused("it holds credentials")
    try:
        found = await asyncio.get_running_loop().getaddrinfo(
            host, port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM
        )
    except (OSError, UnicodeError):
        raise _refused(f"{host} does not resolve") from None
    addresses = [ipaddress.ip_address(str(address[0]).partition("%")[0]) for *_, address in found]
    for ip in addresses:
        if not allow_private and (not ip.is_global or ip.is_multicast):
            raise _refused(f"{host} resolves to {ip}, a loopback, private, link-local or reserved address")
    if not addresses:
        raise _refused(f"{host} does not resolve")
    # IPv4 first: an endpoint published on both is reachable on it from more networks.
    chosen = min(addresses, key=lambda ip: ip.version)
    literal = f"[{chosen}]" if chosen.version == 6 else str(chosen)
    netloc = f"{literal}:{port}" if port is not None else literal
    return Target(url=urlunsplit(parts._replace(netloc=netloc)), host=parts.netloc, server_name=host)


def _events(events: Sequence[WebhookEvent]) -> list[str]:
    if not events:
        raise DomainError(ErrorCode.REQUIRED, "Subscribe to at least one event.", ["events"])
    return sorted({event.value for event in events})


async def create_subscription(
    url: str, events: Sequence[WebhookEvent], secret: str | None, allow_private: bool
) -> tuple[WebhookSubscription, str]:
    """A new active subscription and its secret (generated when not given: shown this once)."""
    chosen = check_secret(secret) if secret is not None else generate_secret()
    names = _events(events)
    await check_target(url, allow_private)
    subscription = await WebhookSubscription.create(url=url, events=names, secret=chosen)
    return subscription, chosen


async def _subscription(subscription_id: int) -> WebhookSubscription:
    found = await WebhookSubscription.get_or_none(id=subscription_id)
    if found is None:
        raise DomainError(ErrorCode.NOT_FOUND, "No webhook subscription has this ID.", ["id"])
    return found


async def update_subscription(
    subscription_id: int,
    *,
    url: str | None,
    events: Sequence[WebhookEvent] | None,
    active: bool | None,
    allow_private: bool,
) -> WebhookSubscription:
    """Change the target, the events, or pause (`active` false) and resume it."""
    subscription = await _subscription(subscription_id)
    if url is not None:
        await check_target(url, allow_private)
        subscription.url = url
    if events is not None:
        subscription.events = _events(events)
    if active is not None:
        subscription.active = active
        if active:
            subscription.disabled_reason = ""
    await subscription.save()
    return subscription


async def delete_subscription(subscription_id: int) -> int:
    """Delete it and its deliveries (jobs still queued for them find nothing to send)."""
    subscription = await _subscription(subscription_id)
    await subscription.delete()
    return subscription_id


def _payload(change: Change, event: WebhookEvent, row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": change.event_id,
        "type": event.value,
        "timestamp": datetime.now(UTC).isoformat(),
        "data": {"kind": change.kind, "object": row},
    }


async def plan(changes: list[Change]) -> list[int]:
    """The delivery rows these committed changes make (one per subscription and event id, however
    often the changes come), and the ids of those whose sending job is not deferred yet."""
    subscriptions = await WebhookSubscription.filter(active=True)
    event_ids = [change.event_id for change in changes if change.event_id]
    # A subscription hears of what is committed after it was made, not of older events that are
    # delivered late (a redelivery after a crash).
    committed = {
        str(event.event_id): event.created_at
        for event in await OutboxEvent.filter(event_id__in=event_ids).only("event_id", "created_at")
    }
    rows: list[WebhookDelivery] = []
    for change in changes:
        fired = events_of(change)
        at = committed.get(change.event_id)
        if not fired or at is None:
            continue
        for subscription in subscriptions:
            if subscription.created_at > at:
                continue
            wanted = [event for event in fired if event.value in subscription.events]
            if wanted:
                payload = _payload(change, wanted[0], change.payload["row"])
                rows.append(
                    WebhookDelivery(
                        subscription_id=subscription.id,
                        event_id=change.event_id,
                        event_type=wanted[0].value,
                        payload=payload,
                    )
                )
    if rows:
        await WebhookDelivery.bulk_create(rows, ignore_conflicts=True)
    again = [change.payload["id"] for change in changes if change.kind == REDELIVERY]
    waiting = (
        await WebhookDelivery.filter(Q(event_id__in=event_ids) | Q(id__in=again), queued=False)
        .only("id")
        .order_by("id")
    )
    return [delivery.id for delivery in waiting]


async def mark_queued(delivery_ids: list[int]) -> None:
    await WebhookDelivery.filter(id__in=delivery_ids).update(queued=True)


@functools.cache
def _certificates() -> ssl.SSLContext:
    """What every attempt verifies an endpoint's certificate against, loaded once per process:
    loading the CA bundle is what a new client costs (~35 ms of CPU), more than the attempt itself."""
    return ssl.create_default_context(cafile=certifi.where())


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header: `v1,` and the base64 HMAC-SHA256 of `id.timestamp.body`."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


async def send(delivery_id: int, allow_private: bool, last_attempt: bool = False) -> str:
    """One attempt at a delivery; what became of it (SUCCEEDED, FAILED, or NOT_SENT when it is gone
    or finished already). Raises TryAgain when a later attempt may succeed, unless this is the
    `last_attempt` the job makes: then the delivery is FAILED.

    On PostgreSQL the delivery's row is locked for the attempt: a second sending job for the same
    delivery (its events planned again by the redelivery while the first job waited in a backlog)
    waits, then finds it finished and sends nothing. On SQLite the one process's worker runs its
    jobs one at a time."""
    if not is_postgres():
        outcome, again = await _attempt(delivery_id, allow_private, last_attempt, None)
    else:
        async with in_transaction() as connection:
            outcome, again = await _attempt(delivery_id, allow_private, last_attempt, connection)
    if again is not None:
        raise again  # after the commit: the attempt's record stays
    return outcome


async def _attempt(
    delivery_id: int, allow_private: bool, last_attempt: bool, connection: BaseDBAsyncClient | None
) -> tuple[str, TryAgain | None]:
    """`send`'s attempt, with the delivery locked in `connection`'s transaction when given: what
    became of it, and the TryAgain to raise once its record is committed."""
    found = WebhookDelivery.filter(id=delivery_id)
    delivery = await (found.select_for_update().using_db(connection) if connection is not None else found).first()
    if delivery is None or delivery.status != PENDING:
        return NOT_SENT, None
    subscription = await WebhookSubscription.filter(id=delivery.subscription_id).using_db(connection).get()
    if not subscription.active:
        reason = f" ({subscription.disabled_reason})" if subscription.disabled_reason else ""
        await _finish(delivery, FAILED, None, 0, f"not sent: the subscription is paused{reason}")
        return FAILED, None
    try:
        target = await check_target(subscription.url, allow_private)
    except DomainError as error:
        await _finish(delivery, FAILED, None, 0, error.message)
        return FAILED, None
    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    message_id = f"msg_{delivery.event_id}"
    timestamp = int(time.time())
    headers = {
        "host": target.host,
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(subscription.secret, message_id, timestamp, body),
    }
    started = time.monotonic()
    try:
        async with (
            httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False, verify=_certificates()) as client,
            client.stream(
                "POST", target.url, content=body, headers=headers, extensions={"sni_hostname": target.server_name}
            ) as response,
        ):
            excerpt = await _excerpt(response)
    except httpx.HTTPError as error:
        await _finish(
            delivery, FAILED if last_attempt else PENDING, None, _ms(started), f"{type(error).__name__}: {error}"
        )
        if last_attempt:
            return FAILED, None
        return PENDING, TryAgain(f"delivery {delivery_id}: {type(error).__name__}: {error}")
    if 200 <= response.status_code < 300:
        await _finish(delivery, SUCCEEDED, response.status_code, _ms(started), excerpt)
        return SUCCEEDED, None
    if response.status_code == 410:
        await WebhookSubscription.filter(id=subscription.id).update(
            active=False, disabled_reason="the endpoint answered 410 Gone"
        )
    if (response.status_code >= 500 or response.status_code == 429) and not last_attempt:
        await _finish(delivery, PENDING, response.status_code, _ms(started), excerpt)
        return PENDING, TryAgain(f"delivery {delivery_id}: HTTP {response.status_code}")
    await _finish(delivery, FAILED, response.status_code, _ms(started), excerpt)
    return FAILED, None


async def _excerpt(response: httpx.Response) -> str:
    """The start of the answer: an endpoint's answer is read no further than what is kept."""
    read = b""
    async for chunk in response.aiter_bytes():
        read += chunk
        if len(read) >= RESPONSE_LENGTH * 4:  # UTF-8: at most 4 bytes a character
            break
    return read.decode("utf-8", errors="replace")[:RESPONSE_LENGTH]


def _ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


async def _finish(
    delivery: WebhookDelivery, status: WebhookDeliveryStatus, code: int | None, duration_ms: int, excerpt: str
) -> None:
    async with in_transaction():
        await WebhookAttempt.create(
            delivery_id=delivery.id, status_code=code, duration_ms=duration_ms, response=excerpt[:RESPONSE_LENGTH]
        )
        await WebhookDelivery.filter(id=delivery.id).update(status=status, attempts=delivery.attempts + 1)


async def deliveries(subscription_id: int, status: str | None, first: int | None, after: str | None) -> Page:
    """A subscription's deliveries, newest first, with their attempts prefetched."""
    await _subscription(subscription_id)
    queryset = WebhookDelivery.filter(subscription_id=subscription_id)
    if status is not None:
        queryset = queryset.filter(status=status)
    return await newest_first(queryset.prefetch_related("attempt_log"), "webhook-deliveries", first, after)


async def redeliver(delivery_id: int) -> WebhookDelivery:
    """Send a delivery again (the same `webhook-id`): PENDING and unqueued, with an outbox change
    whose consumer defers its sending job once the transaction commits."""
    async with outbox.transaction():
        delivery = await WebhookDelivery.filter(id=delivery_id).select_for_update().first()
        if delivery is None:
            raise DomainError(ErrorCode.NOT_FOUND, "No webhook delivery has this ID.", ["deliveryId"])
        delivery.status, delivery.queued = PENDING, False
        await delivery.save(update_fields=["status", "queued"])
        outbox.record(Change(REDELIVERY, {"id": delivery.id}))
    await delivery.fetch_related("attempt_log")
    return delivery


def _finished_before(cutoff: datetime) -> QuerySet[WebhookDelivery]:
    # A delivery ends with its last attempt, and has no column of its own saying when: finished
    # (SUCCEEDED or FAILED), made before `cutoff`, and no attempt since (a redelivered one is recent).
    recent = WebhookAttempt.filter(created_at__gte=cutoff).values("delivery_id")
    return WebhookDelivery.filter(status__in=(SUCCEEDED, FAILED), created_at__lt=cutoff).exclude(
        id__in=Subquery(recent)
    )


async def prune_logs(retention: timedelta, size: int = batches.SIZE) -> int:
    """Delete the deliveries finished longer than `retention` ago, with their attempts; how many
    deliveries went. A PENDING one stays, however old: its job may still be trying."""
    cutoff = datetime.now(UTC) - retention
    return await batches.delete_in_batches(lambda batch: _prune_logs(cutoff, batch), size)


async def _prune_logs(cutoff: datetime, size: int) -> int:
    async with in_transaction():
        # Locked as `redeliver` locks one, so a delivery sent again meanwhile is not deleted under it.
        found = await _finished_before(cutoff).order_by("id").limit(size).select_for_update(skip_locked=True).only("id")
        ids = [delivery.id for delivery in found]
        if not ids:
            return 0
        await WebhookAttempt.filter(delivery_id__in=ids).delete()
        return await WebhookDelivery.filter(id__in=ids).delete()
