"""`python -m gateway worker`: a process that runs jobs, and the operator's `jobs` commands.

A worker connects to the database twice (Tortoise for the tasks' own work, a psycopg pool for
Procrastinate's queue) and, with REDIS_URL, to Redis, where the outbox's consumers reach the web
processes: the response cache's shared tier is invalidated there, and the changes go out on the
event bus for every web process's subscriptions and in-process cache tier. Without REDIS_URL each
web process is alone anyway and announces its own changes; the worker still redelivers and prunes.

On SQLite there is no queue to share: the web process runs its jobs itself, and `worker` says so
and idles until stopped (so `honcho -f Procfile.dev start` keeps its web line running).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

from tortoise import Tortoise

from gateway import mail, payment_providers
from gateway.breaker import Breaker, redis_client
from gateway.cache_redis import RedisTier
from gateway.db import close, tortoise_config
from gateway.events import RedisBus
from gateway.job_stats import JobStats
from gateway.jobs import (
    CACHE_CONSUMER,
    EVENTS_CONSUMER,
    EXPORTS_CONSUMER,
    IMPORTS_CONSUMER,
    MEDIA_CONSUMER,
    WEBHOOKS_CONSUMER,
    Housekeeping,
    Jobs,
    describe,
)
from gateway.media_storage import media_uploads
from gateway.metrics import FLUSH_SECONDS, MULTIPROCESS, Metrics
from gateway.periodic import every
from gateway.settings import Settings
from models.changes import ACCOUNT_MESSAGE, RETURN, Change
from resolvers import account_tokens, accounts_export, emails, outbox, returns

log = logging.getLogger("gateway.worker")
SQLITE = (
    "DATABASE_URL is SQLite: jobs run inside the web process (no worker process is needed); "
    "use PostgreSQL to run workers of their own"
)


def housekeeping(settings: Settings) -> Housekeeping:
    return Housekeeping(
        redeliver_after=timedelta(seconds=settings.outbox_redeliver_after_seconds),
        retention=timedelta(seconds=settings.outbox_retention_seconds),
        cart_ttl=timedelta(days=settings.cart_ttl_days),
        webhook_log_retention=timedelta(days=settings.webhook_log_retention_days),
        audit_log_retention=timedelta(days=settings.audit_log_retention_days)
        if settings.audit_log_retention_days
        else None,
        webhook_allow_private=settings.webhook_allow_private_targets,
    )


def customer_emails(settings: Settings, send: mail.Send) -> emails.Emails:
    """The customer emails of a process that runs jobs (a worker, or the web process on SQLite):
    sent with `send`, from EMAIL_FROM, with the shop's templates, every kind the gateway sends."""
    return emails.Emails(
        send,
        settings.email_from,
        settings.email_templates_dir,
        mail.permanent,
        letters={
            accounts_export.DATA_EXPORT: accounts_export.ExportEmails(settings.public_url, settings.secret_key),
            ACCOUNT_MESSAGE: account_tokens.AccountLetters(settings.secret_key),
            RETURN: returns.ReturnLetters(),
        },
        # Their links act for whoever holds them: kept in the message only until it is sent.
        secret_kinds={*account_tokens.MESSAGES, accounts_export.DATA_EXPORT},
    )


