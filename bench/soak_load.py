"""The soak's traffic: browsing, carts, checkouts and live subscriptions at once, minute after minute.

Longer than 400 lines: the four kinds of shopper share their connections and counters, and read
best side by side.

Run as its own process (`python -m bench.soak_load`) so it never shares the servers' event loops or
GIL. HTTP goes over `bench.checkout_load`'s raw keep-alive connections; WebSockets through the
`websockets` library (what the tests use), since the soak counts messages rather than timing them.

The shoppers of each kind loop without pause:

- browsers: a listing page (one of the first LISTING_PAGES), a product page (one of PRODUCT_PAGES
  products) or a search (a word from those products' names); anonymous, so mostly cache hits.
  The set is fixed so the cache reaches its working size during warm-up: what grows after that
  is not the cache filling up;
- cart users: cartCreate, cartLinesAdd, cartLinesUpdate, cartLinesRemove, then read the cart, on
  variants the checkouts never take, so availability never refuses them;
- buyers: a 3-line cart, address, shipping method, checkoutComplete with the test card;
- trackers: take an order a buyer just placed, follow it with `orderStatusChanged` on a WebSocket
  while the staff account ships and delivers it, and expect each status to arrive; every other
  order on a new connection, so connections open and close all the time;
- staff listeners: `orderEvents` on a WebSocket, counting every order change; each reconnects
  every LISTENER_RECONNECT_S with a fresh access token.

At the end of each minute one JSON line goes to stdout with that minute's requests by kind,
messages received and errors (anything but the expected answer); the harness reads the server's
memory when it sees it. Before the first minute a `ready` line says setup is done.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import sys
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

from bench.checkout_load import Connection, RequestFailed, StockPool, load_pool
from bench.fanout import PLACE, SHIP, STAFF_EMAIL, STAFF_PASSWORD, TOKEN_CREATE, TRACK
from bench.pyload import build_request, read_response
from bench.queries import (
    CART_ADDRESS,
    CART_CREATE,
    CART_SHIPPING,
    LINES_PER_CART,
    PAYMENT,
    SHIPPING_ADDRESS,
    shipping_method_id,
)

BROWSERS, CART_USERS, BUYERS, TRACKERS, LISTENERS = 4, 2, 2, 2, 2
LISTING_PAGES = 10  # of 20 products each
PRODUCT_PAGES = 1000
CART_VARIANTS = 200  # kept apart from the checkout pool
MAX_ORDERS_PER_SECOND = 30.0  # the checkout pool is sized for this rate
EVENT_TIMEOUT_S = 15.0  # for each status a tracker expects
LISTENER_RECONNECT_S = 60.0
STAFF_TOKEN_REFRESH_S = 300.0  # access tokens live 15 minutes
ORDERS_WAITING = 50  # placed orders kept for the trackers; older ones are not tracked

BROWSE_LISTING = (
    "query Browse($after: String) { products(first: 20, after: $after) { edges { node { id name slug "
    "priceRange { min { amount currency } } images { url altText } } } pageInfo { hasNextPage endCursor } } }"
)
PRODUCT_PAGE = (
    "query ProductPage($slug: String!) { product(slug: $slug) { id name description category { name slug } "
    "images { url altText } variants { id sku name price { amount currency } compareAtPrice { amount currency } "
    "quantityAvailable availableForSale } } }"
)
SEARCH = (
    "query Search($q: String!) { products(first: 10, search: $q) { totalCount edges { node { id name slug "
    "priceRange { min { amount currency } } } } } }"
)
CART_FIELDS = (
    "cart { token lines { id quantity variant { id } } total { amount currency } } userErrors { field code message }"
)
CART_START = f"mutation CartStart($input: CartCreateInput) {{ cartCreate(input: $input) {{ {CART_FIELDS} }} }}"
CART_ADD = (
    f"mutation CartAdd($token: ID!, $lines: [CartLineInput!]!) {{ "
    f"cartLinesAdd(cartToken: $token, lines: $lines) {{ {CART_FIELDS} }} }}"
)
CART_UPDATE = (
    f"mutation CartUpdate($token: ID!, $lines: [CartLineUpdateInput!]!) {{ "
    f"cartLinesUpdate(cartToken: $token, lines: $lines) {{ {CART_FIELDS} }} }}"
)
CART_REMOVE = (
    f"mutation CartRemove($token: ID!, $ids: [ID!]!) {{ "
    f"cartLinesRemove(cartToken: $token, lineIds: $ids) {{ {CART_FIELDS} }} }}"
)
CART_READ = "query CartRead($token: ID!) { cart(token: $token) { token totalQuantity subtotal { amount currency } } }"
ORDER_STATUS = "subscription Track($token: ID!) { orderStatusChanged(orderToken: $token) { id status } }"
ORDER_EVENTS = "subscription Watch { orderEvents { id number status } }"


@dataclass
class Minute:
    """What one minute of traffic did; swapped for a fresh one at each minute's end."""

    requests: Counter[str] = field(default_factory=Counter)  # by kind: browse, cart, checkout, staff
    messages: Counter[str] = field(default_factory=Counter)  # WebSocket data messages: tracked, order_events
    connections: int = 0  # WebSocket connections opened
    orders: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)

    def fail(self, kind: str, detail: str) -> None:
        self.errors[kind] += 1
        if len(self.samples) < 5:
            self.samples.append(f"{kind}: {detail}"[:300])

    def as_dict(self, number: int) -> dict[str, Any]:
        return {
            "event": "minute",
            "minute": number,
            "requests": dict(self.requests),
            "messages": dict(self.messages),
            "connections": self.connections,
            "orders": self.orders,
            "errors": sum(self.errors.values()),
            "error_kinds": dict(self.errors),
            "error_samples": self.samples,
        }


