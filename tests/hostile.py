"""The hostile-input suite's tools: a throw-away gateway of its own, its callers, and what every answer must be.

The fuzzer sends mutations as staff with every permission: it creates, renames and deletes at
random. It gets a database of its own (same backend as the `db` fixture, in a TortoiseContext of
its own), so the rest of the suite never sees what it did.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import graphql
import httpx
from hypothesis import strategies as st
from hypothesis_graphql import Mode, from_schema, nodes
from tortoise.context import TortoiseContext

from gateway.app import create_app
from gateway.db import tortoise_config
from gateway.settings import load_settings
from models import Order, OrderLine, Permission
from schema.ids import encode_id
from schema.root import build_schema
from tests import catalogue_fixture, databases
from tests.conftest import GraphQLClient, _postgres_admin_url
from tests.staff import bearer, token_for
from tests.test_checkout import CHECKOUT, PAID, ready_cart

MEDIA_TYPES = ("application/json", "application/graphql-response+json")
# What a leaked stack trace or driver error looks like; client input is echoed in some messages,
# so these are shapes no storefront string has, not single words.
LEAKS = re.compile(
    r"Traceback \(most recent call last\)|File \"[^\"]+\", line \d+|\b\w+(Error|Exception)\(|"
    r"asyncpg\.|tortoise\.|sqlite3\.|psycopg|pypika|NoneType|object has no attribute|unexpected keyword argument"
)
# Codes a client may be answered with (README, CONTRACT.md); anything else is a bug's signature.
DOCUMENTED_CODES = frozenset(
    {
        "BAD_USER_INPUT",
        "BAD_REQUEST",
        "GRAPHQL_VALIDATION_FAILED",
        "QUERY_TOO_COMPLEX",
        "RATE_LIMITED",
        "UNAUTHENTICATED",
        "FORBIDDEN",
        "NOT_FOUND",
        "METHOD_NOT_ALLOWED",
        "NOT_ACCEPTABLE",
        "OPERATION_RESOLUTION_FAILURE",
        "PERSISTED_QUERY_NOT_FOUND",
        "PERSISTED_QUERY_NOT_SUPPORTED",
        "PERSISTED_QUERY_INVALID",
        "PERSISTED_QUERY_HASH_MISMATCH",
        "SERVICE_UNAVAILABLE",
    }
)
CALLERS = ("anonymous", "customer", "staff")
SCHEMA_SDL = build_schema().as_str()
_SCHEMA = graphql.build_schema(SCHEMA_SDL)
ROOT_FIELDS = (*_SCHEMA.query_type.fields, *_SCHEMA.mutation_type.fields)  # type: ignore[union-attr]


def _takes_arguments(field: graphql.GraphQLField, seen: frozenset[str] = frozenset()) -> bool:
    """Whether `field`, or a field that can be selected below it, has an argument."""
    if field.args:
        return True
    target = graphql.get_named_type(field.type)
    if target.name in seen:
        return False
    members = target.types if isinstance(target, graphql.GraphQLUnionType) else [target]
    children = [
        child
        for member in members
        if isinstance(member, graphql.GraphQLObjectType | graphql.GraphQLInterfaceType)
        for child in member.fields.values()
    ]
    return any(_takes_arguments(child, seen | {target.name}) for child in children)


NEGATIVE_ROOT_FIELDS = tuple(
    name
    for root in (_SCHEMA.query_type, _SCHEMA.mutation_type)
    for name, field in root.fields.items()  # type: ignore[union-attr]
    if _takes_arguments(field)
)
TRACKING_NUMBER = "1ZHOSTILE0000001"
ANSWER_WITHIN_SECONDS = 20
# Any character a client can send in JSON, NUL included (a lone surrogate cannot be UTF-8 encoded).
CHARACTERS = st.characters(codec="utf-8", exclude_categories=("Cs",))
NODE_TYPES = (
    "Product",
    "ProductVariant",
    "Category",
    "Cart",
    "CartLine",
    "Order",
    "OrderLine",
    "Shipment",
    "ShippingMethod",
    "Warehouse",
    "Stock",
    "StockMovement",
    "Address",
    "Customer",
    "Image",
)
# Values that have broken parsers and columns before: huge, tiny, negative, exponent, not a number.
ODD_NUMBERS = (
    "NaN",
    "Infinity",
    "-Infinity",
    "-0",
    "1e308",
    "-1e308",
    "1E+400",
    "0.000000001",
    "99999999999999999999999",
    str(2**70),
    "-1",
    "0",
    "1,5",
    " 1",
    "",
)
ODD_TIMES = (
    "0001-01-01T00:00:00+00:00",
    "9999-12-31T23:59:59+00:00",
    "0001-01-01",
    "9999-12-31",
    "2026-02-30T00:00:00Z",
    "2026-01-01T00:00:00",
    "not a date",
    "",
)


@dataclass
class FuzzGateway:
    """A gateway over its own database, the callers' headers, and values that reach real rows."""

    context: TortoiseContext
    client: httpx.AsyncClient
    headers: dict[str, dict[str, str]]
    variant_id: str = ""  # a variant with stock in both warehouses
    ids: list[str] = field(default_factory=list)  # global IDs and tokens of rows that exist
    strings: list[str] = field(default_factory=list)  # slugs, codes, emails, tracking numbers that exist
    _strategies: dict[str, st.SearchStrategy[str]] = field(default_factory=dict)

    @contextmanager
    def active(self) -> Iterator[None]:
        """Models inside this block use the fuzz database (Tortoise resolves connections per context)."""
        with self.context:
            yield

    def operations(self, mode: Mode = Mode.POSITIVE) -> st.SearchStrategy[str]:
        """Queries and mutations of the whole schema, their arguments drawn partly from real rows."""
        key = f"operations-{mode.name}"
        if key not in self._strategies:
            # One root field per operation: every field gets its turn, and no refused sibling
            # hides what the others would have done.
            scalars = self._scalars()
            # An invalid operation is a valid one with one argument made wrong: a root field with
            # no argument anywhere below it has none to make wrong (hypothesis-graphql raises
            # InvalidArgument whenever one_of happens to pick it, which depends on the run).
            names = ROOT_FIELDS if mode == Mode.POSITIVE else NEGATIVE_ROOT_FIELDS
            self._strategies[key] = st.one_of(
                *(from_schema(SCHEMA_SDL, fields=[name], custom_scalars=scalars, mode=mode) for name in names)
            )
        return self._strategies[key]

    def _scalars(self) -> dict[str, st.SearchStrategy[Any]]:
        text = st.text(CHARACTERS, max_size=30)
        ids = st.one_of(
            st.sampled_from(self.ids), st.builds(encode_id, st.sampled_from(NODE_TYPES), st.integers(1, 300)), text
        )
        numbers = st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-(10**6), max_value=10**6).map(
            str
        )
        times = st.datetimes().map(lambda moment: moment.isoformat() + "Z")
        return {
            # Small numbers make pages and quantities that succeed; the rest probe the edges.
            "Int": st.one_of(st.integers(0, 10), st.integers(-(2**31), 2**31 - 1)).map(nodes.Int),
            "ID": ids.map(nodes.String),
            "String": st.one_of(st.sampled_from(self.strings), text).map(nodes.String),
            "Decimal": st.one_of(numbers, st.sampled_from(ODD_NUMBERS), text).map(nodes.String),
            "DateTime": st.one_of(times, st.sampled_from(ODD_TIMES), text).map(nodes.String),
            "Date": st.one_of(st.dates().map(str), st.sampled_from(ODD_TIMES), text).map(nodes.String),
            # A file is a multipart request's part: in a JSON request only text can stand there.
            "Upload": text.map(nodes.String),
        }

    async def post(
        self, caller: str, query: str, variables: dict[str, Any] | None = None, media_type: str = MEDIA_TYPES[0]
    ) -> httpx.Response:
        headers = {**self.headers[caller], "accept": media_type}
        # A guard against hanging the suite, not a performance check: a request the gateway
        # cannot bound would otherwise keep CI waiting (issue 12 saw one run for minutes).
        async with asyncio.timeout(ANSWER_WITHIN_SECONDS):
            return await self.client.post(
                "/graphql", headers=headers, json={"query": query, "variables": variables or {}}
            )


