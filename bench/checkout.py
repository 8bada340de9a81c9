"""Scenario `checkout`: orders per second through the public GraphQL API, as a storefront places them.

The real gateway under uvicorn with 2 workers on the bench database (seeded once, by the run's
preparation). Each order is a fresh 3-line cart: cartCreate, cartUpdateShippingAddress,
cartUpdateShippingMethod ("Standard"), then checkoutComplete with the test card; the client is
`bench.checkout_load`, its own process. No floor and no target: the figure is the result.
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
    LINES_PER_CART,
    PAYMENT,
    SHIPPING_ADDRESS,
    SHIPPING_METHOD_NAME,
    STOCK_PAGE,
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


@dataclass
class CheckoutReport:
    name: str
    label: str
    runs: list[dict[str, Any]]
    sql_per_checkout: int | None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def best(self) -> dict[str, Any]:
        # As for the listing: the run least disturbed by the other tenants of a shared machine.
        return max(self.runs, key=lambda r: r["orders_per_s"])

    @property
    def errors(self) -> int:
        """Every failed flow of every run, warm-ups included: a checkout that breaks is never noise."""
        return sum(r["errors"] + r["warmup"]["errors"] for r in self.runs)

    @property
    def orders(self) -> int:
        return sum(r["orders"] + r["warmup"]["orders"] for r in self.runs)

    def error_kinds(self) -> dict[str, int]:
        kinds: dict[str, int] = {}
        for run in self.runs:
            for source in (run["error_kinds"], run["warmup"]["error_kinds"]):
                for kind, count in source.items():
                    kinds[kind] = kinds.get(kind, 0) + count
        return kinds

    def render(self) -> str:
        header = (
            f"{'scenario':<28} {'orders/s':>9} {'chk p50':>8} {'chk p99':>8} {'flow p50':>9} "
            f"{'flow p99':>9} {'SQL/chk':>8} {'errors':>7}"
        )
        best = self.best
        sql = "-" if self.sql_per_checkout is None else str(self.sql_per_checkout)
        lines = [
            f"== {self.name} ==",
            header,
            "-" * len(header),
            f"{self.label:<28} {best['orders_per_s']:>9.1f} {_fmt(best['checkout_p50_ms']):>8} "
            f"{_fmt(best['checkout_p99_ms']):>8} {_fmt(best['flow_p50_ms']):>9} {_fmt(best['flow_p99_ms']):>9} "
            f"{sql:>8} {self.errors:>7}",
            "latencies in ms: chk = the checkoutComplete request alone, flow = cartCreate … checkoutComplete "
            "(4 requests)",
        ]
        kinds = self.error_kinds()
        stock = self.runs[-1]["stock"]
        lines.append(
            f"{self.orders} orders placed in {len(self.runs)} runs (warm-ups included); errors: "
            + (", ".join(f"{k} {v}" for k, v in sorted(kinds.items())) if kinds else "none")
            + f"; stock pool of the last run: {stock['variants']} variants, "
            f"{stock['units_left']}/{stock['units_at_start']} units left"
        )
        if any(r["stock"]["exhausted"] for r in self.runs):
            lines.append("WARNING: the stock pool ran out before the end of a run; raise --max-orders-per-second")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.name,
            "rows": [
                {
                    "label": self.label,
                    "sql_per_checkout": self.sql_per_checkout,
                    "best": _rounded(self.best),
                    "runs": [_rounded(r) for r in self.runs],
                    "errors_all_runs": self.errors,
                    "error_kinds_all_runs": self.error_kinds(),
                    "orders_all_runs": self.orders,
                }
            ],
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


async def _one_order(variant_ids: list[str], settings: Any) -> tuple[list[str], dict[str, Any]]:
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
    with _counting() as counter:
        placed = await _execute(CHECKOUT_COMPLETE, {"token": token, "payment": PAYMENT}, "checkoutComplete", settings)
    if not placed.get("order"):
        raise RuntimeError(f"checkoutComplete placed no order while counting SQL: {placed}")
    return list(counter.statements), placed["order"]


async def _count_sql(database_url: str, settings: Any) -> tuple[list[str], dict[str, Any]]:
    """Statements of one checkoutComplete, in-process against the same database (the second of two orders)."""
    async with tortoise(database_url):
        page = await _execute(STOCK_PAGE, {}, "products", settings)
        variants = [variant_id for variant_id, _ in stocked_variants(page)]
        if len(variants) < 2 * LINES_PER_CART:
            raise RuntimeError("too few in-stock variants to count the checkout's SQL: was the database seeded?")
        await _one_order(variants[-LINES_PER_CART:], settings)  # warms the pool and the caches
        return await _one_order(variants[-2 * LINES_PER_CART : -LINES_PER_CART], settings)


def run_client(server: servers.Server, spec: LoadSpec, orders: int | None = None) -> dict[str, Any]:
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

    runs: list[dict[str, Any]] = []
    with ExitStack() as stack:
        gateway = servers.start("gateway", GATEWAY_APP, env, workers=WORKERS)
        stack.callback(gateway.stop)
        servers.wait_healthy(gateway)
        for round_number in range(1, rounds + 1):
            result = run_client(gateway, spec)
            runs.append(result)
            print(
                f"  round {round_number}: gateway  {result['orders_per_s']:9.1f} orders/s  "
                f"checkout p50 {_fmt(result['checkout_p50_ms'])} ms  p99 {_fmt(result['checkout_p99_ms'])} ms  "
                f"flow p50 {_fmt(result['flow_p50_ms'])} ms  errors {result['errors'] + result['warmup']['errors']}",
                flush=True,
            )
            if gateway.process.poll() is not None:
                raise RuntimeError(f"the gateway died during the run:\n{gateway.log_tail()}")
            if result["orders"] == 0:
                raise RuntimeError(
                    f"no order was placed in round {round_number}; first errors: {result['error_samples']}\n"
                    f"{gateway.log_tail()}"
                )

    return CheckoutReport(
        name=NAME,
        label=f"gateway ({WORKERS} workers)",
        runs=runs,
        sql_per_checkout=len(statements),
        details={
            "flow": {
                "cartCreate": CART_CREATE,
                "cartUpdateShippingAddress": CART_ADDRESS,
                "cartUpdateShippingMethod": CART_SHIPPING,
                "checkoutComplete": CHECKOUT_COMPLETE,
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
            "sql_statements_checkout_complete": statements,
            "sql_sample_order": sample_order,
            "database": {
                "url": database.url,
                "products": database.products,
                "migrate_seconds": round(database.migrate_seconds, 3),
                "seed_seconds": round(database.seed_seconds, 3),
            },
        },
    )
