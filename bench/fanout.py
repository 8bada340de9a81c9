"""Scenario `fanout`: 1,000 subscribers on one order across 2 workers; how late each event arrives.

Longer than 400 lines: one module per scenario, its set-up, load and measurement read top to bottom.

The real gateway under uvicorn with 2 workers, the Redis event bus (database 12, whose number
names the bus channel, so other servers on the same Redis do not interfere) and the bench
database. Two client processes (`bench.fanout_load`, 500 connections each) subscribe to
`orderStatusChanged` for one order; the harness then changes that order's status through the
public API, one change a second, timing each mutation's HTTP response, and every subscriber times
the event's arrival on the same system-wide monotonic clock. Latency = arrival - response.

Each order gives five status changes (PAID, PARTIALLY_SHIPPED, SHIPPED, DELIVERED, REFUNDED) and
one change that is not a status change (the first of two parcels delivered: nothing may be sent);
ORDERS orders in a row, each subscriber moving to the next order on its connection, as a tracking
page does. Memory: RSS and PSS of both workers before the subscribers connect and once all 1,000
hold their subscription and have received the order's current state; the difference over 1,000
is the cost of one idle subscriber (its WebSocket connection included).
"""

from __future__ import annotations

import http.client
import json
import os
import time
import uuid
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from bench import PYTHON
from bench.database import PreparedDatabase, gateway_cli, gateway_env
from bench.driven import Driven
from bench.fanout_load import SUBSCRIPTION
from bench.load import LoadSpec
from bench.pyload import percentile_ms
from bench.queries import (
    CART_ADDRESS,
    CART_CREATE,
    CART_SHIPPING,
    SHIPPING_ADDRESS,
    SHIPPING_METHOD_NAME,
    STOCK_PAGE,
    request_body,
    shipping_method_id,
    stocked_variants,
)
from testbed import servers
from testbed.processes import cpu_seconds, memory_kb, serving_workers_retried, started_workers

NAME = "fanout"
GATEWAY_APP = "gateway.app:app"
WORKERS = 2
SUBSCRIBERS = int(os.environ.get("BENCH_FANOUT_SUBSCRIBERS", "1000"))  # smaller only to try the harness
CLIENT_PROCESSES = 2
ORDERS = 3  # x 5 status changes = 15 events per subscriber, 15,000 deliveries
SPACING_S = 1.0  # between two changes
IDLE_S = 2.0  # subscribers idle before memory is read
DELIVERY_TIMEOUT_S = 20.0  # after an order's last change, for every expected message to arrive
TARGET_P99_MS = 250.0
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
STAFF_EMAIL = "bench-staff@example.com"
STAFF_PASSWORD = "bench-staff-password-1"

TOKEN_CREATE = (
    "mutation SignIn($email: String!, $password: String!) { tokenCreate(email: $email, password: $password) "
    "{ accessToken userErrors { field code message } } }"
)
PLACE = (
    "mutation Place($token: ID!, $payment: PaymentInput!) { checkoutComplete(cartToken: $token, payment: $payment) "
    "{ order { id token status lines { id quantity } } userErrors { field code message } } }"
)
MARK_PAID = (
    "mutation MarkPaid($id: ID!) { orderMarkPaid(orderId: $id) { order { status } userErrors { field code message } } }"
)
REFUND = (
    "mutation Refund($id: ID!) { orderRefund(orderId: $id) { order { status } userErrors { field code message } } }"
)
SHIP = (
    "mutation Ship($o: ID!, $l: [ShipmentLineInput!]!, $n: String!) { shipmentCreate(orderId: $o, lines: $l, "
    'carrier: "dhl", trackingNumber: $n) { shipment { id status } userErrors { field code message } } }'
)
TRACK = (
    'mutation Track($s: ID!) { shipmentAddTrackingEvent(shipmentId: $s, status: DELIVERED, location: "Berlin") '
    "{ shipment { status } userErrors { field code message } } }"
)


