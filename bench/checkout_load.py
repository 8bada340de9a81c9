"""The checkout load client: N shoppers, each looping cart (3 requests) then checkout: a payment
session then checkoutComplete with it (2 requests), or with `--flow one-step` checkoutComplete alone.

Run as its own process (`python -m bench.checkout_load`) so it never shares the servers' event loop
or GIL. Like `bench.pyload`, raw asyncio streams with keep-alive (one connection per shopper) rather
than httpx, which would cost enough per request to become the bottleneck on a small machine; unlike
it, every response body is read and checked, because each step needs the previous one's answer.

Stock: the client reads in-stock variants (`quantityAvailable >= MIN_VARIANT_STOCK`) page by page
until the pool holds enough units for the whole run at `--max-orders-per-second`, and hands out
one unit per line in rotation, so concurrent carts hold distinct variants and no checkout should
ever meet INSUFFICIENT_STOCK. When the pool is used up the shoppers stop early (`stock_exhausted`).
With `--orders N` the shoppers start N flows between them and stop (the duration is then only a
limit), and the numbers of the orders placed are in the answer: the webhooks scenario checks each
one's delivery. Prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench.pyload import build_request, percentile_ms, read_response
from bench.queries import (
    CART_ADDRESS,
    CART_CREATE,
    CART_SHIPPING,
    FLOWS,
    LINES_PER_CART,
    MIN_VARIANT_STOCK,
    SESSION,
    SHIPPING_ADDRESS,
    STOCK_PAGE,
    place_order,
    request_body,
    shipping_method_id,
    stocked_variants,
)

REQUEST_TIMEOUT = 10.0  # seconds; a request slower than this counts as an error
MAX_STOCK_PAGES = 100  # 100 products each: the whole bench catalogue


class RequestFailed(Exception):
    """One step of a flow failed; `kind` is the error counter it goes to."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


@dataclass
class Tally:
    orders: int = 0
    flows_started: int = 0
    requests: int = 0
    checkout_latencies: list[float] = field(default_factory=list)  # seconds, checkouts that placed an order
    flow_latencies: list[float] = field(default_factory=list)  # seconds, cartCreate sent to order received
    placed: list[int] = field(default_factory=list)  # the numbers of the orders placed
    errors: Counter[str] = field(default_factory=Counter)  # http_status, graphql, socket, timeout, user_error:CODE…
    samples: list[str] = field(default_factory=list)  # the first few error details, to make them readable
    stock_exhausted: bool = False

    def fail(self, failure: RequestFailed) -> None:
        self.errors[failure.kind] += 1
        if len(self.samples) < 5:
            self.samples.append(str(failure)[:300])


class Connection:
    """One keep-alive HTTP/1.1 connection, reopened after any failure."""

    def __init__(self, host: str, port: int, path: str) -> None:
        self.host, self.port, self.path = host, port, path
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def post(self, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port, limit=1 << 22)
        assert self.reader is not None
        self.writer.write(build_request(self.host, self.port, self.path, body))
        status, close, payload = await read_response(self.reader)
        if close:
            self.close()
        return status, payload

    async def call(self, query: str, variables: dict[str, Any], root: str, tally: Tally | None) -> dict[str, Any]:
        """POST one operation; its root field's payload, or RequestFailed naming what went wrong."""
        try:
            status, raw = await asyncio.wait_for(self.post(request_body(query, variables)), REQUEST_TIMEOUT)
        except TimeoutError:
            self.close()
            raise RequestFailed("timeout", root) from None
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, IndexError) as error:
            self.close()
            raise RequestFailed("socket", f"{root}: {error!r}") from None
        finally:
            if tally is not None:
                tally.requests += 1
        if status != 200:
            raise RequestFailed("http_status", f"{root}: HTTP {status}: {raw[:200]!r}")
        try:
            document = json.loads(raw)
        except ValueError:
            raise RequestFailed("http_status", f"{root}: not JSON: {raw[:200]!r}") from None
        if document.get("errors"):
            raise RequestFailed("graphql", f"{root}: {document['errors']}")
        payload = (document.get("data") or {}).get(root)
        if not isinstance(payload, dict):
            raise RequestFailed("graphql", f"{root}: no data")
        user_errors = payload.get("userErrors") or []
        if user_errors:
            raise RequestFailed(f"user_error:{user_errors[0].get('code')}", f"{root}: {user_errors}")
        return payload


