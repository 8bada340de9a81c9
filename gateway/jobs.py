"""The job engine: Procrastinate, on the gateway's own PostgreSQL, or inside the serving process.

On PostgreSQL, jobs are rows of Procrastinate's tables (created by migration 0014) beside the
orders they belong to: a web process defers them through a small psycopg pool of its own
(Procrastinate speaks psycopg 3, Tortoise asyncpg: two pools, and a job can never be deferred
inside a Tortoise transaction, which is why the outbox row is written there instead), and
`python -m gateway worker` processes, as many as you like on as many hosts, run them: each takes
jobs with `SELECT … FOR UPDATE SKIP LOCKED`, hears of new ones through LISTEN/NOTIFY, and the
periodic tasks are deferred once per tick whatever the number of workers.

On SQLite (the embedded default) there is no shared queue: the serving process runs the same
tasks itself, on Procrastinate's in-memory connector, with a worker task beside the requests. A job
that was waiting when the process stopped is gone, but nothing depends on it: the outbox rows it
would have delivered are still undelivered, and the redelivery delivers them after the restart.

The tasks are the domains' own functions (`resolvers/outbox.py` says what a delivery does,
`resolvers/webhooks_out.py` and `resolvers/emails.py` what sending one webhook or email does); this
module only names and schedules them: retries with backoff and jitter (gateway/job_retry.py),
then the dead-letter state `failed`. Webhooks and emails are planned by outbox consumers that only
record rows and defer one sending job per row, so one peer away holds back no other consumer.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, timedelta
from typing import Any

import procrastinate
from procrastinate.job_context import JobContext
from procrastinate.jobs import Job
from procrastinate.testing import InMemoryConnector
from procrastinate.types import JSONValue
from psycopg_pool import AsyncConnectionPool

from gateway import postgres_url
from gateway.job_retry import Backoff
from gateway.job_stats import JobStats
from gateway.media_storage import Media
from models.changes import Change
from resolvers import (
    account_tokens,
    accounts,
    accounts_export,
    audit,
    emails,
    imports,
    imports_admin,
    media,
    outbox,
    payments_webhooks,
    refunds,
    stock_alerts,
    webhooks_out,
)
from resolvers import cart as carts

log = logging.getLogger("gateway.jobs")

# The outbox consumers every process that runs jobs registers (resolvers/outbox.py `register`).
CACHE_CONSUMER = "cache"  # evicts the cached answers a change made stale
EVENTS_CONSUMER = "events"  # the event bus: subscriptions, and every worker's in-process cache tier
DELIVER = "outbox.deliver"
REDELIVER = "outbox.redeliver"
PRUNE = "outbox.prune"
STOCK_CHECK = "inventory.stock_low"
REFUNDS_FINISH = "refunds.finish_pending"  # refunds left PENDING by a killed process or a silent provider
REFUNDS_CRON = "* * * * *"  # every minute: a PENDING refund is retried once older than refunds.PENDING_BOUND
WEBHOOKS_CONSUMER = "webhooks"  # outgoing webhooks: one delivery per subscription and event id
WEBHOOK_SEND = "webhooks.send"
# A delivery fails when a consumer's peer is away (Redis): tried again after ~1 s, 2 s, 4 s, …
# up to 10 minutes apart, 12 times (about an hour); the redelivery keeps trying after that.
DELIVERY_RETRY = Backoff(retries=12, base_seconds=1.0, cap_seconds=600.0)
# An endpoint that times out or answers 5xx: tried again after ~5 s, 10 s, 20 s, … up to 6 hours
# apart, 17 times: the ceilings add up to 5 s * (2**13 - 1) + 4 * 6 h = 127,355 s (35.4 h), and
# each wait is half to all of its ceiling, so the last attempt comes ~18 to ~35 hours after the
# first (~26 h on average): about a day. The last attempt marks the delivery FAILED.
WEBHOOK_RETRY = Backoff(retries=17, base_seconds=5.0, cap_seconds=6 * 3600.0)
EMAIL_SEND = "emails.send"  # one customer email (resolvers/emails.py plans them, as the "emails" consumer)
# An SMTP server away or busy: tried again after ~5 s, 10 s, 20 s, … up to an hour apart, 16
# times (4 to 7 hours in all); the last attempt marks the email FAILED.
EMAIL_RETRY = Backoff(retries=16, base_seconds=5.0, cap_seconds=3600.0)
EXPORTS_CONSUMER = "data_exports"  # customers' copies of their data: one building job per request
EXPORT_BUILD = "data_exports.build"
# A copy that could not be built (the database away): tried again after ~5 s, 10 s, 20 s, … up to
# 10 minutes apart, 8 times (about 20 minutes in all); the last attempt gives the request up.
EXPORT_RETRY = Backoff(retries=8, base_seconds=5.0, cap_seconds=600.0)
IMPORTS_CONSUMER = "imports"  # staff's product imports and exports: one job per file
IMPORT_RUN = "imports.run"
PRODUCT_EXPORT_BUILD = "imports.export"
# An import or export that failed (the database away): tried again after ~5 s, 10 s, … up to 5
# minutes apart, 6 times; an import goes on after its last committed batch. The last attempt gives it up.
IMPORT_RETRY = Backoff(retries=6, base_seconds=5.0, cap_seconds=300.0)
HOUSEKEEPING_RETRY = Backoff(retries=3, base_seconds=5.0, cap_seconds=60.0)
MEDIA_CONSUMER = "media"  # uploaded media: thumbnails asked for get a job; deleted images' files go
THUMBNAIL_MAKE = "media.thumbnail"
# A thumbnail not made (the storage away): tried again after ~5 s, 10 s, 20 s, … up to 5 minutes
# apart, 8 times (about 20 minutes); the last attempt gives it up (the original is shown).
THUMBNAIL_RETRY = Backoff(retries=8, base_seconds=5.0, cap_seconds=300.0)
REDELIVER_CRON = "* * * * * */5"  # every 5 seconds (croniter: the sixth field is seconds)
PRUNE_CRON = "*/10 * * * *"  # every 10 minutes
# What outlives its use, pruned hourly (each at a minute of its own, so the runs do not coincide).
CARTS_PRUNE = "carts.prune"  # guest carts unchanged for CART_TTL_DAYS
REFRESH_TOKENS_PRUNE = "refresh_tokens.prune"  # refresh tokens past their expiry
ACCOUNT_TOKENS_PRUNE = "account_tokens.prune"  # links sent by email, used or past their expiry
WEBHOOK_LOGS_PRUNE = "webhooks.prune_logs"  # deliveries finished WEBHOOK_LOG_RETENTION_DAYS ago
EXPORTS_PRUNE = "data_exports.prune"  # customers' copies of their data past their expiry
AUDIT_LOG_PRUNE = "audit.prune"  # staff audit log entries older than AUDIT_LOG_RETENTION_DAYS
CARTS_CRON = "15 * * * *"
REFRESH_TOKENS_CRON = "35 * * * *"
ACCOUNT_TOKENS_CRON = "25 * * * *"
WEBHOOK_LOGS_CRON = "55 * * * *"
EXPORTS_CRON = "45 * * * *"
AUDIT_LOG_CRON = "5 * * * *"
STOCK_CHECK_CRON = "* * * * * */30"  # every 30 seconds: a STOCK_LOW alert is at most that late
PAYMENTS_EXPIRE = "payments.expire"  # orders AWAITING_PAYMENT past PAYMENT_TIMEOUT: cancelled
PAYMENTS_EXPIRE_CRON = "* * * * *"  # every minute: an order is cancelled at most a minute late
REDELIVER_ROUNDS = 50  # batches one redelivery run delivers at most (the next run goes on)
WEB_POOL_SIZE = 2  # a web process only defers: one INSERT per committed transaction
CONNECT_TIMEOUT = 5


@dataclass(frozen=True)
class Housekeeping:
    redeliver_after: timedelta  # OUTBOX_REDELIVER_AFTER
    retention: timedelta  # OUTBOX_RETENTION
    cart_ttl: timedelta  # CART_TTL_DAYS
    webhook_log_retention: timedelta  # WEBHOOK_LOG_RETENTION_DAYS
    audit_log_retention: timedelta | None = None  # AUDIT_LOG_RETENTION_DAYS; None: kept for good
    webhook_allow_private: bool = False  # WEBHOOK_ALLOW_PRIVATE_TARGETS


class InProcessConnector(InMemoryConnector):
    """Procrastinate's in-memory connector, fit to serve for weeks.

    The testing connector records every query it runs (`queries`) and every job's events for
    assertions, and keeps them: in a serving process both would grow for as long as it runs.
    """

    async def generic_execute(self, query: str, suffix: Any, **arguments: Any) -> Any:
        return await getattr(self, f"{self.reverse_queries[query]}_{suffix}")(**arguments)

    async def finish_job_run(self, job_id: int, status: str, delete_job: bool) -> None:
        await super().finish_job_run(job_id, status, delete_job)
        if delete_job:
            self.events.pop(job_id, None)


def build(
    connector: procrastinate.BaseConnector,
    rules: Housekeeping,
    stats: JobStats,
    mailer: emails.Emails | None = None,
    uploads: Media | None = None,
) -> procrastinate.App:
    """A Procrastinate app with the gateway's tasks, on `connector` (sending emails through `mailer`,
    making thumbnails in `uploads`' storage)."""
    app = procrastinate.App(connector=connector)

    def removed(what: str, described: str, count: int) -> None:
        """What a pruning removed: counted under `what` in /metrics, logged when anything."""
        stats.removed[(what,)] += count
        if count:
            log.info("housekeeping: removed %d %s", count, described)

    if mailer is not None:

        @app.task(name=EMAIL_SEND, retry=EMAIL_RETRY, pass_context=True)
        async def send_email(context: JobContext, email_id: int) -> None:
            # `attempts` counts the runs before this one: the policy retries none after this run.
            await mailer.send_one(email_id, last_attempt=context.job.attempts >= EMAIL_RETRY.retries)

    async def deliver_soon(changes: list[Change]) -> None:
        """A job's committed changes (an import's batches: cache invalidations, product events; a
        thumbnail made: cached answers to evict) delivered as each commits, as a request's are,
        not at the next redelivery."""
        event_ids: list[JSONValue] = [change.event_id for change in changes if change.event_id]
        if not event_ids:
            return
        try:
            await app.configure_task(DELIVER).defer_async(event_ids=event_ids)
        except Exception as error:  # any failure: the periodic redelivery makes up for it
            stats.defer_failures += 1
            log.warning("could not defer the delivery of %d events (%s); redelivery will", len(event_ids), error)

    if uploads is not None:

        @app.task(name=THUMBNAIL_MAKE, retry=THUMBNAIL_RETRY, pass_context=True)
        async def make_thumbnail(context: JobContext, thumbnail_id: int) -> None:
            outbox.use_sink(deliver_soon)
            try:
                await media.make_thumbnail(uploads.storage, uploads.limits, thumbnail_id)
            except Exception:
                # `attempts` counts the runs before this one: the policy retries none after this run.
                if context.job.attempts >= THUMBNAIL_RETRY.retries:
                    await media.give_up_thumbnail(thumbnail_id)
                raise
            finally:
                outbox.use_sink(None)

    @app.task(name=EXPORT_BUILD, retry=EXPORT_RETRY, pass_context=True)
    async def build_export(context: JobContext, export_id: int) -> None:
        try:
            await accounts_export.build(export_id)
        except Exception:
            # `attempts` counts the runs before this one: the policy retries none after this run.
            if context.job.attempts >= EXPORT_RETRY.retries:
                await accounts_export.fail(export_id)
            raise

    @app.task(name=IMPORT_RUN, retry=IMPORT_RETRY, pass_context=True)
    async def run_import(context: JobContext, import_id: int) -> None:
        outbox.use_sink(deliver_soon)
        try:
            await imports.run(import_id)
        except Exception:
            if context.job.attempts >= IMPORT_RETRY.retries:
                await imports_admin.fail_import(import_id)
            raise
        finally:
            outbox.use_sink(None)

    @app.task(name=PRODUCT_EXPORT_BUILD, retry=IMPORT_RETRY, pass_context=True)
    async def build_product_export(context: JobContext, export_id: int) -> None:
        try:
            await imports_admin.build_export(export_id)
        except Exception:
            if context.job.attempts >= IMPORT_RETRY.retries:
                await imports_admin.fail_export(export_id)
            raise

    @app.task(name=DELIVER, retry=DELIVERY_RETRY)
    async def deliver(event_ids: list[str]) -> None:
        stats.delivered(_ages(await outbox.deliver(event_ids)))

    @app.task(name=WEBHOOK_SEND, retry=WEBHOOK_RETRY, pass_context=True)
    async def send_webhook(context: JobContext, delivery_id: int) -> None:
        # `attempts` counts the runs before this one: the policy retries none after this run.
        last = context.job.attempts >= WEBHOOK_RETRY.retries
        started = time.perf_counter()
        try:
            outcome = await webhooks_out.send(delivery_id, rules.webhook_allow_private, last_attempt=last)
        except webhooks_out.TryAgain:
            stats.webhook_attempt("retry", time.perf_counter() - started)
            raise
        if outcome != webhooks_out.NOT_SENT:
            stats.webhook_attempt(outcome.lower(), time.perf_counter() - started)

    @app.periodic(cron=REDELIVER_CRON, periodic_id="redeliver")
    @app.task(name=REDELIVER, queueing_lock=REDELIVER, retry=HOUSEKEEPING_RETRY)
    async def redeliver(timestamp: int) -> None:
        for _ in range(REDELIVER_ROUNDS):
            committed = await outbox.redeliver(rules.redeliver_after)
            if not committed:
                break
            stats.delivered(_ages(committed))
            log.warning("outbox: redelivered %d events their process had not delivered", len(committed))
        stats.undelivered = await outbox.undelivered(rules.redeliver_after)

    @app.periodic(cron=PRUNE_CRON, periodic_id="prune")
    @app.task(name=PRUNE, queueing_lock=PRUNE, retry=HOUSEKEEPING_RETRY)
    async def prune(timestamp: int) -> None:
        removed("outbox", "delivered outbox events", await outbox.prune(rules.retention))

    @app.periodic(cron=CARTS_CRON, periodic_id="carts")
    @app.task(name=CARTS_PRUNE, queueing_lock=CARTS_PRUNE, retry=HOUSEKEEPING_RETRY)
    async def prune_carts(timestamp: int) -> None:
        removed("carts", "abandoned guest carts", await carts.remove_abandoned(rules.cart_ttl))

    @app.periodic(cron=REFRESH_TOKENS_CRON, periodic_id="refresh_tokens")
    @app.task(name=REFRESH_TOKENS_PRUNE, queueing_lock=REFRESH_TOKENS_PRUNE, retry=HOUSEKEEPING_RETRY)
    async def prune_refresh_tokens(timestamp: int) -> None:
        removed("refresh_tokens", "expired refresh tokens", await accounts.prune_refresh_tokens())

    @app.periodic(cron=ACCOUNT_TOKENS_CRON, periodic_id="account_tokens")
    @app.task(name=ACCOUNT_TOKENS_PRUNE, queueing_lock=ACCOUNT_TOKENS_PRUNE, retry=HOUSEKEEPING_RETRY)
    async def prune_account_tokens(timestamp: int) -> None:
        removed("account_tokens", "used or expired links sent by email", await account_tokens.prune())

    @app.periodic(cron=WEBHOOK_LOGS_CRON, periodic_id="webhook_logs")
    @app.task(name=WEBHOOK_LOGS_PRUNE, queueing_lock=WEBHOOK_LOGS_PRUNE, retry=HOUSEKEEPING_RETRY)
    async def prune_webhook_logs(timestamp: int) -> None:
        removed(
            "webhook_logs", "finished webhook deliveries", await webhooks_out.prune_logs(rules.webhook_log_retention)
        )

    @app.periodic(cron=EXPORTS_CRON, periodic_id="data_exports")
    @app.task(name=EXPORTS_PRUNE, queueing_lock=EXPORTS_PRUNE, retry=HOUSEKEEPING_RETRY)
    async def prune_exports(timestamp: int) -> None:
        removed("data_exports", "expired copies of customers' data", await accounts_export.prune())
        removed("product_exports", "expired product exports", await imports_admin.prune())

    @app.periodic(cron=AUDIT_LOG_CRON, periodic_id="audit_log")
    @app.task(name=AUDIT_LOG_PRUNE, queueing_lock=AUDIT_LOG_PRUNE, retry=HOUSEKEEPING_RETRY)
    async def prune_audit_log(timestamp: int) -> None:
        if rules.audit_log_retention is not None:
            removed("audit_log", "staff audit log entries", await audit.prune(rules.audit_log_retention))

    # `lock`: one check runs at a time however many workers there are; `queueing_lock`: one at most waits.
    @app.periodic(cron=STOCK_CHECK_CRON, periodic_id="stock_low")
    @app.task(name=STOCK_CHECK, lock=STOCK_CHECK, queueing_lock=STOCK_CHECK, retry=HOUSEKEEPING_RETRY)
    async def check_stock(timestamp: int) -> None:
        alerted = await stock_alerts.check()
        if alerted:
            log.info("stock: %d variants fell to their low-stock threshold", len(alerted))

    # `lock`: one run at a time however many workers there are (each order is locked besides).
    @app.periodic(cron=PAYMENTS_EXPIRE_CRON, periodic_id="payments_expire")
    @app.task(name=PAYMENTS_EXPIRE, lock=PAYMENTS_EXPIRE, queueing_lock=PAYMENTS_EXPIRE, retry=HOUSEKEEPING_RETRY)
    async def expire_payments(timestamp: int) -> None:
        while expired := await payments_webhooks.expire():
            log.info("payments: %d payments not confirmed in time: their orders cancelled", expired)

    # `lock`: one run at a time however many workers (each refund is also claimed on its own).
    @app.periodic(cron=REFUNDS_CRON, periodic_id="refunds")
    @app.task(name=REFUNDS_FINISH, lock=REFUNDS_FINISH, queueing_lock=REFUNDS_FINISH, retry=HOUSEKEEPING_RETRY)
    async def finish_refunds(timestamp: int) -> None:
        finished = await refunds.finish_pending()
        if finished:
            log.warning("refunds: finished %d refunds their process had left PENDING", finished)

    return app