@asynccontextmanager
async def fuzz_gateway(backend: str, workdir: Path) -> AsyncIterator[FuzzGateway]:
    """A migrated, seeded database of `backend`'s kind with an order and a shipment in it, and the app over it."""
    copy = databases.sqlite_copy(workdir) if backend == "sqlite" else databases.postgres_copy(_postgres_admin_url())
    async with copy as (url, data):
        context = TortoiseContext()
        try:
            with context:
                await context.init(config=tortoise_config(url))
            app = create_app(
                load_settings(
                    {
                        "DATABASE_URL": url,
                        "LOG_LEVEL": "INFO",
                        "RATE_LIMIT_PER_SECOND": "0",
                        "LOGIN_ATTEMPTS_PER_MINUTE": "10000",
                    }
                )
            )
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
                gateway = FuzzGateway(context, client, {"anonymous": {}})
                with gateway.active():
                    gateway.headers["customer"] = bearer(await token_for(staff=False))
                    gateway.headers["staff"] = bearer(await token_for(*Permission))
                    await _add_known_values(gateway, data)
                yield gateway
        finally:
            with context:
                await context.close_connections()


async def _add_known_values(gateway: FuzzGateway, data: catalogue_fixture.Catalogue) -> None:
    """An open cart, a paid order with a shipment: their tokens and IDs let fuzzed calls reach real rows."""
    gql = GraphQLClient(gateway.client)
    open_cart = await ready_cart(gql, [("ZEP-S", 1)])
    paid_cart = await ready_cart(gql, [("AUR-L", 1)])
    order = (await gql.data(CHECKOUT, {"t": paid_cart, "p": PAID, "k": uuid.uuid4().hex}))["checkoutComplete"]["order"]
    line = await OrderLine.filter(order__token=order["token"]).first()
    assert line is not None
    ship = """mutation($o: ID!, $l: [ShipmentLineInput!]!, $n: String!) {
      shipmentCreate(orderId: $o, lines: $l, carrier: "dhl", trackingNumber: $n) { userErrors { code } } }"""
    response = await gateway.post(
        "staff",
        ship,
        {
            "o": order["id"],
            "n": TRACKING_NUMBER,
            "l": [{"orderLineId": encode_id("OrderLine", line.id), "quantity": 1}],
        },
    )
    assert response.json()["data"]["shipmentCreate"]["userErrors"] == [], response.text
    order_row = await Order.get(token=order["token"])
    gateway.ids += [
        open_cart,
        order["token"],
        order["id"],
        encode_id("OrderLine", line.id),
        encode_id("Order", order_row.id),
    ]
    gateway.ids += [encode_id("Product", pk) for pk in data.products.values()]
    gateway.ids += [encode_id("ProductVariant", pk) for pk in data.variants.values()]
    gateway.variant_id = encode_id("ProductVariant", data.variants["ZEP-S"])
    gateway.ids += [encode_id("Category", pk) for pk in data.categories.values()]
    gateway.strings += [
        "central",
        "north",
        "lab",
        "lab-sub",
        "zephyr-linen-shirt",
        "ZEP-S",
        "dhl",
        TRACKING_NUMBER,
        "ada@example.com",
        "tok_visa",
        "tok_decline",
        "test-card",
        "manual",
        "DE",
        "EUR",
    ]