class StockPool:
    """Variants handed out one unit at a time, in rotation, never beyond what was available."""

    def __init__(self, variants: list[tuple[str, int]]) -> None:
        self.ids = [variant_id for variant_id, _ in variants]
        self.left = [available for _, available in variants]
        self.cursor = 0

    @property
    def units(self) -> int:
        return sum(self.left)

    def take(self, count: int) -> list[str] | None:
        chosen: list[int] = []
        for _ in range(len(self.ids)):
            index = self.cursor
            self.cursor = (self.cursor + 1) % len(self.ids)
            if self.left[index] > 0:
                chosen.append(index)
                if len(chosen) == count:
                    break
        if len(chosen) < count:
            return None
        for index in chosen:
            self.left[index] -= 1
        return [self.ids[index] for index in chosen]


async def load_pool(connection: Connection, units_wanted: int) -> tuple[StockPool, int]:
    """In-stock variants with at least MIN_VARIANT_STOCK available, until `units_wanted` units; (pool, pages)."""
    variants: list[tuple[str, int]] = []
    units = 0
    after: str | None = None
    pages = 0
    while units < units_wanted and pages < MAX_STOCK_PAGES:
        page = await connection.call(STOCK_PAGE, {"after": after} if after else {}, "products", None)
        pages += 1
        for variant_id, available in stocked_variants(page):
            variants.append((variant_id, available))
            units += available
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    if len(variants) < LINES_PER_CART:
        raise RuntimeError(
            f"only {len(variants)} variants with {MIN_VARIANT_STOCK}+ units available: was the database seeded?"
        )
    return StockPool(variants), pages


async def shopper(
    number: int,
    connection: Connection,
    pool: StockPool,
    stop_at: float,
    tally: Tally,
    flows: int | None,
    payment_flow: str = SESSION,
) -> None:
    clock = time.perf_counter
    email = f"shopper-{number}@example.com"
    while clock() < stop_at and (flows is None or tally.flows_started < flows):
        variant_ids = pool.take(LINES_PER_CART)
        if variant_ids is None:
            tally.stock_exhausted = True
            return
        tally.flows_started += 1
        started = clock()
        try:
            lines = [{"variantId": variant_id, "quantity": 1} for variant_id in variant_ids]
            created = await connection.call(
                CART_CREATE, {"input": {"lines": lines, "email": email}}, "cartCreate", tally
            )
            token = created["cart"]["token"]
            addressed = await connection.call(
                CART_ADDRESS, {"token": token, "address": SHIPPING_ADDRESS}, "cartUpdateShippingAddress", tally
            )
            method = shipping_method_id(addressed["cart"])
            if method is None:
                raise RequestFailed("no_standard_method", f"available: {addressed['cart']['availableShippingMethods']}")
            await connection.call(CART_SHIPPING, {"token": token, "method": method}, "cartUpdateShippingMethod", tally)
            checkout_started = clock()
            completed = await place_order(
                lambda query, variables, root: connection.call(query, variables, root, tally), token, payment_flow
            )
            finished = clock()
            if not completed.get("order"):
                raise RequestFailed("no_order", str(completed))
        except RequestFailed as failure:
            tally.fail(failure)
            continue
        except (KeyError, TypeError) as error:  # an answer without the fields asked for
            tally.fail(RequestFailed("graphql", f"unexpected answer: {error!r}"))
            continue
        tally.orders += 1
        tally.placed.append(completed["order"]["number"])
        tally.checkout_latencies.append(finished - checkout_started)
        tally.flow_latencies.append(finished - started)


