"""GraphiQL in a real browser, offline: Debian's Chromium driven by Playwright against a gateway process.

What a developer does with no internet: open /graphql, type a products query and run it, start a
subscription and watch an event arrive when staff change an order. Chromium resolves no host name
(only 127.0.0.1 is reachable), every request the page and its workers make is recorded and must
stay on the gateway's origin, and the page must log no error (a CSP violation logs one). Each test
saves a screenshot under var/artefacts/ and prints its path.

Playwright drives the browser the machine has (`executable_path`), never one it downloads. Without
Chromium, or without `make graphiql` having built the page, the tests skip (fail under
REQUIRE_SERVICES=1).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from gateway.graphiql import GraphiQLPage
from tests.cache_client import metric
from tests.conftest import REQUIRE_SERVICES, ROOT
from tests.node_clients import live_gateway

pytestmark = pytest.mark.slow  # a gateway process and a browser

ARTEFACTS = ROOT / "var" / "artefacts"
STAFF_PASSWORD = "long enough password"
ADDRESS = {
    "firstName": "Ada",
    "lastName": "Lovelace",
    "line1": "1 Analytical Row",
    "city": "Berlin",
    "postalCode": "10115",
    "country": "DE",
}
# As the probe of this machine found: without these Chromium reaches for Google's services at start.
CHROMIUM_ARGS = [
    "--no-sandbox",  # the tests run as root in CI
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Offline: every host fails to resolve but the gateway's address.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
# Reports Content-Security-Policy violations as console errors, which the tests refuse.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) =>
  console.error(`CSP violation: ${event.violatedDirective} ${event.blockedURI} at ${event.sourceFile}:${event.lineNumber}`));
"""
RESPONSE_TEXT = (
    """() => (document.querySelector(".graphiql-response .view-lines")?.innerText ?? "").replace(/\\u00a0/g, " ")"""
)


def chromium_or_skip() -> str:
    chromium = shutil.which("chromium")
    reason = None
    if chromium is None:
        reason = "Chromium is not installed (Debian: apt-get install chromium)"
    elif not GraphiQLPage().built:
        reason = "GraphiQL is not built: run `make graphiql` (needs Node.js and npm)"
    if reason:
        if REQUIRE_SERVICES:
            pytest.fail(f"REQUIRE_SERVICES=1 but {reason}")
        pytest.skip(reason)
    return chromium  # type: ignore[return-value]


