"""GraphiQL served by the gateway itself: the page at GET /graphql, its files under /graphiql/.

Strawberry's own page loads React and GraphiQL from a public CDN, so it never loads offline or
under a strict Content-Security-Policy. This one is built by `make graphiql` (Vite, from the npm
packages pinned with their integrity in graphiql/package-lock.json) into gateway/static/graphiql/:
`index.html` and content-hashed files under `graphiql/`. Nothing it loads comes from elsewhere,
which its CSP enforces in the browser.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

BUILD = Path(__file__).parent / "static" / "graphiql"
# Where the page's files are served: the page at /graphql names them `./graphiql/<name>`.
ASSETS_PATH = "/graphiql"

# What the page may load: its own files and nothing else. Each exception is what GraphiQL needs:
# Monaco runs its language services in module workers (same-origin files), GraphiQL's stylesheet
# carries its fonts and icons as data: URLs, and Monaco and GraphiQL's React components set
# inline styles (Monaco adds <style> elements for its themes and decorations). Queries go to the
# page's own origin; CSP Level 3's 'self' covers the ws:/wss: of the same host for subscriptions.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "worker-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "font-src 'self' data:",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
# The file names carry a hash of their content: a new build means new names.
IMMUTABLE = "public, max-age=31536000, immutable"

NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>GraphiQL is not built</title></head>
<body><h1>GraphiQL is not built here</h1>
<p>The gateway serves GraphiQL from files built out of pinned npm packages, never from a CDN.
Run <code>make graphiql</code> (it needs Node.js and npm) and restart the gateway.</p>
<p>GraphQL itself is served here as usual: POST queries to this URL.</p></body></html>
"""


class GraphiQLPage:
    """The built page, read once; without a build, a page that says how to build it."""

    def __init__(self, build: Path = BUILD) -> None:
        index = build / "index.html"
        self.built = index.is_file()
        self.html = index.read_bytes() if self.built else NOT_BUILT.encode()

    def response(self) -> Response:
        return HTMLResponse(
            self.html,
            headers={
                "Content-Security-Policy": CONTENT_SECURITY_POLICY,
                # Small, and it names the current build's files: revalidated on every visit.
                "Cache-Control": "no-cache",
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
                # /graphql answers JSON or this page depending on Accept.
                "Vary": "Accept",
            },
        )


class ImmutableFiles(StaticFiles):
    """Starlette's static files (paths confined to the directory, ETag, 304, HEAD, ranges), sent
    with a year-long immutable cache lifetime."""

    async def check_config(self) -> None:
        # Without a build every file is a 404 (the page says how to build them), not a 500.
        if self.directory is not None and await asyncio.to_thread(os.path.isdir, self.directory):
            await super().check_config()

    def file_response(
        self, full_path: str | os.PathLike[str], stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = IMMUTABLE
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def assets(build: Path = BUILD) -> ImmutableFiles:
    """The page's files, to mount at ASSETS_PATH (a 404 for each until `make graphiql` built them)."""
    return ImmutableFiles(directory=build / "graphiql", check_dir=False)