# --- what every answer must be -----------------------------------------------------------------


def problems(response: httpx.Response) -> list[str]:
    """Everything wrong with one GraphQL-over-HTTP answer (empty when it is fine)."""
    found: list[str] = []
    if response.status_code >= 500:
        found.append(f"status {response.status_code}")
    media_type = response.headers.get("content-type", "").split(";")[0].strip()
    if media_type not in MEDIA_TYPES:
        found.append(f"content-type {media_type!r}")
    if LEAKS.search(response.text):
        found.append(f"internals in the body: {LEAKS.search(response.text).group(0)!r}")  # type: ignore[union-attr]
    try:
        body = response.json()
    except ValueError:
        return [*found, "body is not JSON"]
    if (
        not isinstance(body, dict)
        or not ({"data", "errors"} & body.keys())
        or body.keys() - {"data", "errors", "extensions"}
    ):
        return [*found, f"not a GraphQL response: {str(body)[:200]}"]
    errors = body.get("errors")
    if errors is not None and (not isinstance(errors, list) or not errors):
        return [*found, "`errors` is not a non-empty list"]
    for error in errors or []:
        message = error.get("message") if isinstance(error, dict) else None
        code = (error.get("extensions") or {}).get("code") if isinstance(error, dict) else None
        if not isinstance(message, str) or not message:
            found.append(f"error without a message: {error}")
        if code not in DOCUMENTED_CODES:
            found.append(f"error code {code!r}: {message}")
    return found


def logged_errors(records: list[logging.LogRecord]) -> list[str]:
    """The ERROR records a request left in the server log (each an unexpected failure)."""
    return [
        f"{record.name}: {record.getMessage()}" + (" (with traceback)" if record.exc_info else "")
        for record in records
        if record.levelno >= logging.ERROR
    ]