@dataclass
class Gateway:
    url: str  # http://127.0.0.1:PORT/graphql
    http: httpx.Client
    staff_email: str

    @property
    def origin(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}"

    def data(self, query: str, variables: dict[str, Any] | None = None, token: str | None = None) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        body = self.http.post(self.url, json={"query": query, "variables": variables or {}}, headers=headers).json()
        assert not body.get("errors"), body
        return body["data"]

    def subscriptions(self) -> float:
        return metric(self.http.get(f"{self.origin}/metrics").text, "gateway_subscriptions")


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    chromium_or_skip()
    workdir = tmp_path_factory.mktemp("graphiql")
    staff_email = f"staff.{uuid.uuid4().hex[:8]}@example.com"
    with live_gateway(workdir) as url, httpx.Client(timeout=30) as http:
        # The same SQLite file the gateway serves (tests/node_clients.py), the command a deployer runs.
        command = [
            "create-staff",
            "--email",
            staff_email,
            "--password",
            STAFF_PASSWORD,
            "--permission",
            "MANAGE_ORDERS",
        ]
        created = subprocess.run(
            [sys.executable, "-m", "gateway", *command],
            cwd=ROOT,
            env={**os.environ, "DATABASE_URL": f"sqlite://{workdir / 'live.sqlite3'}"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert created.returncode == 0, created.stderr
        yield Gateway(url, http, staff_email)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = chromium_or_skip()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class Traffic:
    """Every URL the page asked for (its workers' included) and every error it logged."""

    urls: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def elsewhere(self, origin: str) -> list[str]:
        websocket = origin.replace("http", "ws", 1)
        return [url for url in self.urls if not url.startswith((f"{origin}/", f"{websocket}/"))]


@pytest.fixture
def graphiql(browser: Browser, gateway: Gateway) -> Iterator[tuple[Page, Traffic]]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    traffic = Traffic()
    context.on("request", lambda request: traffic.urls.append(request.url))
    context.add_init_script(REPORT_VIOLATIONS)
    page = context.new_page()
    page.on("websocket", lambda socket: traffic.urls.append(socket.url))
    page.on("console", lambda message: traffic.errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: traffic.errors.append(f"uncaught: {error}"))
    page.goto(gateway.url)
    # Rendered: Monaco's query editor is up (scripts, styles, fonts and workers loaded).
    page.locator(".graphiql-query-editor .monaco-editor").first.wait_for(timeout=30_000)
    yield page, traffic
    context.close()


def replace_text(page: Page, editor: str, text: str) -> None:
    """Select everything in a Monaco editor and type `text` over it."""
    page.locator(f"{editor} .monaco-editor").first.click()
    page.keyboard.press("ControlOrMeta+A")
    page.keyboard.press("Delete")
    # Typed as one input event: Monaco's auto-closing of brackets and quotes applies to single
    # keystrokes only, so the editor holds exactly this text.
    page.keyboard.insert_text(text)


def response_text(page: Page) -> str:
    return str(page.evaluate(RESPONSE_TEXT))


def screenshot(page: Page, name: str, capsys: pytest.CaptureFixture[str]) -> None:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTEFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    with capsys.disabled():
        print(f"\nscreenshot: {path}")


def assert_stayed_home(traffic: Traffic, gateway: Gateway) -> None:
    assert traffic.urls, "no request was recorded"
    assert traffic.elsewhere(gateway.origin) == []
    assert traffic.errors == []


def test_a_products_query_typed_into_graphiql_runs_offline(graphiql, gateway, capsys):
    page, traffic = graphiql
    query = "query Listing { products(first: 2) { totalCount edges { node { name slug } } } }"
    replace_text(page, ".graphiql-query-editor", query)
    assert page.locator(".graphiql-query-editor .view-lines").inner_text().replace("\u00a0", " ") == query
    # GraphiQL re-reads the operation name from the editor after a debounce: clicked at once on a
    # loaded machine (CI), it sent the previous query's name with the new text.
    page.wait_for_timeout(1000)
    with page.expect_response(lambda response: response.request.method == "POST") as answer:
        page.locator(".graphiql-execute-button").click()
    sent = answer.value.request.post_data_json
    assert sent["query"] == query and sent["operationName"] == "Listing"
    expected = answer.value.json()
    assert expected["data"]["products"]["totalCount"] == 5  # the seeded catalogue
    names = [edge["node"]["name"] for edge in expected["data"]["products"]["edges"]]
    # What the server answered is what the result pane shows.
    page.wait_for_function(f"() => ({RESPONSE_TEXT})().includes({json.dumps(names[-1])})", timeout=15_000)
    shown = json.loads(response_text(page))
    assert shown["data"] == expected["data"]
    screenshot(page, "graphiql-products-query", capsys)
    assert_stayed_home(traffic, gateway)


def test_a_subscription_started_in_graphiql_receives_an_order_event(graphiql, gateway, capsys):
    page, traffic = graphiql
    staff_token = gateway.data(
        "mutation($e: String!, $p: String!) { tokenCreate(email: $e, password: $p) { accessToken } }",
        {"e": gateway.staff_email, "p": STAFF_PASSWORD},
    )["tokenCreate"]["accessToken"]
    # orderEvents is for staff only: the token typed into Headers must reach the WebSocket's
    # connection_init, as the page's opening comment says.
    replace_text(page, ".graphiql-query-editor", "subscription Orders { orderEvents { number status } }")
    page.get_by_role("button", name="Headers", exact=True).click()
    replace_text(
        page,
        ".graphiql-editor-tool .graphiql-editor:not(.hidden)",
        json.dumps({"authorization": f"Bearer {staff_token}"}),
    )
    before = gateway.subscriptions()
    page.locator(".graphiql-execute-button").click()
    deadline = time.monotonic() + 15
    while gateway.subscriptions() <= before:
        assert time.monotonic() < deadline, f"the subscription never started; the page shows {response_text(page)!r}"
        time.sleep(0.1)

    order = place_order(gateway)
    paid = gateway.data(
        "mutation($id: ID!) { orderMarkPaid(orderId: $id) { order { status } userErrors { code } } }",
        {"id": order["id"]},
        token=staff_token,
    )["orderMarkPaid"]
    assert paid == {"order": {"status": "PAID"}, "userErrors": []}

    page.wait_for_function(f"() => ({RESPONSE_TEXT})().includes('\"PAID\"')", timeout=15_000)
    event = json.loads(response_text(page))
    assert event["data"] == {"orderEvents": {"number": order["number"], "status": "PAID"}} and "errors" not in event
    assert any(url.startswith(gateway.origin.replace("http", "ws", 1)) for url in traffic.urls)
    screenshot(page, "graphiql-subscription", capsys)
    assert_stayed_home(traffic, gateway)


def place_order(gateway: Gateway) -> dict[str, Any]:
    """An order through the storefront API, as a shopper's browser would place it."""
    products = gateway.data(
        "{ products(first: 5, filter: { inStock: true }) { edges { node { variants { id quantityAvailable } } } } }"
    )["products"]["edges"]
    variant = next(v["id"] for p in products for v in p["node"]["variants"] if v["quantityAvailable"] > 0)
    cart = gateway.data(
        "mutation($i: CartCreateInput) { cartCreate(input: $i) { cart { token } userErrors { code } } }",
        {"i": {"lines": [{"variantId": variant, "quantity": 1}], "email": "ada@example.com"}},
    )["cartCreate"]["cart"]["token"]
    methods = gateway.data(
        "mutation($t: ID!, $a: AddressInput!) { cartUpdateShippingAddress(cartToken: $t, address: $a) {"
        " cart { availableShippingMethods { id } } } }",
        {"t": cart, "a": ADDRESS},
    )["cartUpdateShippingAddress"]["cart"]["availableShippingMethods"]
    gateway.data(
        "mutation($t: ID!, $m: ID!) { cartUpdateShippingMethod(cartToken: $t, shippingMethodId: $m) { userErrors { code } } }",
        {"t": cart, "m": methods[0]["id"]},
    )
    placed = gateway.data(
        'mutation($t: ID!) { checkoutComplete(cartToken: $t, payment: { provider: "manual" }) {'
        " order { id number status } userErrors { code message } } }",
        {"t": cart},
    )["checkoutComplete"]
    assert placed["userErrors"] == [] and placed["order"]["status"] == "PLACED", placed
    return placed["order"]  # type: ignore[no-any-return]