def _ages(committed: list[datetime.datetime]) -> list[float]:
    now = datetime.datetime.now(UTC)
    return [max(0.0, (now - at).total_seconds()) for at in committed]


def conninfo(database_url: str) -> str:
    """The libpq URL psycopg connects with: DATABASE_URL itself (its parameters are libpq's)."""
    return "postgresql://" + database_url.split("://", 1)[1]


def connect_arguments(database_url: str) -> dict[str, Any]:
    found = postgres_url.parameters(database_url.partition("?")[2])
    return {} if "connect_timeout" in found else {"connect_timeout": CONNECT_TIMEOUT}


class Jobs:
    """One process's job engine: where it defers, and, in process or as a worker, what runs jobs."""

    def __init__(
        self,
        database_url: str,
        rules: Housekeeping,
        stats: JobStats,
        pool_size: int = WEB_POOL_SIZE,
        consumers: Mapping[str, outbox.Sink] | None = None,
        mailer: emails.Emails | None = None,
        uploads: Media | None = None,
    ) -> None:
        self.stats = stats
        # Who this process hands outbox events to when it runs jobs itself (`start` on SQLite).
        self.consumers = dict(consumers or {})
        self.consumers[WEBHOOKS_CONSUMER] = self.plan_webhooks
        self.consumers[EXPORTS_CONSUMER] = self.plan_exports
        self.consumers[IMPORTS_CONSUMER] = self.plan_imports
        self.mailer = mailer  # its customer emails: planned by `plan_emails`, sent by EMAIL_SEND jobs
        if mailer is not None:
            self.consumers[emails.CONSUMER] = self.plan_emails
        self.uploads = uploads
        if uploads is not None:
            self.consumers[MEDIA_CONSUMER] = self.plan_media
        self.in_process = not database_url.startswith("postgres://")
        self.pool: AsyncConnectionPool | None = None
        if self.in_process:
            connector: procrastinate.BaseConnector = InProcessConnector()
        else:
            connector = procrastinate.PsycopgConnector()
            self.pool = AsyncConnectionPool(
                conninfo(database_url),
                kwargs=connect_arguments(database_url),
                min_size=1,
                max_size=pool_size,
                open=False,
                # A connection the server dropped (a restart) is replaced, not handed out.
                check=AsyncConnectionPool.check_connection,
                timeout=CONNECT_TIMEOUT,
                name="jobs",
            )
        self.app = build(connector, rules, stats, mailer, uploads)
        self._worker: asyncio.Task[None] | None = None
        self.opened = False

    async def open(self) -> None:
        """Open the pool without waiting for the database: deferring fails (and is made up for)
        while it is away, as requests do."""
        if self.pool is not None:
            await self.pool.open(wait=False)
        await self.app.open_async(self.pool)
        self.opened = True

    async def start(self) -> None:
        """A web process's engine: open, and on SQLite run the jobs here, for this process's consumers."""
        await self.open()
        if self.in_process:
            for name, consumer in self.consumers.items():
                outbox.register(name, consumer)
            self.start_worker()

    async def stop(self) -> None:
        await self.close()
        if self.in_process:
            for name in self.consumers:
                outbox.unregister(name)

    async def close(self) -> None:
        self.opened = False
        await self.stop_worker()
        await self.app.close_async()
        if self.pool is not None:
            await self.pool.close()

    async def defer_delivery(self, changes: list[Change]) -> None:
        """After a commit: a job that hands its outbox events to every consumer. A failure is
        logged, never raised: the change is committed, and the redelivery delivers it later."""
        event_ids: list[JSONValue] = [change.event_id for change in changes if change.event_id]
        if not event_ids or not self.opened:
            return  # not opened: an app under test without its lifespan (the redelivery covers it)
        try:
            await self.app.configure_task(DELIVER).defer_async(event_ids=event_ids)
        except Exception as error:  # any failure: the periodic redelivery makes up for it
            self.stats.defer_failures += 1
            log.warning("could not defer the delivery of %d events (%s); redelivery will", len(event_ids), error)
            return
        self.stats.deferred[(DELIVER,)] += 1

    async def plan_webhooks(self, changes: list[Change]) -> None:
        """The outbox consumer of outgoing webhooks: the deliveries these changes make, and a
        sending job for each not yet queued (a second job for one delivery finds it sent)."""
        await self._queue_each(WEBHOOK_SEND, "delivery_id", await webhooks_out.plan(changes), webhooks_out.mark_queued)

    async def plan_exports(self, changes: list[Change]) -> None:
        """The outbox consumer of customers' data exports: a building job for each request among
        these changes not yet queued (a second job for one request finds the copy built)."""
        await self._queue_each(
            EXPORT_BUILD, "export_id", await accounts_export.plan(changes), accounts_export.mark_queued
        )

    async def plan_imports(self, changes: list[Change]) -> None:
        """The outbox consumer of staff's product files: a job for each import to run and each
        export to write among these changes, not yet queued (a second job finds it done)."""
        runs, builds = await imports_admin.plan(changes)
        await self._queue_each(IMPORT_RUN, "import_id", runs, imports_admin.mark_imports_queued)
        await self._queue_each(PRODUCT_EXPORT_BUILD, "export_id", builds, imports_admin.mark_exports_queued)

    async def plan_emails(self, changes: list[Change]) -> None:
        """The outbox consumer of customer emails: the emails these changes call for, and a sending
        job for each not yet queued (a second job for one email finds it SENT)."""
        if self.mailer is not None:
            await self._queue_each(EMAIL_SEND, "email_id", await self.mailer.plan(changes), emails.mark_queued)

    async def plan_media(self, changes: list[Change]) -> None:
        """The outbox consumer of uploaded media: a job for each thumbnail asked for and not yet
        queued, and the files of deleted images removed from the storage."""
        if self.uploads is not None:
            await media.delete_files(self.uploads.storage, changes)
            await self._queue_each(
                THUMBNAIL_MAKE, "thumbnail_id", await media.plan_thumbnails(changes), media.mark_queued
            )

    async def _queue_each(
        self, task: str, argument: str, row_ids: list[int], mark_queued: Callable[[list[int]], Awaitable[None]]
    ) -> None:
        """A job of `task` for each planned row (its id as `argument`), then the rows marked queued.
        Raises (the outbox hands the changes over again) when a job cannot be deferred; a crash
        between deferring and marking queues a row twice, which its task's second run finds done."""
        for row_id in row_ids:
            await self.app.configure_task(task).defer_async(**{argument: row_id})
            self.stats.deferred[(task,)] += 1
        if row_ids:
            await mark_queued(row_ids)

    async def run_worker(self, concurrency: int = 1, name: str = "worker") -> None:
        """Run jobs until cancelled (or, in a worker process, until SIGTERM/SIGINT)."""
        await self.app.run_worker_async(
            concurrency=concurrency,
            name=name,
            # Succeeded jobs leave the table; failed ones stay, for `jobs failed` and `jobs retry`.
            delete_jobs="successful",
            worker_middleware=[self.stats.middleware],
            install_signal_handlers=not self.in_process,
            fetch_job_polling_interval=5.0 if not self.in_process else 1.0,
        )

    def start_worker(self) -> None:
        """Run jobs in this process, beside what it serves (the SQLite default)."""
        if self._worker is None:
            self._worker = asyncio.create_task(self.run_worker(name="in-process"), name="jobs-worker")

    async def stop_worker(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None

    async def failed(self) -> list[Job]:
        """Jobs that failed their last retry (the dead letters), oldest first."""
        jobs = await self.app.job_manager.list_jobs_async(status="failed")
        return sorted(jobs, key=lambda job: job.id or 0)

    async def retry(self, job_id: int) -> bool:
        """Run a failed job again now; False when no failed job has this id."""
        if not [job for job in await self.app.job_manager.list_jobs_async(id=job_id) if job.status == "failed"]:
            return False
        await self.app.job_manager.retry_job_by_id_async(job_id, retry_at=datetime.datetime.now(UTC))
        return True


def describe(job: Job) -> str:
    """One line for an operator: id, task, attempts, when it was due and its arguments."""
    due = job.scheduled_at.isoformat(timespec="seconds") if job.scheduled_at else "-"
    return f"{job.id}\t{job.task_name}\tattempts={job.attempts}\tdue={due}\t{_arguments(job.task_kwargs)}"


def _arguments(kwargs: dict[str, Any] | Iterable[Any]) -> str:
    text = str(kwargs)
    return text if len(text) <= 200 else text[:197] + "..."