# -- the public API, over one keep-alive connection ---------------------------------------------------


class API:
    IDLE_S = 2.0  # uvicorn drops keep-alive connections idle for 5 s: reconnect well before that

    def __init__(self, host: str, port: int) -> None:
        self.connection = http.client.HTTPConnection(host, port, timeout=60)
        self.bearer: str | None = None
        self.last_used = 0.0

    def call(self, query: str, variables: dict[str, Any], root: str) -> tuple[dict[str, Any], float, float]:
        """(root payload, monotonic time sent, monotonic time the whole response was read)."""
        headers = {"Content-Type": "application/json"}
        if self.bearer:
            headers["Authorization"] = f"Bearer {self.bearer}"
        body = request_body(query, variables)
        if time.monotonic() - self.last_used > self.IDLE_S:
            self.connection.close()  # http.client opens a fresh one on the next request
        sent = time.monotonic()
        self.connection.request("POST", "/graphql", body=body, headers=headers)
        response = self.connection.getresponse()
        raw = response.read()
        answered = self.last_used = time.monotonic()
        if response.status != 200:
            raise RuntimeError(f"{root}: HTTP {response.status}: {raw[:300]!r}")
        document = json.loads(raw)
        if document.get("errors"):
            raise RuntimeError(f"{root}: {document['errors']}")
        payload = document["data"][root]
        if isinstance(payload, dict) and payload.get("userErrors"):
            raise RuntimeError(f"{root}: {payload['userErrors']}")
        return payload, sent, answered

    @property
    def local_port(self) -> int | None:
        sock = self.connection.sock
        return sock.getsockname()[1] if sock is not None else None

    def close(self) -> None:
        self.connection.close()


def _stock(api: API, wanted: int) -> list[str]:
    page, _, _ = api.call(STOCK_PAGE, {}, "products")
    variants = [variant_id for variant_id, _ in stocked_variants(page)]
    if len(variants) < wanted:
        raise RuntimeError("too few in-stock variants for the fan-out orders: was the database seeded?")
    return variants[:wanted]


def place_order(api: API, variants: list[str]) -> dict[str, Any]:
    """A 2-line order paid `manual`ly: PLACED, unpaid."""
    lines = [{"variantId": v, "quantity": 1} for v in variants]
    cart, _, _ = api.call(CART_CREATE, {"input": {"lines": lines, "email": "fanout@example.com"}}, "cartCreate")
    token = cart["cart"]["token"]
    addressed, _, _ = api.call(CART_ADDRESS, {"token": token, "address": SHIPPING_ADDRESS}, "cartUpdateShippingAddress")
    method = shipping_method_id(addressed["cart"])
    if method is None:
        raise RuntimeError(f"no {SHIPPING_METHOD_NAME!r} shipping method for the fan-out order's cart")
    api.call(CART_SHIPPING, {"token": token, "method": method}, "cartUpdateShippingMethod")
    placed, _, _ = api.call(PLACE, {"token": token, "payment": {"provider": "manual"}}, "checkoutComplete")
    order = placed["order"]
    if order["status"] != "PLACED" or len(order["lines"]) != 2:
        raise RuntimeError(f"unexpected order for the fan-out: {order}")
    return order


@dataclass
class Change:
    order: int  # which of the ORDERS
    mutation: str
    expected: str | None  # the status subscribers must receive; None: nothing may be sent
    sent: float
    answered: float
    worker: int | None = None  # the worker that served the mutation


