"""Storefront traffic for the fault drills, and the judge of every reply it gets.

Browsers list products and open them by slug; shoppers build carts (some with the drill's
limited discount code) and check out with the test-card provider. A reply that the contract
documents for a fault (HTTP 503 or 429 with Retry-After, the SERVICE_UNAVAILABLE or RATE_LIMITED
codes) is retried the way a client would, a checkout with the same idempotency key; anything
else (another 5xx, INTERNAL_SERVER_ERROR, an error without a code, a traceback in a body, a
hang) is recorded as a problem, and the drill fails listing them.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.drill_invariants import ClientView

# The errors a client must expect while a dependency is away (CONTRACT.md, issue 12).
DOCUMENTED_CODES = frozenset({"SERVICE_UNAVAILABLE", "RATE_LIMITED"})
# A checkout may be refused for these whatever the faults: stock and the code's limit run out.
REFUSALS = frozenset({"INSUFFICIENT_STOCK", "DISCOUNT_CODE_INVALID"})
# No request may take longer; a hang is a problem, not something to wait out.
REQUEST_TIMEOUT = 20.0
# A client keeps retrying a step this long before it gives up on its cart.
STEP_DEADLINE = 25.0
RETRY_PAUSE = 0.2

ADDRESS = {
    "firstName": "Drill",
    "lastName": "Shopper",
    "line1": "1 Main St",
    "city": "Berlin",
    "postalCode": "10115",
    "country": "DE",
}
LISTING = """query($first: Int!, $sort: ProductSort) { products(first: $first, sort: $sort) { totalCount
  edges { node { id slug name priceRange { min { amount } } variants { id sku quantityAvailable } } } } }"""
PRODUCT = "query($slug: String!) { product(slug: $slug) { id name description variants { id sku price { amount } quantityAvailable } } }"
CART_CREATE = "mutation($i: CartCreateInput) { cartCreate(input: $i) { cart { token } userErrors { code message } } }"
SET_ADDRESS = """mutation($t: ID!, $a: AddressInput!) { cartUpdateShippingAddress(cartToken: $t, address: $a) {
  cart { availableShippingMethods { id name } } userErrors { code message } } }"""
SET_METHOD = "mutation($t: ID!, $m: ID!) { cartUpdateShippingMethod(cartToken: $t, shippingMethodId: $m) { userErrors { code message } } }"
APPLY_CODE = (
    "mutation($t: ID!, $c: String!) { cartApplyDiscountCode(cartToken: $t, code: $c) { userErrors { code message } } }"
)
CHECKOUT = """mutation($t: ID!, $k: String) { checkoutComplete(cartToken: $t, payment: {provider: "test-card", token: "tok_visa"},
  idempotencyKey: $k) { order { number status } userErrors { code message } } }"""


@dataclass(frozen=True)
class Reply:
    operation: str
    started: float  # time.monotonic() when the request was sent
    seconds: float
    status: int | None  # None: no HTTP answer (the connection failed or was cut)
    codes: tuple[str, ...] = ()
    problem: str = ""  # why this reply breaks the contract; empty when the contract allows it

    @property
    def ok(self) -> bool:
        return self.status == 200 and not self.codes and not self.problem


def judge(response: httpx.Response) -> tuple[Any, tuple[str, ...], str]:
    """(data, error codes, problem) of one GraphQL reply; the problem is empty when it is documented."""
    text, status = response.text, response.status_code
    if "Traceback" in text or 'File "' in text:
        return None, (), f"HTTP {status} with a traceback in the body: {text[:300]}"
    try:
        body = response.json()
    except ValueError:
        return None, (), f"HTTP {status} with a body that is not JSON: {text[:300]}"
    if not isinstance(body, dict):
        return None, (), f"HTTP {status} with a body that is not a GraphQL response: {text[:300]}"
    errors = body.get("errors") or []
    codes = tuple(str((error.get("extensions") or {}).get("code")) for error in errors)
    if any(not error.get("message") or not (error.get("extensions") or {}).get("code") for error in errors):
        return None, codes, f"HTTP {status}: an error without a code or a message: {errors}"
    if status in (429, 503):
        if not response.headers.get("retry-after"):
            return None, codes, f"HTTP {status} without Retry-After: {text[:300]}"
        if not codes:
            return None, codes, f"HTTP {status} without a GraphQL error: {text[:300]}"
    elif status != 200:
        return None, codes, f"HTTP {status}: {text[:300]}"
    undocumented = sorted(set(codes) - DOCUMENTED_CODES)
    if undocumented:
        return None, codes, f"HTTP {status} with {', '.join(undocumented)}: {errors[0]['message']}"
    return body.get("data"), codes, ""


class Storefront:
    """One client's calls, each recorded; `disconnects_allowed` when the drill kills a worker."""

    def __init__(self, http: httpx.AsyncClient, replies: list[Reply], *, disconnects_allowed: bool = False) -> None:
        self.http = http
        self.replies = replies
        self.disconnects_allowed = disconnects_allowed

    async def call(self, operation: str, query: str, variables: dict[str, Any]) -> tuple[Any, Reply]:
        started = time.monotonic()
        try:
            response = await self.http.post(
                "/graphql", json={"query": query, "variables": variables}, timeout=REQUEST_TIMEOUT
            )
        except httpx.TimeoutException as error:
            reply = Reply(
                operation,
                started,
                time.monotonic() - started,
                None,
                problem=f"no answer in {REQUEST_TIMEOUT} s ({error!r})",
            )
            data = None
        except httpx.TransportError as error:
            problem = "" if self.disconnects_allowed else f"connection failed: {error!r}"
            reply = Reply(operation, started, time.monotonic() - started, None, problem=problem)
            data = None
        else:
            data, codes, problem = judge(response)
            reply = Reply(operation, started, time.monotonic() - started, response.status_code, codes, problem)
        self.replies.append(reply)
        return data, reply

    async def step(self, operation: str, query: str, variables: dict[str, Any]) -> Any:
        """The data of a call that succeeded, retrying documented failures; None once it gives up."""
        deadline = time.monotonic() + STEP_DEADLINE
        while True:
            data, reply = await self.call(operation, query, variables)
            if reply.ok:
                return data
            if reply.problem:
                return None
            if time.monotonic() > deadline:
                self.replies.append(
                    Reply(
                        operation,
                        reply.started,
                        0.0,
                        reply.status,
                        reply.codes,
                        f"still failing after {STEP_DEADLINE} s of retries",
                    )
                )
                return None
            await asyncio.sleep(RETRY_PAUSE)