class SignedIn(Connection):
    """A keep-alive connection that sends the staff account's access token with every request."""

    def __init__(self, host: str, port: int, path: str) -> None:
        super().__init__(host, port, path)
        self.bearer = ""

    async def post(self, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port, limit=1 << 22)
        assert self.reader is not None
        # No header before the first sign-in: an empty bearer is refused (401), as any invalid one.
        authorization = f"Authorization: Bearer {self.bearer}\r\n" if self.bearer else ""
        self.writer.write(build_request(self.host, self.port, self.path, body, authorization))
        status, close, payload = await read_response(self.reader)
        if close:
            self.close()
        return status, payload


class Soak:
    """The shared state of every shopper: the clock, the current minute, the data they pick from."""

    def __init__(self, host: str, port: int, path: str, stop_at: float) -> None:
        self.host, self.port, self.path = host, port, path
        self.ws_url = f"ws://{host}:{port}{path}"
        self.stop_at = stop_at
        self.minute = Minute()
        self.cursors: list[str | None] = [None]
        self.slugs: list[str] = []
        self.words: list[str] = []
        self.cart_variants: list[str] = []
        self.pool = StockPool([])
        self.orders: deque[dict[str, Any]] = deque(maxlen=ORDERS_WAITING)
        self.staff = SignedIn(host, port, path)
        self.staff_token = ""
        self.staff_lock = asyncio.Lock()  # one staff request at a time on its one connection

    @property
    def running(self) -> bool:
        return time.monotonic() < self.stop_at

    async def call(
        self, connection: Connection, kind: str, query: str, variables: dict[str, Any], root: str
    ) -> dict[str, Any]:
        self.minute.requests[kind] += 1
        return await connection.call(query, variables, root, None)

    async def staff_call(self, query: str, variables: dict[str, Any], root: str) -> dict[str, Any]:
        async with self.staff_lock:
            return await self.call(self.staff, "staff", query, variables, root)

    async def sign_in(self) -> None:
        async with self.staff_lock:
            signed_in = await self.call(
                self.staff, "staff", TOKEN_CREATE, {"email": STAFF_EMAIL, "password": STAFF_PASSWORD}, "tokenCreate"
            )
            self.staff_token = self.staff.bearer = signed_in["accessToken"]

    async def prepare(self, seconds: float) -> None:
        """Sign in, and read what the shoppers pick from through the API, as a storefront would."""
        await self.sign_in()
        setup = Connection(self.host, self.port, self.path)
        try:
            while len(self.cursors) < LISTING_PAGES:
                page = await self.call(setup, "browse", BROWSE_LISTING, {"after": self.cursors[-1]}, "products")
                self.cursors.append(page["pageInfo"]["endCursor"])
            after: str | None = None
            while len(self.slugs) < PRODUCT_PAGES:
                page = await self.call(
                    setup,
                    "browse",
                    "query Slugs($after: String) { products(first: 100, after: "
                    "$after) { edges { node { slug name } } pageInfo { hasNextPage endCursor } } }",
                    {"after": after},
                    "products",
                )
                for edge in page["edges"]:
                    self.slugs.append(edge["node"]["slug"])
                    self.words.extend(re.findall(r"[A-Za-z]{4,}", edge["node"]["name"]))
                if not page["pageInfo"]["hasNextPage"]:
                    break
                after = page["pageInfo"]["endCursor"]
            self.words = sorted(set(self.words))[:200]
            units = int(LINES_PER_CART * MAX_ORDERS_PER_SECOND * seconds)
            pool, _ = await load_pool(setup, units + CART_VARIANTS * 20)
            self.cart_variants, pool_variants = (
                pool.ids[:CART_VARIANTS],
                list(zip(pool.ids, pool.left, strict=True))[CART_VARIANTS:],
            )
            self.pool = StockPool(pool_variants)
        finally:
            setup.close()
        if not self.slugs or not self.words or len(self.cart_variants) < CART_VARIANTS:
            raise RuntimeError("the catalogue is too small for the soak: was the database seeded?")

    # -- the shoppers ---------------------------------------------------------------------------------

    async def loop(self, kind: str, flow: Any) -> None:
        """Run `flow` until the end, counting what breaks; one connection, reopened after a failure."""
        connection = Connection(self.host, self.port, self.path)
        try:
            while self.running:
                try:
                    await flow(connection)
                except RequestFailed as failure:
                    self.minute.fail(f"{kind}:{failure.kind}", failure.detail)
                    if failure.kind == "stock_exhausted":
                        return  # nothing left to buy: the rest of the soak goes on without buyers
                except (KeyError, TypeError, IndexError) as error:  # an answer without the fields asked for
                    self.minute.fail(f"{kind}:answer", repr(error))
        finally:
            connection.close()

    async def browse(self, connection: Connection) -> None:
        choice = random.random()
        if choice < 0.3:
            page = await self.call(
                connection, "browse", BROWSE_LISTING, {"after": random.choice(self.cursors)}, "products"
            )
            if not page["edges"]:
                raise RequestFailed("empty_listing")
        elif choice < 0.8:
            # A product that is gone answers null, which `call` counts as an error.
            await self.call(connection, "browse", PRODUCT_PAGE, {"slug": random.choice(self.slugs)}, "product")
        else:
            await self.call(connection, "browse", SEARCH, {"q": random.choice(self.words)}, "products")

    async def cart(self, connection: Connection) -> None:
        first, second, third = random.sample(self.cart_variants, 3)
        created = await self.call(
            connection, "cart", CART_START, {"input": {"lines": [{"variantId": first, "quantity": 1}]}}, "cartCreate"
        )
        token = created["cart"]["token"]
        added = await self.call(
            connection,
            "cart",
            CART_ADD,
            {"token": token, "lines": [{"variantId": second, "quantity": 2}, {"variantId": third, "quantity": 1}]},
            "cartLinesAdd",
        )
        lines = added["cart"]["lines"]
        if len(lines) != 3:
            raise RequestFailed("cart_lines", f"expected 3 lines, got {lines}")
        await self.call(
            connection,
            "cart",
            CART_UPDATE,
            {"token": token, "lines": [{"lineId": lines[0]["id"], "quantity": 3}]},
            "cartLinesUpdate",
        )
        removed = await self.call(
            connection, "cart", CART_REMOVE, {"token": token, "ids": [lines[1]["id"]]}, "cartLinesRemove"
        )
        if len(removed["cart"]["lines"]) != 2:
            raise RequestFailed("cart_lines", f"expected 2 lines after a removal, got {removed['cart']['lines']}")
        read = await self.call(connection, "cart", CART_READ, {"token": token}, "cart")
        if read["totalQuantity"] != 4:
            raise RequestFailed("cart_quantity", f"expected 4 units, got {read}")

    async def buy(self, connection: Connection) -> None:
        variants = self.pool.take(LINES_PER_CART)
        if variants is None:
            raise RequestFailed("stock_exhausted", "raise MAX_ORDERS_PER_SECOND")
        lines = [{"variantId": v, "quantity": 1} for v in variants]
        created = await self.call(
            connection, "checkout", CART_CREATE, {"input": {"lines": lines, "email": "soak@example.com"}}, "cartCreate"
        )
        token = created["cart"]["token"]
        addressed = await self.call(
            connection,
            "checkout",
            CART_ADDRESS,
            {"token": token, "address": SHIPPING_ADDRESS},
            "cartUpdateShippingAddress",
        )
        method = shipping_method_id(addressed["cart"])
        if method is None:
            raise RequestFailed("no_standard_method", str(addressed["cart"]))
        await self.call(
            connection, "checkout", CART_SHIPPING, {"token": token, "method": method}, "cartUpdateShippingMethod"
        )
        placed = await self.call(
            connection, "checkout", PLACE, {"token": token, "payment": PAYMENT}, "checkoutComplete"
        )
        order = placed.get("order")
        if not order:
            raise RequestFailed("no_order", str(placed))
        self.minute.orders += 1
        self.orders.append(order)

    # -- live subscriptions ---------------------------------------------------------------------------

    async def track(self) -> None:
        """Follow placed orders through shipping and delivery, a new connection every other order."""
        socket: ClientConnection | None = None
        followed = 0
        try:
            while self.running:
                if not self.orders:
                    await asyncio.sleep(0.2)
                    continue
                order = self.orders.popleft()
                try:
                    if socket is None:
                        socket = await self._open()
                    await self._follow(socket, str(followed), order)
                except RequestFailed as failure:
                    self.minute.fail(f"track:{failure.kind}", failure.detail)
                    await self._close(socket)  # what is still on its way belongs to the failed order
                    socket = None
                except (TimeoutError, OSError, WebSocketException, KeyError, TypeError) as error:
                    self.minute.fail("track:websocket", repr(error))
                    await self._close(socket)
                    socket = None
                followed += 1
                if followed % 2 == 0:
                    await self._close(socket)
                    socket = None
        finally:
            await self._close(socket)

    async def _follow(self, socket: ClientConnection, operation: str, order: dict[str, Any]) -> None:
        await socket.send(
            json.dumps(
                {
                    "id": operation,
                    "type": "subscribe",
                    "payload": {"query": ORDER_STATUS, "variables": {"token": order["token"]}},
                }
            )
        )
        await self._expect(socket, operation, order["status"])
        parcel = await self.staff_call(
            SHIP,
            {
                "o": order["id"],
                "n": uuid.uuid4().hex[:12].upper(),
                "l": [{"orderLineId": line["id"], "quantity": line["quantity"]} for line in order["lines"]],
            },
            "shipmentCreate",
        )
        await self._expect(socket, operation, "SHIPPED")
        await self.staff_call(TRACK, {"s": parcel["shipment"]["id"]}, "shipmentAddTrackingEvent")
        await self._expect(socket, operation, "DELIVERED")
        await socket.send(json.dumps({"id": operation, "type": "complete"}))

    async def _expect(self, socket: ClientConnection, operation: str, status: str) -> None:
        message = json.loads(await asyncio.wait_for(socket.recv(), EVENT_TIMEOUT_S))
        if message.get("type") == "ping":
            await socket.send(json.dumps({"type": "pong"}))
            return await self._expect(socket, operation, status)
        payload = message.get("payload") or {}
        received = ((payload.get("data") or {}).get("orderStatusChanged") or {}).get("status")
        if (
            message.get("type") != "next"
            or message.get("id") != operation
            or payload.get("errors")
            or received != status
        ):
            raise RequestFailed("unexpected_message", f"waiting for {status}: {str(message)[:200]}")
        self.minute.messages["tracked"] += 1

    async def listen(self, number: int) -> None:
        """`orderEvents` as staff, on a fresh connection (and token) every LISTENER_RECONNECT_S."""
        await asyncio.sleep(number * LISTENER_RECONNECT_S / LISTENERS)  # reconnections spread out
        while self.running:
            socket: ClientConnection | None = None
            until = min(self.stop_at, time.monotonic() + LISTENER_RECONNECT_S)
            try:
                socket = await self._open(self.staff_token)
                await socket.send(json.dumps({"id": "events", "type": "subscribe", "payload": {"query": ORDER_EVENTS}}))
                while (left := until - time.monotonic()) > 0:
                    try:
                        message = json.loads(await asyncio.wait_for(socket.recv(), left))
                    except TimeoutError:
                        break
                    kind = message.get("type")
                    if kind == "ping":
                        await socket.send(json.dumps({"type": "pong"}))
                    elif kind == "next" and not (message.get("payload") or {}).get("errors"):
                        self.minute.messages["order_events"] += 1
                    else:
                        self.minute.fail("listen:unexpected_message", str(message)[:200])
                        break
            except RequestFailed as failure:
                self.minute.fail(f"listen:{failure.kind}", failure.detail)
                await asyncio.sleep(1.0)
            except (TimeoutError, OSError, WebSocketException) as error:
                self.minute.fail("listen:websocket", repr(error))
                await asyncio.sleep(1.0)
            finally:
                await self._close(socket)

    async def _open(self, token: str | None = None) -> ClientConnection:
        socket = await connect(self.ws_url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
        self.minute.connections += 1
        init: dict[str, Any] = {
            "type": "connection_init",
            "payload": {"authorization": f"Bearer {token}"} if token else {},
        }
        await socket.send(json.dumps(init))
        answer = json.loads(await asyncio.wait_for(socket.recv(), EVENT_TIMEOUT_S))
        if answer.get("type") != "connection_ack":
            await socket.close()
            raise RequestFailed("no_ack", str(answer)[:200])
        return socket

    async def _close(self, socket: ClientConnection | None) -> None:
        if socket is not None:
            await socket.close()

    async def refresh_staff(self) -> None:
        while self.running:
            await asyncio.sleep(min(STAFF_TOKEN_REFRESH_S, max(0.0, self.stop_at - time.monotonic())))
            if self.running:
                try:
                    await self.sign_in()
                except RequestFailed as failure:
                    self.minute.fail(f"staff:{failure.kind}", failure.detail)


async def run(host: str, port: int, path: str, minutes: int) -> None:
    seconds = minutes * 60.0
    soak = Soak(host, port, path, time.monotonic() + seconds + 3600)  # set for real once prepared
    await soak.prepare(seconds)
    started = time.monotonic()
    soak.stop_at = started + seconds
    soak.minute = Minute()
    emit(
        {
            "event": "ready",
            "slugs": len(soak.slugs),
            "words": len(soak.words),
            "listing_pages": len(soak.cursors),
            "checkout_units": soak.pool.units,
            "cart_variants": len(soak.cart_variants),
        }
    )
    tasks = [
        *(asyncio.create_task(soak.loop("browse", soak.browse)) for _ in range(BROWSERS)),
        *(asyncio.create_task(soak.loop("cart", soak.cart)) for _ in range(CART_USERS)),
        *(asyncio.create_task(soak.loop("checkout", soak.buy)) for _ in range(BUYERS)),
        *(asyncio.create_task(soak.track()) for _ in range(TRACKERS)),
        *(asyncio.create_task(soak.listen(n)) for n in range(LISTENERS)),
        asyncio.create_task(soak.refresh_staff()),
    ]
    for number in range(1, minutes + 1):
        await asyncio.sleep(max(0.0, started + number * 60.0 - time.monotonic()))
        finished, soak.minute = soak.minute, Minute()
        emit(finished.as_dict(number))
    await asyncio.gather(*tasks)
    soak.staff.close()
    # What the flows under way at the last minute's end did (their errors count too).
    emit({**soak.minute.as_dict(minutes + 1), "event": "tail"})


def emit(document: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(document, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak_load")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/graphql")
    parser.add_argument("--minutes", type=int, default=10)
    args = parser.parse_args(argv)
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    runner(run(args.host, args.port, args.path, args.minutes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