def change_order(api: API, order: dict[str, Any], number: int, pause: float, workers: list[int]) -> list[Change]:
    """The order's whole life after placement, one change every `pause` seconds."""
    order_id = order["id"]
    first, second = ({"orderLineId": line["id"], "quantity": line["quantity"]} for line in order["lines"])
    parcels: list[str] = []
    changes: list[Change] = []

    def timed(mutation: str, expected: str | None, query: str, variables: dict[str, Any], root: str) -> dict[str, Any]:
        if changes:
            time.sleep(pause)
        payload, sent, answered = api.call(query, variables, root)
        port = api.local_port  # read after the timing: it costs a few ms of /proc
        worker = serving_workers_retried([port], workers).get(port) if port and workers else None
        changes.append(Change(number, mutation, expected, sent, answered, worker))
        return payload

    timed("orderMarkPaid", "PAID", MARK_PAID, {"id": order_id}, "orderMarkPaid")
    for lines, expected in (([first], "PARTIALLY_SHIPPED"), ([second], "SHIPPED")):
        shipped = timed(
            "shipmentCreate",
            expected,
            SHIP,
            {"o": order_id, "l": lines, "n": uuid.uuid4().hex[:12].upper()},
            "shipmentCreate",
        )
        parcels.append(shipped["shipment"]["id"])
    timed(
        "shipmentAddTrackingEvent (1st parcel; no status change)",
        None,
        TRACK,
        {"s": parcels[0]},
        "shipmentAddTrackingEvent",
    )
    timed("shipmentAddTrackingEvent (2nd parcel)", "DELIVERED", TRACK, {"s": parcels[1]}, "shipmentAddTrackingEvent")
    timed("orderRefund", "REFUNDED", REFUND, {"id": order_id}, "orderRefund")
    return changes


EXPECTED_PER_ORDER = ("PLACED", "PAID", "PARTIALLY_SHIPPED", "SHIPPED", "DELIVERED", "REFUNDED")


# -- the client processes -----------------------------------------------------------------------------


class Client(Driven):
    """One `bench.fanout_load` process, driven line by line."""

    def __init__(self, server: servers.Server, subscribers: int) -> None:
        command = [
            PYTHON,
            "-m",
            "bench.fanout_load",
            "--host",
            server.host,
            "--port",
            str(server.port),
            "--subscribers",
            str(subscribers),
        ]
        super().__init__("bench.fanout_load", command)
        self.ports: list[int] = []


def _each(clients: list[Client], command: str, timeout: float) -> list[dict[str, Any]]:
    for client in clients:
        client.send(command)
    return [client.answer(timeout) for client in clients]


def _subscribe(clients: list[Client], operation: str, token: str) -> float:
    answers = _each(clients, f"subscribe {operation} {token} PLACED", 180)
    missing = sum(a["missing"] for a in answers)
    if missing:
        raise RuntimeError(f"{missing} subscribers did not receive the order's current state on subscribing")
    return max(a["seconds"] for a in answers)


def _await_delivery(clients: list[Client], operation: str, expected: int) -> dict[str, int]:
    """Poll the clients until each expected status arrived at every subscriber, or time out."""
    deadline = time.monotonic() + DELIVERY_TIMEOUT_S
    while True:
        totals: Counter[str] = Counter()
        for answer in _each(clients, f"count {operation}", 30):
            totals.update(answer["counts"])
        if all(totals[s] >= expected for s in EXPECTED_PER_ORDER) or time.monotonic() > deadline:
            return dict(totals)
        time.sleep(0.2)


# -- the run ---------------------------------------------------------------------------------------------


def _summary(latencies: list[float]) -> dict[str, Any]:
    ordered = sorted(latencies)
    return {
        "count": len(ordered),
        "p50_ms": percentile_ms(ordered, 0.50, 2),
        "p90_ms": percentile_ms(ordered, 0.90, 2),
        "p99_ms": percentile_ms(ordered, 0.99, 2),
        "max_ms": round(ordered[-1] * 1000, 2) if ordered else None,
        "min_ms": round(ordered[0] * 1000, 2) if ordered else None,
    }


def _total_memory(pids: list[int]) -> dict[str, Any]:
    per = {pid: memory_kb(pid) for pid in pids}
    return {
        "workers": {str(pid): values for pid, values in per.items()},
        **{key: sum(v[key] for v in per.values()) for key in ("rss", "pss", "uss")},
    }