@dataclass
class Catalogue:
    """What browsers and shoppers pick from, read once before a drill."""

    slugs: list[str]
    variant_ids: list[str]  # variants with stock
    plentiful: str  # the variant with the most stock: the one a drill's last checkout buys

    @classmethod
    async def read(cls, http: httpx.AsyncClient) -> Catalogue:
        response = await http.post("/graphql", json={"query": LISTING, "variables": {"first": 100}})
        edges = response.json()["data"]["products"]["edges"]
        variants = [v for edge in edges for v in edge["node"]["variants"] if v["quantityAvailable"] > 0]
        return cls(
            slugs=[edge["node"]["slug"] for edge in edges],
            variant_ids=[v["id"] for v in variants],
            plentiful=max(variants, key=lambda v: v["quantityAvailable"])["id"],
        )


@dataclass
class Traffic:
    """Browsers and shoppers running until `stop()`; each shopper finishes the cart it is on."""

    http: httpx.AsyncClient
    catalogue: Catalogue
    discount_code: str
    browsers: int = 3
    shoppers: int = 3
    carts_per_shopper: int = 12
    disconnects_allowed: bool = False
    seed: int = 12
    replies: list[Reply] = field(default_factory=list)
    told: ClientView = field(default_factory=ClientView)
    unfinished: list[str] = field(default_factory=list)  # carts whose checkout ended neither placed nor refused
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self) -> None:
        for n in range(self.browsers):
            self._tasks.append(asyncio.create_task(self._browse(random.Random(self.seed * 100 + n))))
        for n in range(self.shoppers):
            self._tasks.append(asyncio.create_task(self._shop(random.Random(self.seed * 1000 + n))))

    async def stop(self) -> None:
        self._stopping.set()
        await asyncio.gather(*self._tasks)

    def client(self) -> Storefront:
        return Storefront(self.http, self.replies, disconnects_allowed=self.disconnects_allowed)

    async def _browse(self, rng: random.Random) -> None:
        client = self.client()
        while not self._stopping.is_set():
            if rng.random() < 0.4:
                sort = rng.choice([None, "PRICE_ASC", "NEWEST"])
                await client.call("products", LISTING, {"first": rng.choice([12, 24]), "sort": sort})
            else:
                await client.call("product", PRODUCT, {"slug": rng.choice(self.catalogue.slugs)})
            await asyncio.sleep(0)

    async def _shop(self, rng: random.Random) -> None:
        client = self.client()
        for n in range(self.carts_per_shopper):
            if self._stopping.is_set():
                return
            variants = rng.sample(self.catalogue.variant_ids, rng.choice([1, 2]))
            await buy(client, variants, self.told, self.unfinished, self.discount_code if n % 2 else None)

    def problems(self) -> list[str]:
        """Each kind of problem once, with how often it happened."""
        counted = Counter(f"{reply.operation}: {reply.problem}" for reply in self.replies if reply.problem)
        return [f"{n}x {problem}" for problem, n in counted.most_common()]


