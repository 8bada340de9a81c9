"""Scenario `webhooks`: orders placed through the API reach a subscribed endpoint; how soon, and all of them?

The real gateway under uvicorn with 2 web workers and 2 `python -m gateway worker` processes (the
job workers: outbox delivery, then one sending job per webhook), on the bench database with the
Redis event bus and cache (as in the fan-out scenario) and WEBHOOK_ALLOW_PRIVATE_TARGETS=1, so
that an http://127.0.0.1 endpoint may subscribe. The endpoint is `bench.webhook_receiver`, its own
process: it verifies every delivery with the `standardwebhooks` package and notes its arrival.

Each run, on fresh servers, has two parts, each with a fresh receiver and subscription (staff with
MANAGE_APPS, `webhookSubscriptionCreate` for ORDER_PLACED, deleted afterwards):
- **ok**: the receiver answers 200. A warm-up of WARMUP_ORDERS orders, delivered, then `--orders`
  orders (1,000) placed by `--connections` concurrent shoppers (16), the checkout scenario's client
  and flow (`bench.checkout_load --orders`).
- **retry**: the receiver answers 500 to the first FAIL_FIRST attempts of each webhook-id and 200
  to the next; the same number of orders. The sending job's retry policy (gateway/jobs.py
  WEBHOOK_RETRY) spaces the attempts, so this part takes that much longer.

Commit time: the `created_at` of the order's outbox row, the event the webhook is (its
`webhook-id` is `msg_` and the row's event id). The checkout writes that row in its own transaction
as its last statement before COMMIT (resolvers/outbox.py), stamped by the web process's clock, so
it is the commit give or take the COMMIT itself: a few milliseconds early, which counts against
the delivery. The order's own `created_at` is stamped earlier, before its lines, allocations and
payment, and PostgreSQL keeps no commit times here (`track_commit_timestamp` is off).
Delivery time: when the receiver had the whole request that it answered 200.

Checked per part: every order the client placed delivered exactly once (one webhook-id per order,
answered 200 once: no duplicates, none missing, none unexpected), every attempt's signature
verified, and in the database every delivery SUCCEEDED with no job failed. Targets (issue 15):
p99 commit -> delivery <= 2 s with the receiver answering; all delivered, none lost, with it failing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from bench import PYTHON
from bench.checkout import run_client
from bench.database import PreparedDatabase, gateway_cli, gateway_env
from bench.driven import Driven
from bench.fanout import API, REDIS_URL, STAFF_EMAIL, STAFF_PASSWORD, TOKEN_CREATE
from bench.load import LoadSpec
from bench.pyload import percentile
from gateway.jobs import WEBHOOK_RETRY, WEBHOOK_SEND
from resolvers.webhooks_out import generate_secret
from testbed import servers
from testbed.processes import cpu_seconds, started_workers

NAME = "webhooks"
GATEWAY_APP = "gateway.app:app"
WEB_WORKERS = 2
JOB_WORKERS = 2
JOB_CONCURRENCY = 4  # `python -m gateway worker`'s default: jobs one worker runs at once
WARMUP_ORDERS = 40
FAIL_FIRST = 2
TARGET_P99_S = 2.0
ORDERS_LIMIT_S = 900.0  # placing the orders may take at most this long
SETTLE_S = 6.0  # after the last delivery, for a late duplicate: longer than the outbox's redelivery period
POLL_S = 0.2
# How long after the last order its delivery may come, at most: a backlog of jobs to work off,
# and with failures each retry's longest wait (between half and all of its ceiling) plus twice a
# worker's 5 s polling period (a retry that comes due is not announced: the next poll takes it).
BACKLOG_S = 300.0
RETRY_WAIT_S = sum(
    min(WEBHOOK_RETRY.cap_seconds, WEBHOOK_RETRY.base_seconds * 2.0**n) + 10.0 for n in range(FAIL_FIRST)
)
DELIVERY_TIMEOUT_S = {0: BACKLOG_S, FAIL_FIRST: BACKLOG_S + RETRY_WAIT_S}

# The job tables churn by thousands of rows a minute. A job worker's session keeps the plan of
# Procrastinate's fetch function that it made while they were empty, a scan that takes ~0.5 s of
# CPU per job once they hold a backlog, until an ANALYZE of them makes it plan again: autovacuum's
# work. Where the server's autovacuum is off (the bench settles its tables itself), the scenario
# analyses them as autovacuum would, at its default naptime.
AUTOANALYZE_S = 60.0
JOB_TABLES = "procrastinate_jobs, procrastinate_events"

SUBSCRIBE = (
    "mutation Subscribe($url: String!, $secret: String) { webhookSubscriptionCreate(url: $url, "
    "events: [ORDER_PLACED], secret: $secret) { subscription { id } secret userErrors { field code message } } }"
)
UNSUBSCRIBE = "mutation Unsubscribe($id: ID!) { webhookSubscriptionDelete(id: $id) { deletedId userErrors { field code message } } }"
PARTS = (("ok", 0), ("retry", FAIL_FIRST))


class Receiver(Driven):
    """One `bench.webhook_receiver` process, driven line by line."""

    def __init__(self, secret: str, fail_first: int) -> None:
        command = [PYTHON, "-m", "bench.webhook_receiver", "--secret", secret, "--fail-first", str(fail_first)]
        super().__init__("bench.webhook_receiver", command)
        self.url = f"http://127.0.0.1:{self.answer(30)['port']}/hook"


# -- the database's side -----------------------------------------------------------------------------


async def _stored(url: str, receiver_url: str, event_ids: list[str]) -> dict[str, Any]:
    """The commit time of each event (epoch seconds), and what the gateway recorded of the deliveries."""
    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://"))
    try:
        rows = await conn.fetch(
            "SELECT event_id::text AS id, created_at FROM outbox WHERE event_id = ANY($1::uuid[])", event_ids
        )
        statuses = await conn.fetch(
            "SELECT d.status, count(*) AS n, sum(d.attempts) AS attempts FROM webhook_delivery d "
            "JOIN webhook_subscription s ON s.id = d.subscription_id WHERE s.url = $1 GROUP BY d.status",
            receiver_url,
        )
        failed_jobs = await conn.fetchval(
            "SELECT count(*) FROM procrastinate_jobs WHERE task_name = $1 AND status = 'failed' "
            "AND (args->>'delivery_id')::int IN (SELECT d.id FROM webhook_delivery d "
            "JOIN webhook_subscription s ON s.id = d.subscription_id WHERE s.url = $2)",
            WEBHOOK_SEND,
            receiver_url,
        )
    finally:
        await conn.close()
    return {
        "committed": {row["id"]: row["created_at"].timestamp() for row in rows},
        "deliveries": {row["status"]: {"count": row["n"], "attempts": int(row["attempts"])} for row in statuses},
        "failed_send_jobs": failed_jobs,
    }


class Autoanalyze:
    """ANALYZE of the job tables every AUTOANALYZE_S, in a thread, while the server's autovacuum is off."""

    def __init__(self, url: str) -> None:
        self.url = url.replace("postgres://", "postgresql://")
        self.stopped = threading.Event()
        self.runs = 0
        self.needed = asyncio.run(self._fetch("SHOW autovacuum")) == "off"
        self.thread = threading.Thread(target=self._loop, name="autoanalyze", daemon=True)
        if self.needed:
            self.thread.start()

    async def _fetch(self, statement: str) -> Any:
        conn = await asyncpg.connect(self.url)
        try:
            return await conn.fetchval(statement)
        finally:
            await conn.close()

    def _loop(self) -> None:
        while not self.stopped.wait(AUTOANALYZE_S):
            asyncio.run(self._fetch(f"ANALYZE {JOB_TABLES}"))
            self.runs += 1

    def stop(self) -> None:
        self.stopped.set()
        if self.thread.is_alive():
            self.thread.join(30)