async def run(settings: Settings, concurrency: int) -> int:
    """Run jobs until SIGTERM or SIGINT (a job in progress is finished first)."""
    if not settings.is_postgres:
        log.warning("worker: %s; idling until stopped", SQLITE)
        await _until_stopped()
        return 0
    await Tortoise.init(config=tortoise_config(settings.database_url, settings.database_statement_timeout))
    # Jobs call payment providers too (a refund left PENDING, an expired payment): the web's providers.
    stripe_payments = payment_providers.install(settings)
    stats = JobStats()
    metrics = Metrics()
    stats.publish(metrics)
    email_sender = mail.Timed(mail.sender(settings.email_url))
    mailer = customer_emails(settings, email_sender)
    mail.publish(metrics, lambda: mailer.counts, email_sender)
    # Its pool: one connection per job running at once, one to LISTEN, one for the periodic deferrer.
    jobs = Jobs(
        settings.database_url,
        housekeeping(settings),
        stats,
        pool_size=concurrency + 2,
        mailer=mailer,
        uploads=media_uploads(settings),
    )
    outbox.register(WEBHOOKS_CONSUMER, jobs.plan_webhooks)
    outbox.register(MEDIA_CONSUMER, jobs.plan_media)
    outbox.register(emails.CONSUMER, jobs.plan_emails)
    outbox.register(EXPORTS_CONSUMER, jobs.plan_exports)
    outbox.register(IMPORTS_CONSUMER, jobs.plan_imports)
    redis = redis_client(settings.redis_url, settings.redis_timeout_ms / 1000) if settings.redis_url else None
    if redis is not None:
        breaker = Breaker(settings.redis_breaker_seconds)
        tier = RedisTier(redis, settings.cache_ttl_seconds, lock_seconds=1.0, breaker=breaker)
        bus = RedisBus(redis, settings.subscription_queue_size, breaker)

        async def invalidate(changes: list[Change]) -> None:
            # Raises while Redis is away: the delivery is tried again later.
            tags = sorted({tag for change in changes for tag in change.tags})
            if tags:
                await tier.invalidate(tags)

        outbox.register(CACHE_CONSUMER, invalidate)
        outbox.register(EVENTS_CONSUMER, bus.redeliver)
    else:
        log.warning("worker: REDIS_URL is unset, so deliveries reach no web process (each announces its own)")
    # With PROMETHEUS_MULTIPROC_DIR shared with the web processes of this host, their /metrics
    # shows this worker's jobs too (gateway/metrics_dir.py).
    flushing = asyncio.create_task(every(FLUSH_SECONDS, _flush(metrics), "metrics flush")) if MULTIPROCESS else None
    await jobs.open()
    try:
        await _until_the_queue_exists(jobs)
        log.info("worker: running jobs (concurrency %d, pid %d)", concurrency, os.getpid())
        await jobs.run_worker(concurrency=concurrency, name=f"worker-{os.getpid()}")
    finally:
        await jobs.close()
        if flushing is not None:
            flushing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flushing
        metrics.close()
        outbox.unregister(CACHE_CONSUMER)
        outbox.unregister(EVENTS_CONSUMER)
        outbox.unregister(emails.CONSUMER)
        outbox.unregister(EXPORTS_CONSUMER)
        outbox.unregister(IMPORTS_CONSUMER)
        outbox.unregister(WEBHOOKS_CONSUMER)
        outbox.unregister(MEDIA_CONSUMER)
        if redis is not None:
            await redis.aclose()
        if stripe_payments is not None:
            await stripe_payments.close()
        await close()
    return 0


def _flush(metrics: Metrics) -> Callable[[], Awaitable[None]]:
    async def flush() -> None:
        metrics.flush()

    return flush


async def _until_the_queue_exists(jobs: Jobs) -> None:
    """Wait for the database and Procrastinate's tables: a worker started beside a release that is
    still migrating (or a database still starting) waits rather than exits."""
    waited = False
    while True:
        try:
            if await jobs.app.check_connection_async():
                return
            reason = "its job tables are missing (run python -m gateway migrate)"
        except Exception as error:  # any failure: the database is not there yet
            reason = f"{type(error).__name__}: {error}"
        if not waited:
            log.warning("worker: waiting for the database: %s", reason)
            waited = True
        await asyncio.sleep(1.0)


async def _until_stopped() -> None:
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopped.set)
    await stopped.wait()


async def failed(settings: Settings) -> int:
    """`jobs failed`: one line per job that failed its last retry, oldest first."""
    if not settings.is_postgres:
        print(f"jobs: {SQLITE}; failed jobs are in its log", flush=True)
        return 2
    async with _engine(settings) as jobs:
        listed = await jobs.failed()
    for job in listed:
        print(describe(job))
    print(f"{len(listed)} failed jobs")
    return 0


async def retry(settings: Settings, job_id: int) -> int:
    """`jobs retry ID`: run a failed job again now."""
    if not settings.is_postgres:
        print(f"jobs: {SQLITE}", flush=True)
        return 2
    async with _engine(settings) as jobs:
        retried = await jobs.retry(job_id)
    if not retried:
        print(f"jobs retry: no failed job has the id {job_id}")
        return 1
    print(f"job {job_id} will run again now")
    return 0


@contextlib.asynccontextmanager
async def _engine(settings: Settings) -> AsyncIterator[Jobs]:
    """The job engine, open, for an operator's command."""
    jobs = Jobs(settings.database_url, housekeeping(settings), JobStats())
    await jobs.open()
    try:
        yield jobs
    finally:
        await jobs.close()
