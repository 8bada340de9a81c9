"""Posting files as a client does: the GraphQL multipart request spec, through the test client.

    response = await post_files(client, MUTATION, {"productId": pid}, {"file": ("a.jpg", data, "image/jpeg")},
                                headers=bearer(token))

`files` maps a variable path (`file`, `input.file`, `files.0`) to `(filename, bytes, content type)`;
each becomes `null` in `operations.variables`, a `map` entry and a file part, in the spec's order
(operations, map, then the files), as apollo-upload-client sends them.
"""

from __future__ import annotations

import json
from typing import Any

import httpx


def multipart_parts(
    query: str, variables: dict[str, Any], files: dict[str, tuple[str, bytes, str]]
) -> tuple[dict[str, str], dict[str, tuple[str, bytes, str]]]:
    """The form fields and file parts of a multipart GraphQL request (httpx's `data` and `files`)."""
    variables = json.loads(json.dumps(variables))  # a copy the placeholders go into
    mapping: dict[str, list[str]] = {}
    parts: dict[str, tuple[str, bytes, str]] = {}
    for index, (path, file) in enumerate(files.items()):
        _set_null(variables, path.split("."))
        mapping[str(index)] = [f"variables.{path}"]
        parts[str(index)] = file
    fields = {"operations": json.dumps({"query": query, "variables": variables}), "map": json.dumps(mapping)}
    return fields, parts


async def post_files(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any],
    files: dict[str, tuple[str, bytes, str]],
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """POST a mutation with files to /graphql as a multipart request."""
    fields, parts = multipart_parts(query, variables, files)
    return await client.post("/graphql", data=fields, files=parts, headers=headers or {})


def _set_null(target: Any, keys: list[str]) -> None:
    *parents, last = keys
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target.setdefault(key, {})
    if isinstance(target, list):
        target[int(last)] = None
    else:
        target[last] = None


async def serve_counting_reads(app: Any, request: httpx.Request) -> tuple[int, int]:
    """Run the ASGI app on `request` by hand: its status, and how many times it asked for the body
    (0: answered without reading a byte, as a refusal before the upload must be)."""
    body = request.read()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in request.headers.items()],
        "client": ("127.0.0.1", 1),
        "server": ("gateway.test", 80),
    }
    reads = 0
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app(scope, receive, send)
    return statuses[0], reads