# -- what arrived ------------------------------------------------------------------------------------


def _seconds(values: list[float]) -> dict[str, float | int | None]:
    ordered = sorted(values)

    def at(fraction: float) -> float | None:
        return round(percentile(ordered, fraction), 3) if ordered else None

    return {
        "count": len(ordered),
        "min_s": round(ordered[0], 3) if ordered else None,
        "p50_s": at(0.50),
        "p95_s": at(0.95),
        "p99_s": at(0.99),
        "max_s": round(ordered[-1], 3) if ordered else None,
    }


def analyse(
    attempts: list[list[Any]], placed: list[int], warmup: list[int], committed: dict[str, float]
) -> dict[str, Any]:
    """What the receiver saw of the orders the client placed (`warmup` ones are expected, not measured).

    `attempts` are the receiver's [webhook-id, arrival, status answered, type, order number, error];
    `committed` the outbox's commit time of each event id."""
    by_id: dict[str, list[list[Any]]] = {}
    for attempt in attempts:
        by_id.setdefault(attempt[0], []).append(attempt)
    answered = [a for a in attempts if a[2] == 200]
    per_order = Counter(a[4] for a in answered)
    ids_per_order: dict[int, set[str]] = {}
    for attempt in attempts:
        if attempt[4] is not None:
            ids_per_order.setdefault(attempt[4], set()).add(attempt[0])
    expected = set(placed)
    delivery: list[float] = []
    first_attempt: list[float] = []
    gaps: dict[int, list[float]] = {}  # attempt n -> seconds since attempt n-1
    uncommitted = 0  # a webhook-id whose event the outbox does not hold
    for webhook_id, tries in by_id.items():
        number = tries[0][4]
        if number not in expected:
            continue
        commit = committed.get(webhook_id.removeprefix("msg_"))
        if commit is None:
            uncommitted += 1
            continue
        arrivals = [a[1] for a in tries]
        first_attempt.append(arrivals[0] - commit)
        done = next((a[1] for a in tries if a[2] == 200), None)
        if done is not None:
            delivery.append(done - commit)
        for n in range(1, len(arrivals)):
            gaps.setdefault(n + 1, []).append(arrivals[n] - arrivals[n - 1])
    return {
        "placed": len(placed),
        "delivered": sum(1 for number in expected if per_order[number] >= 1),
        "missing": sum(1 for number in expected if per_order[number] == 0),
        "duplicates": sum(count - 1 for number, count in per_order.items() if count > 1),
        "unexpected": sum(count for number, count in per_order.items() if number not in expected | set(warmup)),
        "ids_per_order_over_1": sum(1 for ids in ids_per_order.values() if len(ids) > 1),
        "unverified": sum(1 for a in attempts if a[2] == 400),
        "unverified_samples": sorted({a[5] for a in attempts if a[2] == 400})[:5],
        "uncommitted": uncommitted,
        "attempts": len(attempts),
        "attempts_per_delivery": dict(sorted(Counter(len(t) for t in by_id.values()).items())),
        "event_types": dict(Counter(a[3] for a in answered)),
        "commit_to_delivery": _seconds(delivery),
        "commit_to_first_attempt": _seconds(first_attempt),
        "between_attempts": {f"{n - 1}->{n}": _seconds(v) for n, v in sorted(gaps.items())},
    }


