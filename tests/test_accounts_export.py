"""customerDataExport: a job builds the signed-in customer's copy of their data, and an email (through
a real SMTP server, aiosmtpd) carries its download link, which works until it expires; on SQLite
and PostgreSQL, through the GraphQL API and GET /exports/{token} as a customer would use them."""

from __future__ import annotations

import json
import logging
import re
import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from procrastinate.job_context import JobContext
from procrastinate.jobs import Job

from gateway import mail
from gateway.job_stats import JobStats
from gateway.jobs import EXPORT_BUILD, EXPORT_RETRY, EXPORTS_CONSUMER, EXPORTS_PRUNE, Housekeeping, Jobs
from models import Account, DataExport, OutboxEvent, RefreshToken
from resolvers import accounts, accounts_export, emails, outbox
from tests import test_emails
from tests.conftest import GraphQLClient
from tests.staff import SECRET, bearer
from tests.test_checkout import ADDRESS, CHECKOUT, PAID, make_variant, ready_cart
from tests.test_emails import Inbox, arrival, parts, serving

PASSWORD = "long enough password"
EXPORT = (
    "mutation { customerDataExport { dataExport { id status requestedAt expiresAt } userErrors { code message } } }"
)
SAVE_ADDRESS = "mutation($a: AddressInput!) { customerAddressCreate(address: $a) { userErrors { code } } }"
PUBLIC_URL = "http://gateway.test"
smtp = test_emails.smtp  # the fixture: an SMTP server in this process, and what it received
email_worker = test_emails.email_worker  # the fixture: on PostgreSQL, `python -m gateway worker` sending there
LINK = re.compile(re.escape(PUBLIC_URL) + r"/exports/(\S+)")


