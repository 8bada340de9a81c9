"""Scenario `checkout`: orders per second through the public GraphQL API, as a storefront places them.

The real gateway under uvicorn with 2 workers on the bench database (seeded once, by the run's
preparation). Each order is a fresh 3-line cart: cartCreate, cartUpdateShippingAddress,
cartUpdateShippingMethod ("Standard"), then the payment with the test card, two ways in the same
run: a payment session (checkoutPaymentInitialize, then checkoutComplete with its payment, as a
storefront with a card form pays) and the one-step checkoutComplete, in alternating rounds so both
meet the same machine. The client is `bench.checkout_load`, its own process. The target: the
session flow within 15% of the one-step flow's orders/s. SQL statements are counted in-process for
each request that pays, for carts of 1, 3 and 6 lines: the count must not grow with the lines.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from bench import PYTHON, ROOT
from bench.database import PreparedDatabase, gateway_env
from bench.load import LoadSpec
from bench.queries import (
    CART_ADDRESS,
    CART_CREATE,
    CART_SHIPPING,
    CHECKOUT_COMPLETE,
    CHECKOUT_WITH_PAYMENT,
    FLOWS,
    LINES_PER_CART,
    ONE_STEP,
    PAYMENT,
    PAYMENT_INITIALIZE,
    SESSION,
    SHIPPING_ADDRESS,
    SHIPPING_METHOD_NAME,
    STOCK_PAGE,
    place_order,
    shipping_method_id,
    stocked_variants,
)
from bench.sqlcount import _counting, tortoise
from gateway.settings import load_settings
from schema import schema
from schema.context import Context
from testbed import servers

NAME = "checkout"
GATEWAY_APP = "gateway.app:app"
WORKERS = 2
COUNTED_LINES = (1, LINES_PER_CART, 2 * LINES_PER_CART)  # cart sizes whose statements are counted
TARGET_RATIO = 0.85  # the session flow's orders/s at least this share of the one-step flow's


@dataclass
class CheckoutReport:
    name: str
    label: str
    runs: dict[str, list[dict[str, Any]]]  # by flow
    statements: dict[str, dict[int, dict[str, int]]]  # flow -> lines -> operation -> SQL statements
    details: dict[str, Any] = field(default_factory=dict)

    def best(self, flow: str) -> dict[str, Any]:
        # As for the listing: the run least disturbed by the other tenants of a shared machine.
        return max(self.runs[flow], key=lambda r: r["orders_per_s"])

    @property
    def ratio(self) -> float:
        """The session flow's best orders/s over the one-step flow's."""
        one_step = self.best(ONE_STEP)["orders_per_s"]
        return self.best(SESSION)["orders_per_s"] / one_step if one_step else 0.0

    @property
    def paired_ratios(self) -> list[float]:
        """Round by round (each pair ran back to back): session over one-step."""
        return [
            s["orders_per_s"] / o["orders_per_s"] if o["orders_per_s"] else 0.0
            for s, o in zip(self.runs[SESSION], self.runs[ONE_STEP], strict=True)
        ]

    def sql(self, flow: str, lines: int = LINES_PER_CART) -> int:
        return sum(self.statements[flow][lines].values())

    @property
    def constant_in_lines(self) -> bool:
        return all(len({self.sql(flow, lines) for lines in COUNTED_LINES}) == 1 for flow in FLOWS)

    def _all_runs(self) -> list[dict[str, Any]]:
        return [run for runs in self.runs.values() for run in runs]

    @property
    def errors(self) -> int:
        """Every failed flow of every run, warm-ups included: a checkout that breaks is never noise."""
        return sum(r["errors"] + r["warmup"]["errors"] for r in self._all_runs())

    @property
    def orders(self) -> int:
        return sum(r["orders"] + r["warmup"]["orders"] for r in self._all_runs())

    def error_kinds(self) -> dict[str, int]:
        kinds: dict[str, int] = {}
        for run in self._all_runs():
            for source in (run["error_kinds"], run["warmup"]["error_kinds"]):
                for kind, count in source.items():
                    kinds[kind] = kinds.get(kind, 0) + count
        return kinds

    def render(self) -> str:
        header = (
            f"{'scenario':<34} {'orders/s':>9} {'chk p50':>8} {'chk p99':>8} {'flow p50':>9} "
            f"{'flow p99':>9} {'SQL/chk':>8} {'errors':>7}"
        )
        lines = [f"== {self.name} ==", header, "-" * len(header)]
        for flow in FLOWS:
            best = self.best(flow)
            errors = sum(r["errors"] + r["warmup"]["errors"] for r in self.runs[flow])
            lines.append(
                f"{self.label + ', ' + flow:<34} {best['orders_per_s']:>9.1f} {_fmt(best['checkout_p50_ms']):>8} "
                f"{_fmt(best['checkout_p99_ms']):>8} {_fmt(best['flow_p50_ms']):>9} {_fmt(best['flow_p99_ms']):>9} "
                f"{self.sql(flow):>8} {errors:>7}"
            )
        pairs = ", ".join(f"{r:.2f}" for r in self.paired_ratios)
        verdict = "met" if self.ratio >= TARGET_RATIO else "NOT MET"
        lines += [
            "latencies in ms: chk = the requests that pay (session: checkoutPaymentInitialize + checkoutComplete), "
            "flow = cartCreate … checkoutComplete",
            f"session / one-step orders/s: best {self.ratio:.2f} (round by round: {pairs}); target >= "
            f"{TARGET_RATIO:.2f}: {verdict}",
        ]
        for flow in FLOWS:
            counts = "; ".join(
                f"{lines} line{'s' if lines > 1 else ''}: "
                + " + ".join(f"{op} {n}" for op, n in self.statements[flow][lines].items())
                for lines in COUNTED_LINES
            )
            lines.append(f"SQL statements, {flow}: {counts}")
        lines.append("statements constant in the number of lines: " + ("yes" if self.constant_in_lines else "NO"))
        kinds = self.error_kinds()
        stock = self.runs[SESSION][-1]["stock"]
        lines.append(
            f"{self.orders} orders placed in {len(self._all_runs())} runs (warm-ups included); errors: "
            + (", ".join(f"{k} {v}" for k, v in sorted(kinds.items())) if kinds else "none")
            + f"; stock pool of the last session run: {stock['variants']} variants, "
            f"{stock['units_left']}/{stock['units_at_start']} units left"
        )
        if any(r["stock"]["exhausted"] for r in self._all_runs()):
            lines.append("WARNING: the stock pool ran out before the end of a run; raise --max-orders-per-second")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.name,
            "rows": [
                {
                    "label": f"{self.label}, {flow}",
                    "flow": flow,
                    "sql_per_checkout": self.sql(flow),
                    "sql_by_lines": {str(n): ops for n, ops in self.statements[flow].items()},
                    "best": _rounded(self.best(flow)),
                    "runs": [_rounded(r) for r in self.runs[flow]],
                }
                for flow in FLOWS
            ],
            "session_over_one_step": {
                "best": round(self.ratio, 3),
                "paired": [round(r, 3) for r in self.paired_ratios],
                "target": TARGET_RATIO,
                "met": self.ratio >= TARGET_RATIO,
            },
            "sql_constant_in_lines": self.constant_in_lines,
            "errors_all_runs": self.errors,
            "error_kinds_all_runs": self.error_kinds(),
            "orders_all_runs": self.orders,
            **self.details,
        }


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _rounded(run: dict[str, Any]) -> dict[str, Any]:
    return {**run, "elapsed_s": round(run["elapsed_s"], 3), "orders_per_s": round(run["orders_per_s"], 2)}


async def _execute(query: str, variables: dict[str, Any], root: str, settings: Any) -> dict[str, Any]:
    # A fresh Context per operation, as for one HTTP request.
    context = Context(currency=settings.store_currency, prices_include_tax=settings.prices_include_tax)
    result = await schema.execute(query, variable_values=variables, context_value=context)
    if result.errors:
        raise RuntimeError(f"{root} failed while counting SQL: {result.errors}")
    payload = (result.data or {})[root]
    if isinstance(payload, dict) and payload.get("userErrors"):
        raise RuntimeError(f"{root} returned userErrors while counting SQL: {payload['userErrors']}")
    return payload


async def _one_order(variant_ids: list[str], settings: Any, flow: str) -> tuple[dict[str, int], dict[str, Any]]:
    """Place one order of these variants; the statements of each request that pays, by its root field."""
    lines = [{"variantId": v, "quantity": 1} for v in variant_ids]
    cart = await _execute(
        CART_CREATE, {"input": {"lines": lines, "email": "sqlcount@example.com"}}, "cartCreate", settings
    )
    token = cart["cart"]["token"]
    addressed = await _execute(
        CART_ADDRESS, {"token": token, "address": SHIPPING_ADDRESS}, "cartUpdateShippingAddress", settings
    )
    method = shipping_method_id(addressed["cart"])
    if method is None:
        raise RuntimeError(
            f"no {SHIPPING_METHOD_NAME!r} shipping method for the cart; "
            f"available: {addressed['cart']['availableShippingMethods']}"
        )
    await _execute(CART_SHIPPING, {"token": token, "method": method}, "cartUpdateShippingMethod", settings)
    counted: dict[str, int] = {}

    async def call(query: str, variables: dict[str, Any], root: str) -> dict[str, Any]:
        with _counting() as counter:
            payload = await _execute(query, variables, root, settings)
        counted[root] = len(counter.statements)
        return payload

    placed = await place_order(call, token, flow)
    if not placed.get("order"):
        raise RuntimeError(f"checkoutComplete placed no order while counting SQL: {placed}")
    return counted, placed["order"]


async def _count_sql(database_url: str, settings: Any) -> tuple[dict[str, dict[int, dict[str, int]]], dict[str, Any]]:
    """Statements of the requests that pay, in-process against the same database, per flow and cart size."""
    wanted = 1 + sum(COUNTED_LINES) * len(FLOWS)
    async with tortoise(database_url):
        page = await _execute(STOCK_PAGE, {}, "products", settings)
        variants = [variant_id for variant_id, _ in stocked_variants(page)]
        if len(variants) < wanted:
            raise RuntimeError("too few in-stock variants to count the checkout's SQL: was the database seeded?")
        await _one_order(variants[-1:], settings, SESSION)  # warms the pool and the caches
        variants = variants[:-1]
        counts: dict[str, dict[int, dict[str, int]]] = {flow: {} for flow in FLOWS}
        sample: dict[str, Any] = {}
        for flow in FLOWS:
            for lines in COUNTED_LINES:
                taken, variants = variants[-lines:], variants[:-lines]
                counts[flow][lines], sample = await _one_order(taken, settings, flow)
        return counts, sample


def run_client(
    server: servers.Server, spec: LoadSpec, orders: int | None = None, flow: str = SESSION
) -> dict[str, Any]:
    """`bench.checkout_load` against `server` as `spec` says (and `--orders`, when given); its answer."""
    seconds = spec.warmup + spec.duration
    command = [
        PYTHON,
        "-m",
        "bench.checkout_load",
        "--host",
        server.host,
        "--port",
        str(server.port),
        "--path",
        spec.path,
        "--shoppers",
        str(spec.connections),
        "--duration",
        str(spec.duration),
        "--warmup",
        str(spec.warmup),
        "--flow",
        flow,
        *(["--orders", str(orders)] if orders is not None else []),
    ]
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=seconds + 120)
    except subprocess.TimeoutExpired as error:
        raise RuntimeError(f"bench.checkout_load did not finish within {seconds + 120:.0f}s") from error
    if done.returncode != 0:
        raise RuntimeError(f"bench.checkout_load failed with exit code {done.returncode}:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(database: PreparedDatabase, spec: LoadSpec, rounds: int) -> CheckoutReport:
    env = gateway_env(database.url)
    settings = load_settings(env)

    # Counted first: a broken flow fails here, before any server starts.
    statements, sample_order = asyncio.run(_count_sql(database.url, settings))

    runs: dict[str, list[dict[str, Any]]] = {flow: [] for flow in FLOWS}
    with ExitStack() as stack:
        gateway = servers.start("gateway", GATEWAY_APP, env, workers=WORKERS)
        stack.callback(gateway.stop)
        servers.wait_healthy(gateway)
        for round_number in range(1, rounds + 1):
            # Alternating which goes first, so neither always meets a warmer (or busier) machine.
            order = FLOWS if round_number % 2 else FLOWS[::-1]
            for flow in order:
                result = run_client(gateway, spec, flow=flow)
                runs[flow].append(result)
                print(
                    f"  round {round_number}: {flow:<8} {result['orders_per_s']:9.1f} orders/s  "
                    f"checkout p50 {_fmt(result['checkout_p50_ms'])} ms  p99 {_fmt(result['checkout_p99_ms'])} ms  "
                    f"flow p50 {_fmt(result['flow_p50_ms'])} ms  errors {result['errors'] + result['warmup']['errors']}",
                    flush=True,
                )
                if gateway.process.poll() is not None:
                    raise RuntimeError(f"the gateway died during the run:\n{gateway.log_tail()}")
                if result["orders"] == 0:
                    raise RuntimeError(
                        f"no order was placed in round {round_number} ({flow}); first errors: "
                        f"{result['error_samples']}\n{gateway.log_tail()}"
                    )

    return CheckoutReport(
        name=NAME,
        label=f"gateway ({WORKERS} workers)",
        runs=runs,
        statements=statements,
        details={
            "flow": {
                "cartCreate": CART_CREATE,
                "cartUpdateShippingAddress": CART_ADDRESS,
                "cartUpdateShippingMethod": CART_SHIPPING,
                "checkoutPaymentInitialize": PAYMENT_INITIALIZE,
                "checkoutComplete (session)": CHECKOUT_WITH_PAYMENT,
                "checkoutComplete (one-step)": CHECKOUT_COMPLETE,
                "lines_per_cart": LINES_PER_CART,
                "quantity_per_line": 1,
                "payment": PAYMENT,
                "shipping_method": SHIPPING_METHOD_NAME,
                "country": SHIPPING_ADDRESS["country"],
            },
            "load": {
                "shoppers": spec.connections,
                "duration_s": spec.duration,
                "warmup_s": spec.warmup,
                "rounds": rounds,
                "workers": WORKERS,
                "client": "bench.checkout_load (asyncio, keep-alive)",
            },
            "sql_sample_order": sample_order,
            "database": {
                "url": database.url,
                "products": database.products,
                "migrate_seconds": round(database.migrate_seconds, 3),
                "seed_seconds": round(database.seed_seconds, 3),
            },
        },
    )