def lost(part: dict[str, Any]) -> int:
    """Orders of the part not delivered exactly once, or not in order with the gateway's own records."""
    seen = part["seen"]
    bad = seen["missing"] + seen["duplicates"] + seen["unexpected"] + seen["unverified"] + seen["uncommitted"]
    not_succeeded = sum(v["count"] for k, v in part["database"]["deliveries"].items() if k != "SUCCEEDED")
    return bad + not_succeeded + part["database"]["failed_send_jobs"]


# -- the run -----------------------------------------------------------------------------------------


def _wait_delivered(receiver: Receiver, wanted: int, timeout: float) -> tuple[int, float]:
    """Poll until `wanted` distinct webhook-ids were answered 200, or time out; (delivered, when)."""
    deadline = time.monotonic() + timeout
    while True:
        delivered = int(receiver.ask("count", 30)["delivered"])
        if delivered >= wanted or time.monotonic() > deadline:
            return delivered, time.time()
        time.sleep(POLL_S)


def _check_placed(result: dict[str, Any], wanted: int, what: str) -> None:
    if result["orders"] != wanted:
        raise RuntimeError(
            f"{what}: {result['orders']} of {wanted} orders placed; errors {result['error_kinds']}: "
            f"{result['error_samples']}"
        )


def run_part(
    database: PreparedDatabase,
    gateway: servers.Server,
    job_workers: list[servers.Process],
    spec: LoadSpec,
    label: str,
    fail_first: int,
) -> dict[str, Any]:
    secret = generate_secret()
    receiver = Receiver(secret, fail_first)
    api = API(gateway.host, gateway.port)
    try:
        # Signed in for each part: a slow run must not outlive the access token.
        signed_in, _, _ = api.call(TOKEN_CREATE, {"email": STAFF_EMAIL, "password": STAFF_PASSWORD}, "tokenCreate")
        api.bearer = signed_in["accessToken"]
        created, _, _ = api.call(SUBSCRIBE, {"url": receiver.url, "secret": secret}, "webhookSubscriptionCreate")
        subscription = created["subscription"]["id"]
        warmup: list[int] = []
        placing = dataclasses.replace(spec, warmup=0.0, duration=ORDERS_LIMIT_S)
        if fail_first == 0:
            warm = run_client(gateway, placing, WARMUP_ORDERS)
            _check_placed(warm, WARMUP_ORDERS, f"{label} warm-up")
            warmup = warm["placed"]
            if _wait_delivered(receiver, len(warmup), DELIVERY_TIMEOUT_S[0])[0] < len(warmup):
                logs = "\n".join(f"{w.name}:\n{w.log_tail()}" for w in job_workers)
                raise RuntimeError(f"the warm-up's orders were not all delivered:\n{gateway.log_tail()}\n{logs}")
        started = time.time()
        placed = run_client(gateway, placing, spec.orders)
        _check_placed(placed, spec.orders, label)
        placed_at = time.time()
        delivered, last = _wait_delivered(receiver, len(warmup) + spec.orders, DELIVERY_TIMEOUT_S[fail_first])
        time.sleep(SETTLE_S)
        dump = receiver.ask("dump", 60)
        ids = sorted({a[0].removeprefix("msg_") for a in dump["attempts"] if a[0].startswith("msg_")})
        stored = asyncio.run(_stored(database.url, receiver.url, ids))
        api.call(UNSUBSCRIBE, {"id": subscription}, "webhookSubscriptionDelete")
    finally:
        api.close()
        receiver.stop()
    if gateway.process.poll() is not None:
        raise RuntimeError(f"the gateway died during the run:\n{gateway.log_tail()}")
    return {
        "part": label,
        "fail_first": fail_first,
        "orders_per_s": round(placed["orders_per_s"], 2),
        "checkout_p50_ms": placed["checkout_p50_ms"],
        "checkout_p99_ms": placed["checkout_p99_ms"],
        "placing_s": round(placed_at - started, 2),
        "all_delivered_after_placing_s": round(last - placed_at, 2) if delivered >= len(warmup) + spec.orders else None,
        "warmup_orders": len(warmup),
        "seen": analyse(dump["attempts"], placed["placed"], warmup, stored["committed"]),
        "database": {"deliveries": stored["deliveries"], "failed_send_jobs": stored["failed_send_jobs"]},
        "receiver_cpu_s": dump["process_cpu_s"],
    }