async def phase(
    connections: list[Connection],
    pool: StockPool,
    seconds: float,
    flows: int | None = None,
    payment_flow: str = SESSION,
) -> tuple[Tally, float]:
    """The shoppers for `seconds`, or until they have started `flows` flows between them."""
    tally = Tally()
    started = time.perf_counter()
    stop_at = started + seconds
    await asyncio.gather(*(shopper(n, c, pool, stop_at, tally, flows, payment_flow) for n, c in enumerate(connections)))
    return tally, time.perf_counter() - started


async def run(
    host: str,
    port: int,
    path: str,
    shoppers: int,
    duration: float,
    warmup: float,
    max_orders_per_second: float,
    orders: int | None = None,
    payment_flow: str = SESSION,
) -> dict[str, Any]:
    connections = [Connection(host, port, path) for _ in range(shoppers)]
    # Units for the whole run at the assumed ceiling (or for the orders asked for); the shoppers
    # stop early if they outrun it.
    expected = max_orders_per_second * (duration + warmup) if orders is None else orders
    units_wanted = int(LINES_PER_CART * expected) + LINES_PER_CART * shoppers
    pool, pages = await load_pool(connections[0], units_wanted)
    units_at_start, variants = pool.units, len(pool.ids)
    warm = Tally()
    if warmup > 0:
        warm, _ = await phase(connections, pool, warmup, payment_flow=payment_flow)
    tally, elapsed = await phase(connections, pool, duration, orders, payment_flow)
    for connection in connections:
        connection.close()
    checkout = sorted(tally.checkout_latencies)
    flow = sorted(tally.flow_latencies)
    counted = {"placed": tally.placed} if orders is not None else {}
    return {
        **counted,
        "flow": payment_flow,
        "orders": tally.orders,
        "elapsed_s": elapsed,
        "orders_per_s": tally.orders / elapsed if elapsed > 0 else 0.0,
        "flows_started": tally.flows_started,
        "requests": tally.requests,
        "checkout_p50_ms": percentile_ms(checkout, 0.50),
        "checkout_p99_ms": percentile_ms(checkout, 0.99),
        "checkout_max_ms": round(checkout[-1] * 1000, 3) if checkout else None,
        "flow_p50_ms": percentile_ms(flow, 0.50),
        "flow_p99_ms": percentile_ms(flow, 0.99),
        "flow_max_ms": round(flow[-1] * 1000, 3) if flow else None,
        "errors": sum(tally.errors.values()),
        "error_kinds": dict(tally.errors),
        "error_samples": tally.samples,
        "warmup": {
            "orders": warm.orders,
            "errors": sum(warm.errors.values()),
            "error_kinds": dict(warm.errors),
            "error_samples": warm.samples,
        },
        "stock": {
            "pages_read": pages,
            "variants": variants,
            "units_at_start": units_at_start,
            "units_left": pool.units,
            "min_variant_stock": MIN_VARIANT_STOCK,
            "exhausted": tally.stock_exhausted or warm.stock_exhausted,
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.checkout_load")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/graphql")
    parser.add_argument("--shoppers", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument(
        "--max-orders-per-second",
        type=float,
        default=400.0,
        help="the stock pool is sized for this rate over warm-up + duration (400)",
    )
    parser.add_argument(
        "--orders", type=int, default=None, help="start this many flows, then stop (the duration is a limit)"
    )
    parser.add_argument(
        "--flow", choices=FLOWS, default=SESSION, help="how shoppers pay: a payment session, or one call (session)"
    )
    args = parser.parse_args(argv)
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    result = runner(
        run(
            args.host,
            args.port,
            args.path,
            args.shoppers,
            args.duration,
            args.warmup,
            args.max_orders_per_second,
            args.orders,
            args.flow,
        )
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
