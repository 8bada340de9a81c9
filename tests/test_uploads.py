"""File uploads over HTTP: the GraphQL multipart request spec, as gateway/graphql_view.py reads it.

A small schema of its own (one mutation taking a file, for MANAGE_PRODUCTS) behind the gateway's
view and body limit, so these rules are checked apart from any domain: who may send a body at
all (before it is read), mutations only, the spec's `operations`/`map` rules, and the size limit
answered with 413 before the rest of the body is read.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import httpx
import pytest
import strawberry
from starlette.applications import Starlette
from starlette.routing import Route
from strawberry.file_uploads import Upload
from strawberry.schema.config import StrawberryConfig
from strawberry.types import Info

from gateway.graphql_view import GatewayGraphQL
from gateway.middleware import BodyLimit
from models import Permission
from schema.context import Context
from schema.permissions import requires
from schema.scalars import SCALARS
from schema.uploads import upload_permissions, uploaded_file
from tests.staff import SECRET, bearer, token_for
from tests.uploads import multipart_parts, post_files, serve_counting_reads

LIMIT = 64 * 1024


@strawberry.type
class Query:
    ping: str = "pong"


@strawberry.type
class Mutation:
    @strawberry.mutation(extensions=requires(Permission.MANAGE_PRODUCTS))
    async def echo(self, info: Info[Context, Any], file: Upload, note: str | None = None) -> str:
        uploaded = uploaded_file(file, "file")
        return f"{uploaded.filename}:{uploaded.content_type}:{len(uploaded.stream.read())}:{note}"

    @strawberry.mutation(extensions=requires(Permission.MANAGE_PRODUCTS))
    async def count(self, files: Annotated[list[Upload], strawberry.argument()]) -> int:
        return len(files)

    @strawberry.mutation
    def nothing(self) -> int:
        return 0


ECHO = "mutation($file: Upload!, $note: String) { echo(file: $file, note: $note) }"
SCHEMA = strawberry.Schema(query=Query, mutation=Mutation, config=StrawberryConfig(scalar_map=SCALARS))


@pytest.fixture(scope="module")
def upload_app() -> Any:
    view = GatewayGraphQL(SCHEMA, currency="EUR", secret_key=SECRET, graphiql=False)
    return BodyLimit(Starlette(routes=[Route("/graphql", view)]), max_bytes=4096, upload_max_bytes=LIMIT)


@pytest.fixture
async def uploads(db: Any, upload_app: Any) -> Any:
    transport = httpx.ASGITransport(app=upload_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
        yield http


def test_the_permissions_of_upload_fields_come_from_the_schema():
    assert upload_permissions(SCHEMA) == {Permission.MANAGE_PRODUCTS}


async def test_a_file_reaches_the_mutation_as_its_variable(uploads):
    staff = bearer(await token_for(Permission.MANAGE_PRODUCTS))
    response = await post_files(
        uploads, ECHO, {"note": "hi"}, {"file": ("a.txt", b"hello", "text/plain")}, headers=staff
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"data": {"echo": "a.txt:text/plain:5:hi"}}
    files = {"files.0": ("a", b"1", "text/plain"), "files.1": ("b", b"2", "text/plain")}
    response = await post_files(
        uploads, "mutation($files: [Upload!]!) { count(files: $files) }", {"files": [None, None]}, files, staff
    )
    assert response.json() == {"data": {"count": 2}}


async def test_one_file_may_fill_several_variables(uploads):
    staff = bearer(await token_for(Permission.MANAGE_PRODUCTS))
    fields = {
        "operations": json.dumps(
            {"query": "mutation($f: [Upload!]!) { count(files: $f) }", "variables": {"f": [None, None]}}
        ),
        "map": json.dumps({"0": ["variables.f.0", "variables.f.1"]}),
    }
    response = await uploads.post("/graphql", data=fields, files={"0": ("a", b"1", "text/plain")}, headers=staff)
    assert response.json() == {"data": {"count": 2}}


async def test_nobody_but_staff_who_could_use_it_may_send_a_file(uploads):
    file = {"file": ("a.txt", b"hello", "text/plain")}
    cases = [
        ({}, 401, "UNAUTHENTICATED"),
        (bearer(await token_for(staff=False)), 403, "FORBIDDEN"),
        (bearer(await token_for(Permission.MANAGE_ORDERS)), 403, "FORBIDDEN"),
    ]
    for headers, status, code in cases:
        response = await post_files(uploads, ECHO, {}, file, headers=headers)
        assert response.status_code == status, response.text
        assert [e["extensions"]["code"] for e in response.json()["errors"]] == [code]


async def test_the_refusal_comes_before_the_body_is_read(upload_app):
    """Anonymous: answered 401 with the body never asked for (the client could still be sending)."""
    fields, parts = multipart_parts(ECHO, {}, {"file": ("a.txt", b"x" * 1000, "text/plain")})
    request = httpx.Request("POST", "http://gateway.test/graphql", data=fields, files=parts)
    status, read = await serve_counting_reads(upload_app, request)
    assert status == 401 and read == 0


async def test_a_declared_length_over_the_limit_is_answered_413_unread(upload_app):
    staff = bearer(await token_for(Permission.MANAGE_PRODUCTS))
    fields, parts = multipart_parts(ECHO, {}, {"file": ("a.bin", b"x" * (LIMIT + 1), "application/octet-stream")})
    request = httpx.Request("POST", "http://gateway.test/graphql", data=fields, files=parts, headers=staff)
    status, read = await serve_counting_reads(upload_app, request)
    assert status == 413 and read == 0


async def test_a_streamed_body_is_cut_off_at_the_limit(uploads):
    staff = bearer(await token_for(Permission.MANAGE_PRODUCTS))
    fields, parts = multipart_parts(ECHO, {}, {"file": ("a.bin", b"x" * (LIMIT * 4), "application/octet-stream")})
    request = uploads.build_request("POST", "/graphql", data=fields, files=parts, headers=staff)
    body = request.read()
    sent = 0

    async def chunks():
        nonlocal sent
        for start in range(0, len(body), 8192):
            sent += 1
            yield body[start : start + 8192]

    headers = {"content-type": request.headers["content-type"], **staff}
    response = await uploads.post("/graphql", content=chunks(), headers=headers)
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    # httpx reads the whole generator whatever the app does; the app stopped at the limit.


async def test_only_mutations_and_well_formed_maps(uploads):
    staff = bearer(await token_for(Permission.MANAGE_PRODUCTS))
    file = {"0": ("a.txt", b"hello", "text/plain")}

    async def post(operations: Any, files_map: Any) -> httpx.Response:
        fields = {"operations": json.dumps(operations), "map": json.dumps(files_map)}
        return await uploads.post("/graphql", data=fields, files=file, headers=staff)

    query = {"query": "query($f: Upload) { ping }", "variables": {"f": None}}
    response = await post(query, {"0": ["variables.f"]})
    assert response.status_code == 400 and "Only a mutation" in response.text
    echo = {"query": ECHO, "variables": {"file": None}}
    for bad_map in ({"0": ["query"]}, {"0": ["variables.other"]}, {"1": ["variables.file"]}, {"0": "variables.file"}):
        response = await post(echo, bad_map)
        assert response.status_code == 400, (bad_map, response.text)
    response = await post({"query": ECHO, "variables": {"file": "planted"}}, {"0": ["variables.file"]})
    assert response.status_code == 400  # the path must name a null
    # A plain HTML form (urlencoded) is no GraphQL request at all.
    response = await uploads.post("/graphql", data={"map": "{}", "operations": "{}"}, headers=staff)
    assert response.status_code == 415


async def test_a_file_given_as_json_is_bad_input(uploads):
    staff = bearer(await token_for(Permission.MANAGE_PRODUCTS))
    response = await uploads.post("/graphql", json={"query": ECHO, "variables": {"file": "a"}}, headers=staff)
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["BAD_USER_INPUT"]