def run_once(database: PreparedDatabase, spec: LoadSpec) -> dict[str, Any]:
    env = {**gateway_env(database.url), "REDIS_URL": REDIS_URL, "WEBHOOK_ALLOW_PRIVATE_TARGETS": "1"}
    # The staff account that subscribes (MANAGE_APPS), through the real CLI (idempotent).
    gateway_cli(
        "create-staff", "--email", STAFF_EMAIL, "--password", STAFF_PASSWORD, "--all-permissions", url=database.url
    )
    with ExitStack() as stack:
        gateway = servers.start("gateway", GATEWAY_APP, env, workers=WEB_WORKERS)
        stack.callback(gateway.stop)
        job_workers = []
        for number in range(1, JOB_WORKERS + 1):
            command = [PYTHON, "-m", "gateway", "worker", "--concurrency", str(JOB_CONCURRENCY)]
            worker = servers.spawn(f"jobs-{number}", command, env)
            stack.callback(worker.stop)
            job_workers.append(worker)
        servers.wait_healthy(gateway)
        web = started_workers(gateway.process.pid, WEB_WORKERS, gateway.log_tail)
        autoanalyze = Autoanalyze(database.url)
        stack.callback(autoanalyze.stop)

        processes = {"web": web, "jobs": [w.process.pid for w in job_workers]}
        parts = []
        for label, fail_first in PARTS:
            before = _cpu(processes)
            part = run_part(database, gateway, job_workers, spec, label, fail_first)
            # The CPU each kind of process spent on the part, warm-up included, per order placed.
            spent = {kind: round(after - before[kind], 2) for kind, after in _cpu(processes).items()}
            orders = part["warmup_orders"] + part["seen"]["placed"]
            part["cpu_s"] = spent
            part["cpu_ms_per_order"] = {kind: round(s * 1000 / max(1, orders), 1) for kind, s in spent.items()}
            parts.append(part)
            for worker in job_workers:
                if worker.process.poll() is not None:
                    raise RuntimeError(f"job worker {worker.name} exited:\n{worker.log_tail()}")
        return {"parts": parts, "pids": processes, "autoanalyze_runs": autoanalyze.runs if autoanalyze.needed else None}


