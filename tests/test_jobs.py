"""The job engine: committed changes delivered by jobs, in the serving process on SQLite and by
`python -m gateway worker` processes on PostgreSQL; retries, the dead-letter state and the
operator's commands."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from procrastinate.jobs import Job

from gateway.app import create_app
from gateway.job_retry import Backoff
from gateway.jobs import DELIVER, WEBHOOK_RETRY
from gateway.settings import load_settings
from models import OutboxEvent, Permission, ProductVariant
from schema.ids import encode_id
from tests.conftest import ROOT
from tests.live import job_worker
from tests.staff import bearer, token_for
from tests.test_checkout import make_variant

STOCK_SET = """
mutation($v: ID!, $q: Int!) { stockSet(variantId: $v, warehouse: "central", quantity: $q) {
  userErrors { code message } } }
"""


def test_retries_back_off_exponentially_with_jitter_then_the_job_is_failed_for_good():
    backoff = Backoff(retries=5, base_seconds=2.0, cap_seconds=20.0)
    for attempts, ceiling in enumerate((2.0, 4.0, 8.0, 16.0, 20.0)):
        delays = {backoff.delay(attempts) for _ in range(200)}
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays), (attempts, min(delays), max(delays))
        assert len(delays) > 100  # jittered: jobs that failed together do not come back together
    job = Job(id=1, queue="default", lock=None, queueing_lock=None, task_name=DELIVER)
    assert backoff.get_retry_decision(exception=ValueError(), job=job.evolve(attempts=4)) is not None
    assert backoff.get_retry_decision(exception=ValueError(), job=job.evolve(attempts=5)) is None  # dead letter


def test_a_webhook_endpoint_is_tried_for_about_a_day():
    ceilings = [
        min(WEBHOOK_RETRY.cap_seconds, WEBHOOK_RETRY.base_seconds * 2.0**n) for n in range(WEBHOOK_RETRY.retries)
    ]
    hours = sum(ceilings) / 3600
    # Each wait is half to all of its ceiling: the last attempt comes ~18 to ~35 hours after the first.
    assert hours / 2 >= 16 and hours <= 36, hours
    assert sum(WEBHOOK_RETRY.delay(n) for n in range(WEBHOOK_RETRY.retries)) / 3600 >= hours / 2


@pytest.fixture
async def served(db: Any, tmp_path: Any) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    """The gateway with its job engine started as its lifespan starts it."""
    settings = load_settings(
        {
            "DATABASE_URL": db.url,
            "LOG_LEVEL": "WARNING",
            "RATE_LIMIT_PER_SECOND": "0",
            "TEST_CARD_LEDGER": str(tmp_path / "ledger.jsonl"),
        }
    )
    app = create_app(settings)
    await app.state.events.start()
    if app.state.cache is not None:
        await app.state.cache.start()
    await app.state.jobs.start()
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
            yield client, app
    finally:
        await app.state.jobs.stop()
        if app.state.cache is not None:
            await app.state.cache.close()
        await app.state.events.close()


async def _set_stock(client: httpx.AsyncClient, token: str, variant: ProductVariant, quantity: int) -> None:
    response = await client.post(
        "/graphql",
        json={"query": STOCK_SET, "variables": {"v": encode_id("ProductVariant", variant.id), "q": quantity}},
        headers=bearer(token),
    )
    body = response.json()
    assert not body.get("errors") and body["data"]["stockSet"]["userErrors"] == [], body


async def _delivered_within(seconds: float, event_ids: set[str]) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not await OutboxEvent.filter(event_id__in=list(event_ids), delivered_at=None).exists():
            return True
        await asyncio.sleep(0.1)
    return False


async def _new_events(since: int) -> set[str]:
    return {str(row.event_id) for row in await OutboxEvent.filter(id__gt=since)}


async def _last_event_id() -> int:
    last = await OutboxEvent.all().order_by("-id").first()
    return last.id if last is not None else 0


@pytest.fixture
def worker_process(db: Any) -> Iterator[subprocess.Popen[bytes] | None]:
    """On PostgreSQL, `python -m gateway worker` on the session's database; on SQLite, none (the
    serving process runs its jobs itself)."""
    if db.name == "sqlite":
        yield None
        return
    with job_worker({"DATABASE_URL": db.url, "LOG_LEVEL": "WARNING", "REDIS_URL": ""}, "--concurrency", "2") as process:
        yield process


async def _deliver_a_stock_change(client: httpx.AsyncClient, worker: subprocess.Popen[bytes] | None) -> str:
    token = await token_for(Permission.MANAGE_INVENTORY)
    variant = await make_variant()  # its own: the shared catalogue's stock stays as listing tests expect it
    since = await _last_event_id()
    await _set_stock(client, token, variant, 17)
    written = await _new_events(since)
    assert written, "the stock change wrote no outbox event"
    assert await _delivered_within(30, written), (
        worker.stderr.read1().decode()[-2000:] if worker is not None and worker.stderr else "in process"
    )
    return (await client.get("/metrics")).text


async def test_the_serving_process_runs_the_jobs_on_sqlite(db, served):
    if db.name != "sqlite":
        pytest.skip("on PostgreSQL, worker processes run the jobs (test_a_worker_process_runs_the_jobs_on_postgres)")
    metrics = await _deliver_a_stock_change(served[0], None)
    assert 'gateway_jobs_deferred_total{task="outbox.deliver"} 1.0' in metrics
    assert 'gateway_jobs_total{outcome="succeeded",task="outbox.deliver"} 1.0' in metrics
    delivered = re.search(r"^gateway_outbox_delivered_total (\S+)$", metrics, re.MULTILINE)
    assert delivered is not None and float(delivered.group(1)) >= 1


@pytest.mark.slow  # a worker process of its own
async def test_a_worker_process_runs_the_jobs_on_postgres(db, served, worker_process):
    if db.name != "postgres":
        pytest.skip("on SQLite the serving process runs the jobs (test_the_serving_process_runs_the_jobs_on_sqlite)")
    metrics = await _deliver_a_stock_change(served[0], worker_process)
    assert 'gateway_jobs_deferred_total{task="outbox.deliver"} 1.0' in metrics


def _command(db: Any, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *arguments],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": db.url, "LOG_LEVEL": "WARNING"},
        capture_output=True,
        text=True,
        timeout=60,
    )


async def _failed(app: Any, job_id: int, attempts_over: int = 0, seconds: float = 30) -> Job:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for job in await app.state.jobs.failed():
            if job.id == job_id and job.attempts > attempts_over:
                return job
        await asyncio.sleep(0.2)
    raise AssertionError(f"job {job_id} did not fail within {seconds} s")


@pytest.mark.slow  # a worker process and the command line
async def test_an_operator_lists_the_failed_jobs_and_retries_one(db, served, worker_process):
    if db.name == "sqlite":
        listed = await asyncio.to_thread(_command, db, "jobs", "failed")
        assert listed.returncode == 2 and "jobs run inside the web process" in listed.stdout
        return
    _, app = served
    # A job no worker knows (a task renamed by a deploy while its jobs waited) fails at once.
    job_id = await app.state.jobs.app.configure_task("outbox.renamed_long_ago").defer_async(event_ids=[])
    first = await _failed(app, job_id)
    listed = await asyncio.to_thread(_command, db, "jobs", "failed")
    assert listed.returncode == 0, listed.stderr
    [line] = [line for line in listed.stdout.splitlines() if line.startswith(f"{job_id}\t")]
    assert "outbox.renamed_long_ago" in line and f"attempts={first.attempts}" in line
    retried = await asyncio.to_thread(_command, db, "jobs", "retry", str(job_id))
    assert retried.returncode == 0 and f"job {job_id} will run again" in retried.stdout, retried.stderr
    again = await _failed(app, job_id, attempts_over=first.attempts)  # it ran again (and failed again)
    assert again.attempts > first.attempts
    unknown = await asyncio.to_thread(_command, db, "jobs", "retry", "987654321")
    assert unknown.returncode == 1 and "no failed job has the id 987654321" in unknown.stdout