def run_once(database: PreparedDatabase) -> dict[str, Any]:
    env = {**gateway_env(database.url), "REDIS_URL": REDIS_URL}
    # The staff account that moves the orders, through the real CLI (idempotent).
    gateway_cli(
        "create-staff", "--email", STAFF_EMAIL, "--password", STAFF_PASSWORD, "--all-permissions", url=database.url
    )
    with ExitStack() as stack:
        gateway = servers.start("gateway", GATEWAY_APP, env, workers=WORKERS)
        stack.callback(gateway.stop)
        servers.wait_healthy(gateway)
        workers = started_workers(gateway.process.pid, WORKERS, gateway.log_tail)
        # Both workers answer /healthz only once their lifespan (Tortoise, the bus listener) has run.
        for _ in range(20):
            servers.request(gateway, "GET", "/readyz")

        api = API(gateway.host, gateway.port)
        stack.callback(api.close)
        signed_in, _, _ = api.call(TOKEN_CREATE, {"email": STAFF_EMAIL, "password": STAFF_PASSWORD}, "tokenCreate")
        api.bearer = signed_in["accessToken"]
        variants = _stock(api, 2 * (ORDERS + 1))

        # Warm-up: a few subscribers through one whole order, so both workers have run every code
        # path (and allocated its caches) before the memory baseline is read.
        warm = Client(gateway, 20)
        stack.callback(warm.stop)
        warm.ports = warm.answer(60)["ports"]
        warm_order = place_order(api, variants[:2])
        _subscribe([warm], "w", warm_order["token"])
        change_order(api, warm_order, 0, 0.05, [])
        _await_delivery([warm], "w", 20)
        _each([warm], "dump", 30)
        warm.stop()
        time.sleep(1.0)

        baseline = _total_memory(workers)
        per_client = SUBSCRIBERS // CLIENT_PROCESSES
        clients = [Client(gateway, per_client) for _ in range(CLIENT_PROCESSES)]
        for client in clients:
            stack.callback(client.stop)
        connect_started = time.monotonic()
        for client in clients:
            client.ports = client.answer(180)["ports"]
        connect_seconds = time.monotonic() - connect_started
        ports = [port for client in clients for port in client.ports]
        owners = serving_workers_retried(ports, workers)

        changes: list[Change] = []
        subscribe_seconds: list[float] = []
        delivered: list[dict[str, int]] = []
        idle: dict[str, Any] | None = None
        for number in range(1, ORDERS + 1):
            order = place_order(api, variants[2 * number : 2 * number + 2])
            subscribe_seconds.append(_subscribe(clients, str(number), order["token"]))
            if idle is None:
                time.sleep(IDLE_S)
                idle = _total_memory(workers)
            else:
                time.sleep(SPACING_S)
            changes += change_order(api, order, number, SPACING_S, workers)
            delivered.append(_await_delivery(clients, str(number), SUBSCRIBERS))
            if gateway.process.poll() is not None:
                raise RuntimeError(f"the gateway died during the run:\n{gateway.log_tail()}")
        after_run = _total_memory(workers)
        dumps = _each(clients, "dump", 60)
        server_cpu = {str(pid): cpu_seconds(pid) for pid in workers}

    assert idle is not None
    return _analyse(
        clients,
        dumps,
        owners,
        workers,
        changes,
        baseline,
        idle,
        after_run,
        connect_seconds,
        subscribe_seconds,
        delivered,
        server_cpu,
    )