def _cpu(processes: dict[str, list[int]]) -> dict[str, float]:
    """CPU seconds used so far, by kind of process."""
    return {kind: sum(cpu_seconds(pid) or 0.0 for pid in pids) for kind, pids in processes.items()}


@dataclass
class WebhooksReport:
    name: str
    runs: list[dict[str, Any]]
    details: dict[str, Any] = field(default_factory=dict)

    def parts(self, label: str) -> list[dict[str, Any]]:
        return [part for run in self.runs for part in run["parts"] if part["part"] == label]

    def render(self) -> str:
        header = (
            f"{'run':<4} {'part':<6} {'orders/s':>8} {'delivered':>11} {'dup':>4} {'missing':>7} {'unverified':>10} "
            f"{'attempts':>8} {'p50 s':>7} {'p95 s':>7} {'p99 s':>7} {'max s':>7} {'1st try p50 s':>13} "
            f"{'CPU ms/order web+jobs':>21}"
        )
        lines = [f"== {self.name} ==", header, "-" * len(header)]
        for number, run in enumerate(self.runs, 1):
            for part in run["parts"]:
                seen = part["seen"]
                latency = seen["commit_to_delivery"]
                lines.append(
                    f"{number:<4} {part['part']:<6} {part['orders_per_s']:>8.1f} "
                    f"{seen['delivered']:>5}/{seen['placed']:<5} {seen['duplicates']:>4} {seen['missing']:>7} "
                    f"{seen['unverified']:>10} {seen['attempts']:>8} {_fmt(latency['p50_s'])} "
                    f"{_fmt(latency['p95_s'])} {_fmt(latency['p99_s'])} {_fmt(latency['max_s'])} "
                    f"{_fmt(seen['commit_to_first_attempt']['p50_s'], 13)} "
                    f"{part['cpu_ms_per_order']['web']:>10.1f} + {part['cpu_ms_per_order']['jobs']:>8.1f}"
                )
        lines.append(
            "latency: commit (the order's outbox row, written just before COMMIT) -> the receiver has the attempt it "
            f"answers 200; retry: the receiver answers 500 to the first {FAIL_FIRST} attempts of each webhook-id; "
            "CPU: the web workers' and the job workers' over the part, warm-up included, per order"
        )
        ok, retry = self.parts("ok"), self.parts("retry")
        worst = max((p["seen"]["commit_to_delivery"]["p99_s"] or float("inf") for p in ok), default=float("inf"))
        verdict = "target met" if worst <= TARGET_P99_S and not any(lost(p) for p in ok) else "TARGET MISSED"
        lines.append(
            f"receiver answering: worst p99 {worst:.3f} s (target <= {TARGET_P99_S:.0f} s), "
            f"not delivered exactly once {sum(lost(p) for p in ok)}: {verdict}"
        )
        for number, part in enumerate(retry, 1):
            gaps = ", ".join(
                f"{step} p50 {g['p50_s']} s ({g['min_s']}-{g['max_s']})"
                for step, g in part["seen"]["between_attempts"].items()
            )
            lines.append(f"run {number} retry, seconds between attempts of a webhook-id: {gaps or 'none'}")
        lost_retry = sum(lost(p) for p in retry)
        lines.append(
            f"receiver failing {FAIL_FIRST} attempts: {sum(p['seen']['delivered'] for p in retry)} of "
            f"{sum(p['seen']['placed'] for p in retry)} delivered, not delivered exactly once {lost_retry}: "
            + ("target met" if retry and lost_retry == 0 else "TARGET MISSED")
        )
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {"scenario": self.name, "runs": self.runs, **self.details}