async def ready_cart(client: Storefront, variants: Sequence[str], discount_code: str | None = None) -> str | None:
    """A cart with lines, email, address and shipping method; None when a step could not be done."""
    lines = [{"variantId": variant, "quantity": 1} for variant in variants]
    created = await client.step("cartCreate", CART_CREATE, {"i": {"lines": lines, "email": "drill@example.com"}})
    if created is None or created["cartCreate"]["userErrors"]:
        return None
    token: str = created["cartCreate"]["cart"]["token"]
    addressed = await client.step("cartUpdateShippingAddress", SET_ADDRESS, {"t": token, "a": ADDRESS})
    if addressed is None:
        return None
    methods = addressed["cartUpdateShippingAddress"]["cart"]["availableShippingMethods"]
    standard = next(m["id"] for m in methods if m["name"] == "Standard")
    if await client.step("cartUpdateShippingMethod", SET_METHOD, {"t": token, "m": standard}) is None:
        return None
    if discount_code is not None:
        # Refused once the code is used up: the cart goes on without it.
        await client.step("cartApplyDiscountCode", APPLY_CODE, {"t": token, "c": discount_code})
    return token


async def check_out(client: Storefront, token: str, told: ClientView, unfinished: list[str]) -> None:
    """checkoutComplete, retried with one idempotency key; what the client learns goes into `told`."""
    done = await client.step("checkoutComplete", CHECKOUT, {"t": token, "k": uuid.uuid4().hex})
    if done is None:
        unfinished.append(token)
        return
    payload = done["checkoutComplete"]
    if payload["order"] is not None:
        told.orders[token] = payload["order"]["number"]
        return
    told.refused.add(token)
    codes = {error["code"] for error in payload["userErrors"]}
    if not codes <= REFUSALS:
        client.replies.append(
            Reply("checkoutComplete", time.monotonic(), 0.0, 200, problem=f"refused with {payload['userErrors']}")
        )


async def buy(
    client: Storefront, variants: Sequence[str], told: ClientView, unfinished: list[str], discount_code: str | None
) -> None:
    token = await ready_cart(client, variants, discount_code)
    if token is not None:
        await check_out(client, token, told, unfinished)