def _analyse(
    clients: list[Client],
    dumps: list[dict[str, Any]],
    owners: dict[int, int | None],
    workers: list[int],
    changes: list[Change],
    baseline: dict[str, Any],
    idle: dict[str, Any],
    after_run: dict[str, Any],
    connect_seconds: float,
    subscribe_seconds: list[float],
    delivered: list[dict[str, int]],
    server_cpu: dict[str, float | None],
) -> dict[str, Any]:
    # Receipts by (order, status): [(worker, monotonic)], one per subscriber that got it.
    receipts: dict[tuple[str, str], list[tuple[int | None, float]]] = {}
    for client, dump in zip(clients, dumps, strict=True):
        for operation, status, times in dump["receipts"]:
            bucket = receipts.setdefault((operation, status), [])
            bucket.extend((owners.get(client.ports[index]), at) for index, at in times)

    from_response: list[float] = []
    from_request: list[float] = []
    by_worker: dict[str, list[float]] = {}
    # Subscribers on the worker that ran the mutation (delivered in-process) or on the other one (via Redis).
    by_path: dict[str, list[float]] = {"same_worker": [], "other_worker": []}
    per_change: list[dict[str, Any]] = []
    lost = 0
    for change in changes:
        if change.expected is None:
            continue
        arrived = receipts.get((str(change.order), change.expected), [])
        lost += max(0, SUBSCRIBERS - len(arrived))
        latencies = [at - change.answered for _, at in arrived]
        from_response += latencies
        from_request += [at - change.sent for _, at in arrived]
        for worker, at in arrived:
            by_worker.setdefault(str(worker), []).append(at - change.answered)
            if worker is not None and change.worker is not None:
                by_path["same_worker" if worker == change.worker else "other_worker"].append(at - change.answered)
        per_change.append(
            {
                "order": change.order,
                "mutation": change.mutation,
                "status": change.expected,
                "mutation_worker": change.worker,
                "response_ms": round((change.answered - change.sent) * 1000, 2),
                "received": len(arrived),
                **_summary(latencies),
            }
        )

    expected_total = SUBSCRIBERS * sum(1 for c in changes if c.expected is not None)
    allowed = set(EXPECTED_PER_ORDER)
    unexpected = 0  # a status no change should have sent, or one received twice by a subscriber
    for (_operation, status), arrived in receipts.items():
        if status not in allowed:
            unexpected += len(arrived)
        else:
            unexpected += max(0, len(arrived) - SUBSCRIBERS)
    errors: Counter[str] = Counter()
    for dump in dumps:
        errors.update(dump["errors"])
    split = Counter(str(owners.get(port)) for client in clients for port in client.ports)
    received_messages = sum(len(v) for v in receipts.values())
    handler_cpu = sum(d["handler_cpu_s"] for d in dumps)

    def per_subscription(key: str) -> float:
        return round((idle[key] - baseline[key]) * 1024 / SUBSCRIBERS, 0)

    return {
        "subscribers": SUBSCRIBERS,
        "client_processes": len(clients),
        "orders": ORDERS,
        "changes": len([c for c in changes if c.expected is not None]),
        "received": len(from_response),
        "expected": expected_total,
        "lost": lost,
        "unexpected": unexpected,
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
        "error_samples": [s for d in dumps for s in d["error_samples"]][:5],
        "latency_from_response": _summary(from_response),
        "latency_from_request": _summary(from_request),
        "latency_from_response_by_worker": {w: _summary(v) for w, v in by_worker.items()},
        "worker_split": dict(split),
        "latency_from_response_by_path": {k: _summary(v) for k, v in by_path.items()},
        "mutation_response_ms": _summary([c.answered - c.sent for c in changes]),
        "memory_kb": {"before": baseline, "idle_subscribed": idle, "after_run": after_run},
        "bytes_per_idle_subscription": {
            "rss": per_subscription("rss"),
            "pss": per_subscription("pss"),
            "uss": per_subscription("uss"),
        },
        "connect_seconds": round(connect_seconds, 2),
        "subscribe_seconds": subscribe_seconds,
        "delivered_counts": delivered,
        "client_handler_cpu_us_per_message": round(handler_cpu / max(1, received_messages) * 1e6, 1),
        "client_process_cpu_s": [round(d["process_cpu_s"], 2) for d in dumps],
        "server_cpu_s": server_cpu,
        "per_change": per_change,
    }