class Customer:
    """A registered, signed-in customer calling the API with their bearer token."""

    def __init__(self, gql: GraphQLClient, account: Account, token: str) -> None:
        self.gql, self.account, self.headers = gql, account, bearer(token)

    @classmethod
    async def register(cls, gql: GraphQLClient, first_name: str) -> Customer:
        email = f"{first_name.lower()}.{uuid.uuid4().hex[:10]}@example.com"
        account = await accounts.register_customer(email, PASSWORD, first_name, "Example")
        return cls(gql, account, (await accounts.sign_in(email, PASSWORD, SECRET)).access_token)

    async def post(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.gql.http.post(
            "/graphql", headers=self.headers, json={"query": query, "variables": variables or {}}
        )
        return dict(response.json())

    async def call(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = await self.post(query, variables)
        assert not body.get("errors"), body
        return dict(body["data"])

    async def order(self) -> dict[str, Any]:
        variant = await make_variant()
        token = await ready_cart(self.gql, [(variant.sku, 2)], headers=self.headers)
        placed = (await self.gql.data(CHECKOUT, {"t": token, "p": PAID}))["checkoutComplete"]
        assert placed["userErrors"] == []
        return dict(placed["order"])

    async def export(self) -> dict[str, Any]:
        return dict((await self.call(EXPORT))["customerDataExport"])


class Worker:
    """The jobs of a process, as a worker runs them: the outbox's `emails` and `data_exports`
    consumers plan, and the jobs they defer (on an in-memory queue) build and send."""

    def __init__(self, jobs: Jobs) -> None:
        self.jobs = jobs

    async def run(self) -> None:
        """Deliver what was committed and run the jobs it deferred, until nothing is left: a built
        export is a change of its own, which calls for the email."""
        for _ in range(5):
            waiting = await OutboxEvent.filter(delivered_at=None).order_by("id").values_list("event_id", flat=True)
            if not waiting:
                return
            await outbox.deliver([str(event_id) for event_id in waiting])
            await self.jobs.app.run_worker_async(wait=False, install_signal_handlers=False, listen_notify=False)
        raise AssertionError("the outbox never emptied")


@pytest.fixture
async def worker(db: Any, smtp: tuple[Inbox, int]) -> AsyncIterator[Worker]:
    # Events earlier tests left undelivered are theirs: marked delivered, so the inbox holds this test's.
    await OutboxEvent.filter(delivered_at=None).update(delivered_at=datetime.now(UTC))
    server = mail.SmtpServer.parse(f"smtp://127.0.0.1:{smtp[1]}")
    mailer = emails.Emails(
        server.send,
        "Test Shop <shop@example.com>",
        permanent=mail.permanent,
        letters={accounts_export.DATA_EXPORT: accounts_export.ExportEmails(PUBLIC_URL + "/", SECRET)},
    )
    jobs = Jobs(
        "sqlite://:memory:",
        Housekeeping(timedelta(seconds=1), timedelta(days=1), timedelta(days=30), timedelta(days=30)),
        JobStats(),
        mailer=mailer,
    )
    await jobs.open()
    outbox.register(emails.CONSUMER, jobs.plan_emails)
    outbox.register(EXPORTS_CONSUMER, jobs.plan_exports)
    try:
        yield Worker(jobs)
    finally:
        outbox.unregister(EXPORTS_CONSUMER)
        outbox.unregister(emails.CONSUMER)
        await jobs.close()


def the_link(inbox: Inbox, recipient: str) -> tuple[str, EmailMessage]:
    """The download path in the one export email sent to `recipient`, and the email."""
    [message] = [m for m in inbox.messages if m["To"] == recipient and "data" in str(m["Subject"])]
    text, html = parts(message)
    found = LINK.search(text)
    assert found is not None, text
    assert f'href="{found.group(0)}"' in html
    return f"/exports/{found.group(1)}", message


async def test_the_emailed_link_downloads_the_customers_data_and_no_one_elses(db, gql, smtp, worker):
    inbox, _ = smtp
    ada, bob = await Customer.register(gql, "Ada"), await Customer.register(gql, "Bob")
    assert (await ada.call(SAVE_ADDRESS, {"a": {**ADDRESS, "city": "Potsdam"}}))["customerAddressCreate"] == {
        "userErrors": []
    }
    mine, theirs = await ada.order(), await bob.order()
    before = datetime.now(UTC)

    answer = await ada.export()
    assert answer["userErrors"] == [] and answer["dataExport"]["status"] == "PENDING"
    requested = datetime.fromisoformat(answer["dataExport"]["requestedAt"])
    expires = datetime.fromisoformat(answer["dataExport"]["expiresAt"])
    assert before - timedelta(seconds=5) <= requested <= datetime.now(UTC) and expires - requested == timedelta(days=7)
    assert [m for m in inbox.messages if m["To"] == ada.account.email] == []  # built by a job, after the commit

    await worker.run()
    path, message = the_link(inbox, ada.account.email)
    assert message["Subject"] == "Your data is ready to download"
    assert "Hello Ada," in parts(message)[0] and "until " + expires.strftime("%Y-%m-%d %H:%M UTC") in parts(message)[0]
    assert [m["To"] for m in inbox.messages].count(bob.account.email) == 0

    response = await gql.http.get(path)
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    assert response.headers["content-disposition"] == f'attachment; filename="customer-data-{requested.date()}.json"'
    assert response.headers["cache-control"] == "no-store"
    data = response.json()
    assert data["customer"]["email"] == ada.account.email and data["customer"]["firstName"] == "Ada"
    assert [a["city"] for a in data["addresses"]] == ["Potsdam"]
    [order] = data["orders"]
    assert (order["number"], order["total"], order["status"]) == (mine["number"], mine["total"]["amount"], "PAID")
    assert [(line["sku"], line["quantity"]) for line in order["lines"]] == [(mine["lines"][0]["sku"], 2)]
    assert order["shippingAddress"]["firstName"] == "Ada" and order["billingAddress"] == order["shippingAddress"]
    assert [(p["provider"], p["status"], p["amount"]) for p in order["payments"]] == [
        ("test-card", "CAPTURED", mine["total"]["amount"])
    ]
    assert [e["kind"] for e in order["events"]] == [e["kind"] for e in mine["events"]]
    assert [cart["completedAt"] is not None for cart in data["carts"]] == [True]
    assert len(data["sessions"]) == 1 and set(data["sessions"][0]) == {"createdAt", "expiresAt", "revokedAt"}
    assert [(e["kind"], e["subject"]) for e in data["emails"]] == [
        ("order_confirmation", f"Order #{mine['number']} confirmed")
    ]
    # Another customer's order, and secrets that are not data about the person, are not in it.
    text = response.text
    assert f'"number": {theirs["number"]},' not in text and f'"number": {mine["number"]},' in text
    assert bob.account.email not in text and mine["token"] not in text
    [session] = await RefreshToken.filter(account_id=ada.account.id)
    assert session.token_hash not in text and ada.account.password_hash not in text

    # The row holds the document and the key the link names, not the link.
    export = await DataExport.get(account_id=ada.account.id)
    assert export.status == "READY" and export.document == text
    assert LINK.search(parts(message)[0]).group(1) not in json.dumps(
        await DataExport.filter(id=export.id).values(), default=str
    )


async def test_a_wrong_or_expired_link_is_404_alike_and_the_pruning_deletes_it(db, gql, smtp, worker, caplog):
    inbox, _ = smtp
    ada = await Customer.register(gql, "Ada")
    await ada.export()
    await worker.run()
    path, _ = the_link(inbox, ada.account.email)
    with caplog.at_level(logging.INFO, logger="gateway.access"):
        assert (await gql.http.get(path)).status_code == 200
    token = path.rsplit("/", 1)[1]
    # The access log says a download was served, not which: its lines outlive the link.
    served = [r.msg for r in caplog.records if r.name == "gateway.access" and "/exports/" in str(r.msg)]
    assert [line["message"] for line in served] == ["GET /exports/… 200"]
    assert not [r for r in caplog.records if r.name.startswith("gateway") and token in r.getMessage()]
    key, _, signature = token.partition(".")
    wrong = [
        f"{key}.{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}",  # one character off
        accounts_export.download_token(key, "another-secret-key-of-at-least-32-bytes"),  # signed with another key
        accounts_export.download_token(secrets.token_urlsafe(24), SECRET),  # no such export
        key,
        "x" * 2000,
        "%00",
    ]
    refusals = [await gql.http.get(f"/exports/{bad}") for bad in wrong]
    assert {(r.status_code, r.text) for r in refusals} == {(404, "No such download: the link is wrong or has expired.")}
    assert all(r.headers["cache-control"] == "no-store" for r in refusals)

    # Past its expiry the same link answers as a wrong one, and the pruning then deletes the copy.
    export = await DataExport.get(account_id=ada.account.id)
    await DataExport.filter(id=export.id).update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    expired = await gql.http.get(path)
    assert (expired.status_code, expired.text) == (refusals[0].status_code, refusals[0].text)
    other = await DataExport.create(
        account_id=ada.account.id, key=secrets.token_urlsafe(24), expires_at=datetime.now(UTC) + timedelta(days=1)
    )
    await worker.jobs.app.tasks[EXPORTS_PRUNE](timestamp=0)
    assert await DataExport.filter(account_id=ada.account.id).values_list("id", flat=True) == [other.id]
    await other.delete()


async def test_one_export_at_a_time_and_a_few_a_day(db, gql, smtp, worker):
    ada = await Customer.register(gql, "Ada")
    first = await ada.export()
    again = await ada.export()
    assert again["dataExport"] is None and [e["code"] for e in again["userErrors"]] == ["TOO_MANY"]
    assert "being prepared" in again["userErrors"][0]["message"]
    assert await DataExport.filter(account_id=ada.account.id).count() == 1  # the refusal recorded nothing

    # One left PENDING an hour (its job was lost with an SQLite process) holds off no new request.
    await DataExport.filter(account_id=ada.account.id).update(requested_at=datetime.now(UTC) - timedelta(hours=2))
    second = await ada.export()
    assert second["userErrors"] == [] and second["dataExport"]["id"] != first["dataExport"]["id"]
    assert await DataExport.filter(account_id=ada.account.id).order_by("id").values_list("status", flat=True) == [
        "FAILED",
        "PENDING",
    ]
    await worker.run()
    third = await ada.export()
    assert third["userErrors"] == []
    await worker.run()
    fourth = await ada.export()
    assert fourth["dataExport"] is None and [e["code"] for e in fourth["userErrors"]] == ["TOO_MANY"]
    assert "3 times a day" in fourth["userErrors"][0]["message"]
    # A day on, the customer may ask again.
    await DataExport.filter(account_id=ada.account.id).update(
        requested_at=datetime.now(UTC) - timedelta(days=1, minutes=1)
    )
    assert (await ada.export())["userErrors"] == []


async def test_a_job_run_twice_builds_and_sends_once_and_anonymous_callers_are_refused(db, gql, smtp, worker):
    inbox, _ = smtp
    assert await gql.error_codes(EXPORT) == ["UNAUTHENTICATED"]
    ada = await Customer.register(gql, "Ada")
    await ada.export()
    await worker.run()
    export = await DataExport.get(account_id=ada.account.id)
    built = export.document
    # Deferred again (a crash between deferring and marking it queued) and redelivered: nothing twice.
    await worker.jobs.app.configure_task(EXPORT_BUILD).defer_async(export_id=export.id)
    await OutboxEvent.filter(kind=accounts_export.DATA_EXPORT).update(delivered_at=None)
    await worker.run()
    assert (await DataExport.get(id=export.id)).document == built
    assert [m["To"] for m in inbox.messages].count(ada.account.email) == 1


async def test_a_build_that_keeps_failing_gives_the_request_up_at_its_last_attempt(db, gql, worker, monkeypatch):
    ada = await Customer.register(gql, "Ada")
    await ada.export()
    export = await DataExport.get(account_id=ada.account.id)

    async def away(*args: Any, **kwargs: Any) -> dict[str, Any]:
        raise ConnectionError("the database went away")

    monkeypatch.setattr(accounts_export, "document", away)
    build = worker.jobs.app.tasks[EXPORT_BUILD]
    for attempts, status in ((0, "PENDING"), (EXPORT_RETRY.retries - 1, "PENDING"), (EXPORT_RETRY.retries, "FAILED")):
        job = Job(queue="default", lock=None, queueing_lock=None, task_name=EXPORT_BUILD, attempts=attempts)
        context = JobContext(app=worker.jobs.app, job=job, start_timestamp=0.0, abort_reason=lambda: None)
        with pytest.raises(ConnectionError):  # raised: the job's retry policy decides what comes next
            await build(context, export_id=export.id)
        assert (await DataExport.get(id=export.id)).status == status
    assert (await ada.export())["userErrors"] == []  # given up: the customer may ask again


async def test_the_gateway_builds_and_sends_in_process(db, smtp, tmp_path: Path):
    """The app as it serves on SQLite: its own consumers and in-process worker, PUBLIC_URL in the link."""
    if db.name != "sqlite":
        pytest.skip("on PostgreSQL a worker process runs the jobs")
    inbox, port = smtp
    async with serving(db, port, tmp_path, PUBLIC_URL="https://api.shop.example/gateway/") as http:
        ada = await Customer.register(GraphQLClient(http), "Ada")
        assert (await ada.export())["userErrors"] == []
        await downloaded(http, ada, inbox, "https://api.shop.example/gateway", seconds=10)


@pytest.mark.slow  # a worker process of its own
async def test_a_worker_process_builds_and_sends_on_postgresql(db, gql, smtp, email_worker):
    """`python -m gateway worker` registers the exports consumer and the email's letters: the
    request's event (delivered by its periodic redelivery) becomes a built copy and an email."""
    inbox, _ = smtp
    ada = await Customer.register(gql, "Ada")
    assert (await ada.export())["userErrors"] == []
    await downloaded(gql.http, ada, inbox, "http://127.0.0.1:8000", seconds=30)  # PUBLIC_URL's default


async def downloaded(
    http: httpx.AsyncClient, customer: Customer, inbox: Inbox, public_url: str, seconds: float
) -> None:
    """The export email reaches the customer within `seconds`, and its link, under `public_url`, downloads their data."""
    [message] = await arrival(inbox, lambda message: message["To"] == customer.account.email, seconds)
    found = re.search(re.escape(public_url) + r"(/exports/\S+)", parts(message)[0])
    assert found is not None, parts(message)[0]
    download = await http.get(found.group(1))
    assert download.status_code == 200 and download.json()["customer"]["email"] == customer.account.email
