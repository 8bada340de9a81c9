"""Staff with MANAGE_STAFF deactivate and activate staff accounts: sign-in, refresh and access stop at once."""

from __future__ import annotations

import uuid

from models import Account, Permission, RefreshToken
from resolvers import accounts, accounts_admin
from schema.ids import encode_id
from tests.staff import SECRET, bearer, token_for

PASSWORD = "long enough password"
STAFF = "staff { email isActive } userErrors { field code message }"
DEACTIVATE = f"mutation($id: ID!) {{ staffDeactivate(id: $id) {{ {STAFF} }} }}"
ACTIVATE = f"mutation($id: ID!) {{ staffActivate(id: $id) {{ {STAFF} }} }}"
SIGN_IN = """mutation($email: String!, $password: String!) {
  tokenCreate(email: $email, password: $password) { accessToken userErrors { code } } }"""
REFRESH = "mutation($t: String!) { tokenRefresh(refreshToken: $t) { accessToken userErrors { code } } }"
WAREHOUSES = "{ warehouses { code } }"  # needs MANAGE_INVENTORY


async def post(client, query, variables=None, headers=None) -> dict:
    response = await client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers or {})
    return response.json()


async def staff_member() -> tuple[Account, accounts.TokenPair]:
    email = f"clerk.{uuid.uuid4().hex[:10]}@example.com"
    account = await accounts_admin.create_staff(email, PASSWORD, [Permission.MANAGE_INVENTORY])
    return account, await accounts.sign_in(email, PASSWORD, SECRET)


async def test_a_deactivated_staff_member_is_signed_out_everywhere_at_once(client, db):
    admin = bearer(await token_for(Permission.MANAGE_STAFF))
    clerk, session = await staff_member()
    other_session = await accounts.sign_in(clerk.email, PASSWORD, SECRET)
    assert (await post(client, WAREHOUSES, headers=bearer(session.access_token)))["data"]["warehouses"]

    done = (await post(client, DEACTIVATE, {"id": encode_id("Customer", clerk.id)}, admin))["data"]["staffDeactivate"]
    assert done == {"staff": {"email": clerk.email, "isActive": False}, "userErrors": []}
    # Access tokens still within their lifetime: refused at the next request.
    for pair in (session, other_session):
        refused = await post(client, WAREHOUSES, headers=bearer(pair.access_token))
        assert [e["extensions"]["code"] for e in refused["errors"]] == ["UNAUTHENTICATED"]
        me = await post(client, "{ me { email } }", headers=bearer(pair.access_token))
        assert me["data"]["me"] is None
    # Refresh tokens: revoked, refused at once.
    assert await RefreshToken.filter(account_id=clerk.id, revoked_at__isnull=True).count() == 0
    refreshed = (await post(client, REFRESH, {"t": session.refresh_token}))["data"]["tokenRefresh"]
    assert refreshed == {"accessToken": None, "userErrors": [{"code": "INVALID_TOKEN"}]}
    # And no new sign-in.
    signed_in = (await post(client, SIGN_IN, {"email": clerk.email, "password": PASSWORD}))["data"]["tokenCreate"]
    assert signed_in == {"accessToken": None, "userErrors": [{"code": "INVALID_CREDENTIALS"}]}

    again = (await post(client, ACTIVATE, {"id": encode_id("Customer", clerk.id)}, admin))["data"]["staffActivate"]
    assert again == {"staff": {"email": clerk.email, "isActive": True}, "userErrors": []}
    # The old sessions stay ended, access tokens included (their sessions are on the deny-list).
    stale = await post(client, WAREHOUSES, headers=bearer(session.access_token))
    assert [e["extensions"]["code"] for e in stale["errors"]] == ["UNAUTHENTICATED"]
    refreshed = (await post(client, REFRESH, {"t": other_session.refresh_token}))["data"]["tokenRefresh"]
    assert refreshed["userErrors"] == [{"code": "INVALID_TOKEN"}]
    # A new sign-in works again.
    signed_in = (await post(client, SIGN_IN, {"email": clerk.email, "password": PASSWORD}))["data"]["tokenCreate"]
    assert signed_in["userErrors"] == []
    assert (await post(client, WAREHOUSES, headers=bearer(signed_in["accessToken"])))["data"]["warehouses"]


async def test_refusals_change_nothing(client, db):
    admin_email = f"admin.{uuid.uuid4().hex[:10]}@example.com"
    admin = await accounts_admin.create_staff(admin_email, PASSWORD, [Permission.MANAGE_STAFF])
    headers = bearer((await accounts.sign_in(admin_email, PASSWORD, SECRET)).access_token)
    shopper = await accounts.register_customer(f"shopper.{uuid.uuid4().hex[:10]}@example.com", PASSWORD)
    cases = [
        (encode_id("Customer", admin.id), "INVALID", "You cannot deactivate your own account."),
        (encode_id("Customer", shopper.id), "NOT_FOUND", "No staff account has this ID."),
        (encode_id("Customer", 2_000_000_000), "NOT_FOUND", "No staff account has this ID."),
    ]
    for global_id, code, message in cases:
        body = await post(client, DEACTIVATE, {"id": global_id}, headers)
        assert body["data"]["staffDeactivate"] == {
            "staff": None,
            "userErrors": [{"field": ["id"], "code": code, "message": message}],
        }
    for mutation in (DEACTIVATE, ACTIVATE):
        body = await post(client, mutation, {"id": encode_id("Product", 1)}, headers)
        [error] = next(iter(body["data"].values()))["userErrors"]
        assert (error["field"], error["code"]) == (["id"], "INVALID")
    assert (await Account.get(id=admin.id)).is_active and (await Account.get(id=shopper.id)).is_active
    # The admin is still signed in.
    assert (await post(client, "{ me { email } }", headers=headers))["data"]["me"] == {"email": admin_email}


async def test_only_staff_who_manage_staff(client, db):
    clerk, _ = await staff_member()
    for permission in (Permission.MANAGE_CUSTOMERS, Permission.MANAGE_ORDERS):
        headers = bearer(await token_for(permission))
        for mutation in (DEACTIVATE, ACTIVATE):
            body = await post(client, mutation, {"id": encode_id("Customer", clerk.id)}, headers)
            assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    assert (await Account.get(id=clerk.id)).is_active
