"""The staff audit log through the API: every admin mutation recorded (who, what, on what, with
which arguments, secrets redacted, from which request, how it ended), read with `auditLog(filter)`
by staff holding VIEW_AUDIT_LOG; and every staff mutation of the schema covered, so a new one
cannot skip it."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from starlette.datastructures import Headers, UploadFile
from strawberry.permission import PermissionExtension
from strawberry.types import get_object_definition

from gateway.jobs import AUDIT_LOG_PRUNE
from models import AuditEntry, Permission
from resolvers import accounts, accounts_admin, catalogue_admin
from resolvers.audit import REDACTED, is_secret, redact
from schema import schema
from schema.audit import Audited, plain
from schema.ids import decode_id_of, encode_id
from schema.permissions import SignedIn, Staff
from schema.root import Mutation
from tests.cache_client import gateway
from tests.staff import SECRET, bearer, token_for
from tests.test_permissions import PUBLIC_MUTATIONS

LOG = """query($f: AuditLogFilter, $first: Int, $after: String) { auditLog(filter: $f, first: $first, after: $after) {
  totalCount pageInfo { hasNextPage endCursor }
  edges { cursor node { id staffId staffEmail operation operationName targetIds changes requestId succeeded
    errorCode createdAt } } } }"""
PRODUCT_CREATE = """mutation AddProduct($name: String!) { productCreate(input: {name: $name}) {
  product { id } userErrors { code } } }"""
PRODUCT_UPDATE = """mutation($id: ID!, $name: String) { productUpdate(id: $id, input: {name: $name}) {
  product { id name } userErrors { code } } }"""
CATEGORY_DELETE = "mutation($id: ID!) { categoryDelete(id: $id) { deletedId userErrors { code } } }"
STAFF_CREATE = """mutation($input: StaffCreateInput!) { staffCreate(input: $input) {
  staff { id } userErrors { code } } }"""
WEBHOOK_CREATE = """mutation($u: String!, $e: [WebhookEvent!]!, $s: String) {
  webhookSubscriptionCreate(url: $u, events: $e, secret: $s) { subscription { id } userErrors { code } } }"""


async def _staff(*permissions: Permission) -> tuple[dict[str, str], str]:
    """Headers signing in a new staff account holding `permissions`, and its global ID."""
    email = f"audit.{uuid.uuid4().hex[:10]}@example.com"
    account = await accounts_admin.create_staff(email, "long enough password", list(permissions))
    pair = await accounts.sign_in(email, "long enough password", SECRET)
    return bearer(pair.access_token), encode_id("Customer", account.id)


async def _call(
    client: httpx.AsyncClient, headers: dict[str, str], query: str, variables: dict[str, Any], **extra: str
) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": query, "variables": variables}, headers=headers | extra)
    return dict(response.json())


async def _log(client: httpx.AsyncClient, **variables: Any) -> dict[str, Any]:
    auditor = bearer(await token_for(Permission.VIEW_AUDIT_LOG))
    body = await _call(client, auditor, LOG, variables)
    assert not body.get("errors"), body
    return dict(body["data"]["auditLog"])


def _nodes(log: dict[str, Any]) -> list[dict[str, Any]]:
    """The page's entries, each with `changes` parsed."""
    return [
        {**node, "changes": None if node["changes"] is None else json.loads(node["changes"])}
        for node in (edge["node"] for edge in log["edges"])
    ]


async def test_admin_mutations_are_recorded_with_who_what_on_what_and_from_which_request(client):
    headers, staff_id = await _staff(Permission.MANAGE_PRODUCTS)
    name = f"Audited {uuid.uuid4().hex[:6]}"
    request_id = f"audit-{uuid.uuid4().hex[:12]}"
    created = await _call(client, headers, PRODUCT_CREATE, {"name": name}, **{"x-request-id": request_id})
    product_id = created["data"]["productCreate"]["product"]["id"]
    updated = await _call(client, headers, PRODUCT_UPDATE, {"id": product_id, "name": f"{name} 2"})
    assert updated["data"]["productUpdate"]["userErrors"] == []

    log = await _log(client, f={"staffId": staff_id})
    assert log["totalCount"] == 2
    update, create = _nodes(log)  # newest first
    assert create["staffId"] == staff_id and create["staffEmail"].startswith("audit.")
    assert create["operation"] == "productCreate" and create["operationName"] == "AddProduct"
    assert create["requestId"] == request_id
    assert create["succeeded"] is True and create["errorCode"] is None
    assert create["targetIds"] == [product_id]  # what it created, from its payload
    assert create["changes"] == {"input": {"name": name}}
    assert update["operation"] == "productUpdate" and update["operationName"] is None
    assert update["targetIds"] == [product_id]
    assert update["changes"] == {"id": product_id, "input": {"name": f"{name} 2"}}
    assert update["requestId"] and update["requestId"] != request_id
    assert datetime.fromisoformat(create["createdAt"]) <= datetime.fromisoformat(update["createdAt"])