@dataclass
class FanoutReport:
    name: str
    runs: list[dict[str, Any]]
    details: dict[str, Any] = field(default_factory=dict)

    def render(self) -> str:
        header = (
            f"{'run':<5} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'same p99':>9} {'other p99':>10} "
            f"{'mut p50':>8} {'received/expected':>19} {'errors':>7} {'B/sub RSS':>10} {'B/sub PSS':>10}  worker split"
        )
        lines = [f"== {self.name} ==", header, "-" * (len(header) + 14)]
        for number, run in enumerate(self.runs, 1):
            latency = run["latency_from_response"]
            memory = run["bytes_per_idle_subscription"]
            split = " / ".join(str(v) for _, v in sorted(run["worker_split"].items()))
            path = run["latency_from_response_by_path"]
            lines.append(
                f"{number:<5} {latency['p50_ms']:>8.1f} {latency['p99_ms']:>8.1f} {latency['max_ms']:>8.1f} "
                f"{_fmt(path['same_worker']['p99_ms']):>9} {_fmt(path['other_worker']['p99_ms']):>10} "
                f"{_fmt(run['mutation_response_ms']['p50_ms']):>8} "
                f"{run['received']:>9}/{run['expected']:<9} {run['errors'] + run['unexpected']:>7} "
                f"{memory['rss']:>10.0f} {memory['pss']:>10.0f}  {split}"
            )
        worst = max(r["latency_from_response"]["p99_ms"] for r in self.runs)
        lost = sum(r["lost"] for r in self.runs)
        verdict = "target met" if worst <= TARGET_P99_MS else "TARGET MISSED"
        lines.append(
            "latency = subscriber's receipt - the mutation's HTTP response; same/other = subscribers on the "
            "worker that ran the mutation / on the other one (via Redis); mut = the mutation's own response time"
        )
        lines.append(
            f"{SUBSCRIBERS} subscribers, {WORKERS} workers, {ORDERS} orders x 5 changes; B/sub = memory per "
            f"idle subscription (its connection included)"
        )
        lines.append(
            f"worst p99 {worst:.1f} ms (target <= {TARGET_P99_MS:.0f} ms): {verdict}; lost messages: {lost}"
            + ("" if lost == 0 else "  MESSAGES LOST")
        )
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {"scenario": self.name, "runs": self.runs, **self.details}


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def run(database: PreparedDatabase, spec: LoadSpec, rounds: int) -> FanoutReport:
    """`rounds` whole runs (a fresh gateway each), since one run already makes 15,000 measurements."""
    runs = []
    for number in range(1, max(1, rounds) + 1):
        result = run_once(database)
        latency = result["latency_from_response"]
        print(
            f"  run {number}: p50 {latency['p50_ms']} ms  p99 {latency['p99_ms']} ms  max {latency['max_ms']} ms  "
            f"received {result['received']}/{result['expected']}  errors {result['errors']}  "
            f"{result['bytes_per_idle_subscription']['pss']:.0f} B/subscription (PSS)  split {result['worker_split']}",
            flush=True,
        )
        runs.append(result)
        if result["lost"] or result["errors"] or result["unexpected"]:
            # Kept as a result (the JSON says what went wrong), and shouted in the table.
            print(
                f"  run {number}: LOST {result['lost']}, unexpected {result['unexpected']}, "
                f"errors {result['error_kinds']}: {result['error_samples']}",
                flush=True,
            )
    return FanoutReport(
        NAME,
        runs,
        details={
            "subscription": SUBSCRIPTION,
            "load": {
                "subscribers": SUBSCRIBERS,
                "client_processes": CLIENT_PROCESSES,
                "workers": WORKERS,
                "orders": ORDERS,
                "changes_per_order": 5,
                "spacing_s": SPACING_S,
                "idle_s": IDLE_S,
                "redis_url": REDIS_URL,
                "client": "bench.fanout_load (uvloop, raw asyncio Protocol WebSocket)",
            },
            "target_p99_ms": TARGET_P99_MS,
            "database": {"url": database.url, "products": database.products},
        },
    )