def _fmt(value: float | None, width: int = 7) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.3f}"


def run(database: PreparedDatabase, spec: LoadSpec, rounds: int) -> WebhooksReport:
    """`rounds` whole runs, each on fresh servers, each both parts."""
    runs = []
    for number in range(1, max(1, rounds) + 1):
        result = run_once(database, spec)
        for part in result["parts"]:
            seen = part["seen"]
            latency = seen["commit_to_delivery"]
            print(
                f"  run {number} {part['part']}: {seen['delivered']}/{seen['placed']} delivered, "
                f"duplicates {seen['duplicates']}, unverified {seen['unverified']}, "
                f"p50 {latency['p50_s']} s, p99 {latency['p99_s']} s, max {latency['max_s']} s, "
                f"attempts per delivery {seen['attempts_per_delivery']}, gateway {part['database']}",
                flush=True,
            )
        runs.append(result)
    return WebhooksReport(
        NAME,
        runs,
        details={
            "load": {
                "orders": spec.orders,
                "shoppers": spec.connections,
                "warmup_orders": WARMUP_ORDERS,
                "web_workers": WEB_WORKERS,
                "job_workers": JOB_WORKERS,
                "job_concurrency": JOB_CONCURRENCY,
                "fail_first": FAIL_FIRST,
                "webhook_retry": dataclasses.asdict(WEBHOOK_RETRY),
                "redis_url": REDIS_URL,
                "client": "bench.checkout_load --orders (asyncio, keep-alive)",
                "receiver": "bench.webhook_receiver (uvicorn, bare ASGI, standardwebhooks)",
            },
            "commit_time": "outbox.created_at of the ORDER_PLACED event (the checkout transaction's last write)",
            "target_p99_s": TARGET_P99_S,
            "database": {"url": database.url, "products": database.products},
        },
    )