async def test_secrets_are_redacted(client):
    headers, staff_id = await _staff(Permission.MANAGE_STAFF, Permission.MANAGE_APPS)
    password = f"pw-{uuid.uuid4().hex}"
    email = f"new.{uuid.uuid4().hex[:8]}@example.com"
    staff = await _call(
        client, headers, STAFF_CREATE, {"input": {"email": email, "password": password, "permissions": []}}
    )
    assert staff["data"]["staffCreate"]["userErrors"] == [], staff
    secret = "whsec_" + "c2VjcmV0IHNpZ25pbmcga2V5IGZvciB0ZXN0cw=="
    hook = await _call(
        client, headers, WEBHOOK_CREATE, {"u": "https://93.184.216.34/hook", "e": ["ORDER_PAID"], "s": secret}
    )
    assert hook["data"]["webhookSubscriptionCreate"]["userErrors"] == [], hook

    hook_entry, staff_entry = _nodes(await _log(client, f={"staffId": staff_id}))
    assert staff_entry["changes"] == {"input": {"email": email, "password": REDACTED, "permissions": []}}
    assert staff_entry["targetIds"] == [staff["data"]["staffCreate"]["staff"]["id"]]
    assert hook_entry["changes"] == {"url": "https://93.184.216.34/hook", "events": ["ORDER_PAID"], "secret": REDACTED}
    stored = [
        json.dumps(row, default=str)
        for row in await AuditEntry.filter(staff_email__in=[staff_entry["staffEmail"]]).values()
    ]
    assert stored and not any(password in row or secret in row for row in stored)


def test_the_redaction_rule_reads_words_of_names():
    for name in ("password", "currentPassword", "new_password", "secret", "cardToken", "apiKey", "CVC", "keys"):
        assert is_secret(name), name
    for name in ("name", "sku", "keyword", "email", "trackingNumber", "description", "productId"):
        assert not is_secret(name), name


async def test_failures_are_recorded_with_their_code_and_claim_no_change(client):
    headers, staff_id = await _staff(Permission.MANAGE_PRODUCTS)
    missing = encode_id("Category", random.randrange(2**30, 2**31))  # no category, and this test's own
    refused = await _call(client, headers, CATEGORY_DELETE, {"id": missing})
    assert refused["data"]["categoryDelete"]["userErrors"] == [{"code": "NOT_FOUND"}]
    malformed = await _call(client, headers, CATEGORY_DELETE, {"id": "not-an-id"})
    assert malformed["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    stock = await _call(
        client,
        headers,
        'mutation($v: ID!) { stockSet(variantId: $v, warehouse: "central", quantity: 1) { userErrors { code } } }',
        {"v": encode_id("ProductVariant", 1)},
    )
    assert stock["errors"][0]["extensions"]["code"] == "FORBIDDEN"  # MANAGE_INVENTORY it has not
    anonymous = await _call(client, {}, CATEGORY_DELETE, {"id": missing})
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

    forbidden, bad, not_found = _nodes(await _log(client, f={"staffId": staff_id}))
    assert (not_found["operation"], not_found["errorCode"], not_found["succeeded"]) == (
        "categoryDelete",
        "NOT_FOUND",
        False,
    )
    assert not_found["targetIds"] == [missing] and not_found["changes"] is None
    assert (bad["errorCode"], bad["changes"]) == ("BAD_USER_INPUT", None)
    assert (forbidden["operation"], forbidden["errorCode"], forbidden["changes"]) == ("stockSet", "FORBIDDEN", None)
    assert forbidden["targetIds"] == [encode_id("ProductVariant", 1)]
    # The anonymous call names nobody and is not recorded.
    assert (await _log(client, f={"targetId": missing}))["totalCount"] == 1


async def test_the_log_filters_and_pages_newest_first(client):
    headers, staff_id = await _staff(Permission.MANAGE_PRODUCTS)
    before = datetime.now(UTC) - timedelta(seconds=1)
    ids = []
    for number in range(3):
        body = await _call(client, headers, PRODUCT_CREATE, {"name": f"Paged {uuid.uuid4().hex[:6]} {number}"})
        ids.append(body["data"]["productCreate"]["product"]["id"])
    await _call(client, headers, PRODUCT_UPDATE, {"id": ids[0], "name": "Renamed"})

    mine = {"staffId": staff_id}
    first = await _log(client, f=mine, first=2)
    assert first["totalCount"] == 4 and first["pageInfo"]["hasNextPage"] is True
    second = await _log(client, f=mine, first=2, after=first["pageInfo"]["endCursor"])
    assert second["totalCount"] == 4 and second["pageInfo"]["hasNextPage"] is False
    operations = [node["operation"] for node in _nodes(first) + _nodes(second)]
    assert operations == ["productUpdate", "productCreate", "productCreate", "productCreate"]
    assert [node["targetIds"] for node in _nodes(first) + _nodes(second)][1:] == [[i] for i in reversed(ids)]

    created = await _log(client, f={**mine, "operation": "productCreate"})
    assert created["totalCount"] == 3
    about_first = await _log(client, f={"targetId": ids[0]})
    assert [node["operation"] for node in _nodes(about_first)] == ["productUpdate", "productCreate"]
    since = await _log(client, f={**mine, "since": before.isoformat()})
    assert since["totalCount"] == 4
    until = await _log(client, f={**mine, "until": before.isoformat()})
    assert until["totalCount"] == 0


