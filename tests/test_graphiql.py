"""GraphiQL served by the gateway itself: the page's headers, its files and what happens without a build.

tests/test_graphiql_browser.py drives the real page in Chromium; these check the HTTP side without
a browser, on the real build where `make graphiql` made one and on a small build of their own.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount, Route

from gateway import graphiql
from gateway.app import create_app
from gateway.settings import load_settings
from tests.conftest import REQUIRE_SERVICES

HTML = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def built_or_skip() -> None:
    if not graphiql.GraphiQLPage().built:
        reason = f"GraphiQL is not built in {graphiql.BUILD}: run `make graphiql` (needs Node.js and npm)"
        if REQUIRE_SERVICES:
            pytest.fail(f"REQUIRE_SERVICES=1 but {reason}")
        pytest.skip(reason)


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    # No database is opened: the page and its files never reach one.
    app = create_app(load_settings({"DATABASE_URL": f"sqlite://{tmp_path / 'unused.sqlite3'}"}))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway.test") as client:
        yield client


def directives(policy: str) -> dict[str, list[str]]:
    return {name: sources for name, *sources in (part.split() for part in policy.split(";"))}


async def test_the_page_carries_a_policy_that_allows_nothing_from_elsewhere(gateway):
    page = await gateway.get("/graphql", headers=HTML)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = directives(page.headers["content-security-policy"])
    assert policy["default-src"] == ["'none'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["worker-src"] == ["'self'"]
    assert policy["connect-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    # No host, scheme-wide source or wildcard anywhere: nothing but this origin and inline data.
    sources = {source for values in policy.values() for source in values}
    assert sources <= {"'none'", "'self'", "'unsafe-inline'", "data:"}
    assert policy["style-src"] == ["'self'", "'unsafe-inline'"]  # Monaco's inline styles, measured
    # The page names the current build's files: revalidated each visit; JSON and HTML kept apart.
    assert page.headers["cache-control"] == "no-cache"
    assert "accept" in page.headers["vary"].lower()


async def test_every_file_the_page_names_is_served_here_and_cached_for_good(gateway):
    built_or_skip()
    page = (await gateway.get("/graphql", headers=HTML)).text
    references = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert references, page
    # Relative to /graphql, so the page also works behind a proxy that adds a path prefix.
    assert all(reference.startswith("./graphiql/") for reference in references if reference != "data:,")
    assert not re.search(r"(?:src|href)=\"(?:https?:)?//", page)
    for reference in (r for r in references if r != "data:,"):
        response = await gateway.get("/" + reference.removeprefix("./"))
        assert response.status_code == 200, reference
        assert response.headers["cache-control"] == graphiql.IMMUTABLE
        assert response.headers["content-type"].split(";")[0] in (
            "text/javascript",
            "application/javascript",
            "text/css",
        )
        assert response.headers["x-content-type-options"] == "nosniff"


async def test_graphiql_off_serves_neither_page_nor_files(tmp_path):
    built_or_skip()
    settings = load_settings({"DATABASE_URL": f"sqlite://{tmp_path / 'unused.sqlite3'}", "GRAPHIQL": "0"})
    name = next((graphiql.BUILD / "graphiql").iterdir()).name
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(settings)), base_url="http://gateway.test"
    ) as client:
        assert (await client.get(f"/graphiql/{name}")).status_code == 404
        assert "content-security-policy" not in (await client.get("/graphql", headers=HTML)).headers


@pytest.fixture
def small_build(tmp_path: Path) -> Path:
    build = tmp_path / "build"
    (build / "graphiql").mkdir(parents=True)
    (build / "index.html").write_text('<!doctype html><script type="module" src="./graphiql/app-1a2b.js"></script>')
    (build / "graphiql" / "app-1a2b.js").write_text("console.log('GraphiQL');\n")
    return build


def serve(build: Path) -> httpx.AsyncClient:
    page = graphiql.GraphiQLPage(build)
    app = Starlette(
        routes=[Route("/graphql", lambda request: page.response()), Mount(graphiql.ASSETS_PATH, graphiql.assets(build))]
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway.test")


async def test_files_are_served_with_validators_and_nothing_outside_the_build(small_build):
    async with serve(small_build) as client:
        page = await client.get("/graphql")
        assert page.text.startswith("<!doctype html><script") and "content-security-policy" in page.headers
        script = await client.get("/graphiql/app-1a2b.js")
        assert script.status_code == 200 and script.text == "console.log('GraphiQL');\n"
        assert script.headers["cache-control"] == "public, max-age=31536000, immutable"
        again = await client.get("/graphiql/app-1a2b.js", headers={"if-none-match": script.headers["etag"]})
        assert again.status_code == 304 and again.headers["cache-control"] == graphiql.IMMUTABLE
        assert (await client.head("/graphiql/app-1a2b.js")).status_code == 200
        # index.html lies one level above the served directory: encoded dot segments reach the
        # files app as "../index.html", and it stays inside its directory.
        for path in ("/graphiql/missing.js", "/graphiql/", "/graphiql/%2e%2e/index.html", "/graphiql/..%2findex.html"):
            assert (await client.get(path)).status_code == 404, path
        assert (await client.post("/graphiql/app-1a2b.js")).status_code == 405


async def test_without_a_build_the_page_says_how_to_make_one(tmp_path):
    async with serve(tmp_path / "never-built") as client:
        page = await client.get("/graphql")
        # Still a page that names GraphiQL (a browser at /graphql gets an answer), and no script.
        assert page.status_code == 200 and "make graphiql" in page.text and "<script" not in page.text
        assert page.headers["content-security-policy"] == graphiql.CONTENT_SECURITY_POLICY
        assert (await client.get("/graphiql/app-1a2b.js")).status_code == 404  # not a 500