async def test_an_entry_that_cannot_be_written_is_logged_and_the_mutation_still_answers(client, monkeypatch, caplog):
    headers, _ = await _staff(Permission.MANAGE_PRODUCTS)

    async def broken(**values: Any) -> AuditEntry:
        raise RuntimeError("the audit table is away")

    monkeypatch.setattr(AuditEntry, "create", broken)
    with caplog.at_level(logging.ERROR, logger="gateway.audit"):
        body = await _call(client, headers, PRODUCT_CREATE, {"name": f"Unaudited {uuid.uuid4().hex[:6]}"})
    assert body["data"]["productCreate"]["userErrors"] == [], body
    assert any("audit entry NOT recorded" in record.getMessage() for record in caplog.records)


def test_every_staff_mutation_is_audited():
    """Every mutation that is neither public nor for any signed-in account needs a staff permission,
    and each carries `Audited` around its permission check (after it in the extension list, which
    Strawberry applies inside out), whichever module declares it."""
    definition = get_object_definition(Mutation, strict=True)
    unaudited = []
    staff_mutations = 0
    for field in definition.fields:
        name = schema.config.name_converter.get_graphql_name(field)
        guards = [e for e in field.extensions if isinstance(e, PermissionExtension)]
        kinds = {type(p) for e in guards for p in e.permissions}
        audited = [i for i, e in enumerate(field.extensions) if isinstance(e, Audited)]
        if name in PUBLIC_MUTATIONS or kinds == {SignedIn}:
            assert not audited, f"{name} is not a staff mutation but is audited"
            continue
        staff_mutations += 1
        checked = field.extensions.index(guards[0]) if guards else None
        if Staff not in kinds or len(audited) != 1 or checked is None or audited[0] < checked:
            unaudited.append(name)
    assert staff_mutations >= 30  # 38 when this was written
    assert unaudited == []


async def test_entries_past_the_retention_are_pruned_by_the_housekeeping_job(db):
    async with gateway(db, AUDIT_LOG_RETENTION_DAYS="30") as (client, app):
        headers, staff_id = await _staff(Permission.MANAGE_PRODUCTS)
        for number in range(2):
            await _call(client, headers, PRODUCT_CREATE, {"name": f"Pruned {uuid.uuid4().hex[:6]} {number}"})
        old, recent = _nodes(await _log(client, f={"staffId": staff_id}))[::-1]
        aged = datetime.now(UTC) - timedelta(days=30, hours=1)
        await AuditEntry.filter(id=decode_id_of(old["id"], "AuditEntry")).update(created_at=aged)

        await app.state.jobs.app.tasks[AUDIT_LOG_PRUNE](timestamp=0)

        assert [node["id"] for node in _nodes(await _log(client, f={"staffId": staff_id}))] == [recent["id"]]
        assert (await _log(client, f={"targetId": old["targetIds"][0]}))["totalCount"] == 0


def test_an_uploaded_file_is_recorded_by_name_type_and_size_never_its_contents():
    upload = UploadFile(
        io.BytesIO(b"secret pixels"), size=13, filename="photo.png", headers=Headers({"content-type": "image/png"})
    )
    converter = schema.config.name_converter
    recorded = redact({"file": plain(upload, converter), "altText": plain("A photo", converter)})
    assert recorded == {"file": {"filename": "photo.png", "contentType": "image/png", "size": 13}, "altText": "A photo"}


async def test_a_call_cancelled_midway_is_recorded_as_cancelled(client, monkeypatch):
    """A client that disconnects cancels the execution (gateway/disconnect.py): the entry is still written."""
    headers, staff_id = await _staff(Permission.MANAGE_PRODUCTS)

    async def cancelled(*args: Any) -> None:
        raise asyncio.CancelledError

    monkeypatch.setattr(catalogue_admin, "delete_category", cancelled)
    with contextlib.suppress(asyncio.CancelledError):
        await _call(client, headers, CATEGORY_DELETE, {"id": encode_id("Category", 1)})
    (entry,) = _nodes(await _log(client, f={"staffId": staff_id}))
    assert (entry["operation"], entry["errorCode"], entry["changes"]) == ("categoryDelete", "CANCELLED", None)
