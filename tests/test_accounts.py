"""Customers sign up and sign in; tokens refresh, rotate and revoke; staff are created."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from gateway.app import create_app
from gateway.sessions import LocalRevokedSessions
from gateway.settings import load_settings
from models import Account, RefreshToken

REGISTER = """
mutation($input: CustomerRegisterInput!) {
  customerRegister(input: $input) { customer { id email firstName } userErrors { field code message } }
}"""
TOKEN = """
mutation($email: String!, $password: String!) {
  tokenCreate(email: $email, password: $password) { accessToken refreshToken customer { email } userErrors { field code message } }
}"""
REFRESH = "mutation($t: String!) { tokenRefresh(refreshToken: $t) { accessToken refreshToken userErrors { code } } }"
REVOKE = "mutation($t: String!) { tokenRevoke(refreshToken: $t) { revoked } }"
ME = "{ me { email firstName isStaff permissions addresses { city } } }"


def unique_email() -> str:
    return f"Shopper.{uuid.uuid4().hex[:8]}@Example.com"


async def me(client, token: str | None):
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = await client.post("/graphql", json={"query": ME}, headers=headers)
    return response.json()["data"]["me"]


async def test_register_sign_in_and_me(gql, client):
    email = unique_email()
    data = await gql.data(REGISTER, {"input": {"email": email, "password": "correct horse", "firstName": "Ada"}})
    assert data["customerRegister"]["userErrors"] == []
    assert data["customerRegister"]["customer"]["email"] == email.lower()

    tokens = (await gql.data(TOKEN, {"email": email.upper(), "password": "correct horse"}))["tokenCreate"]
    assert tokens["userErrors"] == [] and tokens["accessToken"] and tokens["refreshToken"]
    assert await me(client, tokens["accessToken"]) == {
        "email": email.lower(),
        "firstName": "Ada",
        "isStaff": False,
        "permissions": [],
        "addresses": [],
    }
    assert await me(client, None) is None
    # A token that is not one is refused outright (the client should refresh or sign in again).
    refused = await client.post("/graphql", json={"query": ME}, headers={"authorization": "Bearer not-a-token"})
    assert refused.status_code == 401 and refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_email_is_unique_case_insensitively_and_changes_nothing(gql):
    email = unique_email()
    await gql.data(REGISTER, {"input": {"email": email, "password": "correct horse"}})
    before = await Account.all().count()
    data = await gql.data(REGISTER, {"input": {"email": email.swapcase(), "password": "another one"}})
    assert data["customerRegister"] == {
        "customer": None,
        "userErrors": [
            {"field": ["email"], "code": "DUPLICATE", "message": "An account with this email already exists."}
        ],
    }
    assert await Account.all().count() == before


async def test_password_policy_and_email_format(gql):
    before = await Account.all().count()
    cases = [("short", "PASSWORD_TOO_SHORT"), ("12345678901", "PASSWORD_TOO_COMMON")]
    for password, code in cases:
        data = await gql.data(REGISTER, {"input": {"email": unique_email(), "password": password}})
        assert [e["code"] for e in data["customerRegister"]["userErrors"]] == [code]
    email = unique_email()
    data = await gql.data(REGISTER, {"input": {"email": email, "password": email}})
    assert [e["code"] for e in data["customerRegister"]["userErrors"]] == ["PASSWORD_TOO_SIMILAR"]
    data = await gql.data(REGISTER, {"input": {"email": "not an email", "password": "correct horse"}})
    assert data["customerRegister"]["userErrors"][0] == {
        "field": ["email"],
        "code": "INVALID_EMAIL",
        "message": "Enter a valid email address.",
    }
    assert await Account.all().count() == before


async def test_wrong_credentials_do_not_say_which_part(gql):
    email = unique_email()
    await gql.data(REGISTER, {"input": {"email": email, "password": "correct horse"}})
    wrong_password = (await gql.data(TOKEN, {"email": email, "password": "wrong horse"}))["tokenCreate"]
    unknown_email = (await gql.data(TOKEN, {"email": unique_email(), "password": "correct horse"}))["tokenCreate"]
    assert (
        wrong_password
        == unknown_email
        == {
            "accessToken": None,
            "refreshToken": None,
            "customer": None,
            "userErrors": [
                {"field": ["email"], "code": "INVALID_CREDENTIALS", "message": "The email or password is not correct."}
            ],
        }
    )


async def signed_up(gql) -> dict:
    email = unique_email()
    await gql.data(REGISTER, {"input": {"email": email, "password": "correct horse"}})
    return (await gql.data(TOKEN, {"email": email, "password": "correct horse"}))["tokenCreate"]


async def rotated_long_ago(refresh_token: str) -> None:
    """As if `refresh_token` had been rotated a minute ago: outside the grace window."""
    digest = hashlib.sha256(refresh_token.encode()).hexdigest()
    await RefreshToken.filter(token_hash=digest).update(revoked_at=datetime.now(UTC) - timedelta(minutes=1))


async def test_refresh_rotates_and_reuse_revokes_the_family(gql, client):
    first = await signed_up(gql)
    email = first["customer"]["email"]
    second = (await gql.data(REFRESH, {"t": first["refreshToken"]}))["tokenRefresh"]
    assert second["userErrors"] == [] and second["refreshToken"] != first["refreshToken"]
    assert (await me(client, second["accessToken"]))["email"] == email
    # The used token comes back after the grace window: refused, and its successor dies with it,
    # access token included, at once.
    await rotated_long_ago(first["refreshToken"])
    assert (await gql.data(REFRESH, {"t": first["refreshToken"]}))["tokenRefresh"]["userErrors"] == [
        {"code": "INVALID_TOKEN"}
    ]
    assert (await gql.data(REFRESH, {"t": second["refreshToken"]}))["tokenRefresh"]["userErrors"] == [
        {"code": "INVALID_TOKEN"}
    ]
    assert await me(client, second["accessToken"]) is None


async def test_a_refresh_repeated_within_the_grace_window_gets_the_same_pair(gql, client):
    first = await signed_up(gql)
    second = (await gql.data(REFRESH, {"t": first["refreshToken"]}))["tokenRefresh"]
    again = (await gql.data(REFRESH, {"t": first["refreshToken"]}))["tokenRefresh"]
    assert again == second and second["userErrors"] == []
    assert await me(client, again["accessToken"]) is not None
    # The session goes on: the successor rotates as usual ...
    third = (await gql.data(REFRESH, {"t": second["refreshToken"]}))["tokenRefresh"]
    assert third["userErrors"] == [] and third["refreshToken"] not in (first["refreshToken"], second["refreshToken"])
    # ... and once it has been used, the first token coming back is a reuse, grace window or not.
    assert (await gql.data(REFRESH, {"t": first["refreshToken"]}))["tokenRefresh"]["userErrors"] == [
        {"code": "INVALID_TOKEN"}
    ]
    assert (await gql.data(REFRESH, {"t": third["refreshToken"]}))["tokenRefresh"]["userErrors"] == [
        {"code": "INVALID_TOKEN"}
    ]


async def test_a_signed_out_token_gets_no_grace(gql):
    tokens = await signed_up(gql)
    assert (await gql.data(REVOKE, {"t": tokens["refreshToken"]}))["tokenRevoke"]["revoked"] is True
    assert (await gql.data(REFRESH, {"t": tokens["refreshToken"]}))["tokenRefresh"]["userErrors"] == [
        {"code": "INVALID_TOKEN"}
    ]


async def test_concurrent_refreshes_of_one_token_keep_the_session(db, gql, client):
    if db.name != "postgres":
        pytest.skip("SQLite serialises every transaction: concurrency is proved on PostgreSQL")
    for _ in range(5):
        tokens = await signed_up(gql)
        results = await asyncio.gather(*(gql.data(REFRESH, {"t": tokens["refreshToken"]}) for _ in range(4)))
        pairs = [result["tokenRefresh"] for result in results]
        assert all(pair["userErrors"] == [] for pair in pairs), pairs
        assert len({(pair["accessToken"], pair["refreshToken"]) for pair in pairs}) == 1
        assert await me(client, pairs[0]["accessToken"]) is not None
        assert (await gql.data(REFRESH, {"t": pairs[0]["refreshToken"]}))["tokenRefresh"]["userErrors"] == []


async def test_revoke_signs_out(gql, client):
    tokens = await signed_up(gql)
    other_device = (await gql.data(TOKEN, {"email": tokens["customer"]["email"], "password": "correct horse"}))[
        "tokenCreate"
    ]
    assert await me(client, tokens["accessToken"]) is not None
    assert (await gql.data(REVOKE, {"t": tokens["refreshToken"]}))["tokenRevoke"]["revoked"] is True
    assert (await gql.data(REFRESH, {"t": tokens["refreshToken"]}))["tokenRefresh"]["userErrors"] == [
        {"code": "INVALID_TOKEN"}
    ]
    # The access token stops at once, not when it expires; another session of the account goes on.
    assert await me(client, tokens["accessToken"]) is None
    assert await me(client, other_device["accessToken"]) is not None
    assert (await gql.data(REVOKE, {"t": "never-issued"}))["tokenRevoke"]["revoked"] is False


async def test_a_revocation_reaches_every_worker_through_redis(db, redis_url):
    settings = load_settings({"DATABASE_URL": db.url, "REDIS_URL": redis_url, "RATE_LIMIT_PER_SECOND": "0"})
    workers = [create_app(settings), create_app(settings)]  # two processes' apps: nothing shared but Redis
    clients = [
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway.test") for app in workers
    ]
    try:
        email = unique_email()
        await clients[0].post(
            "/graphql", json={"query": REGISTER, "variables": {"input": {"email": email, "password": "correct horse"}}}
        )
        tokens = (
            await clients[0].post(
                "/graphql", json={"query": TOKEN, "variables": {"email": email, "password": "correct horse"}}
            )
        ).json()
        tokens = tokens["data"]["tokenCreate"]
        assert await me(clients[1], tokens["accessToken"]) is not None
        await clients[0].post("/graphql", json={"query": REVOKE, "variables": {"t": tokens["refreshToken"]}})
        assert await me(clients[1], tokens["accessToken"]) is None
    finally:
        for http in clients:
            await http.aclose()


def test_revoked_sessions_are_forgotten_when_their_tokens_expire():
    revoked = LocalRevokedSessions(max_entries=3)
    revoked.add_now("a", 10, 0.0)
    assert revoked.contains_now("a", 9.9) and not revoked.contains_now("a", 10.0) and not revoked.contains_now("b", 0.0)
    for n, session in enumerate("bcde"):
        revoked.add_now(session, 10, 1.0 + n)
    assert len(revoked.entries) == 3 and not revoked.contains_now("a", 5.0)
    revoked.add_now("f", 10, 50.0)  # everything older has expired by now
    assert list(revoked.entries) == ["f"]


async def test_refresh_tokens_are_stored_only_as_hashes(gql):
    email = unique_email()
    await gql.data(REGISTER, {"input": {"email": email, "password": "correct horse"}})
    tokens = (await gql.data(TOKEN, {"email": email, "password": "correct horse"}))["tokenCreate"]
    stored = await RefreshToken.filter(account__email=email.lower()).values_list("token_hash", flat=True)
    assert stored and tokens["refreshToken"] not in stored and all(len(h) == 64 for h in stored)


ADDRESS = """mutation($a: AddressInput!) { customerAddressCreate(address: $a) { address { id city country } userErrors { field code } } }"""


async def test_saved_addresses_are_validated_and_private(client):
    from models import Address
    from tests.staff import bearer, token_for

    ada, eve = bearer(await token_for(staff=False)), bearer(await token_for(staff=False))
    address = {
        "firstName": "Ada",
        "lastName": "L",
        "line1": "1 Analytical St",
        "city": "London",
        "postalCode": "N1",
        "country": "gb",
    }
    created = (await client.post("/graphql", json={"query": ADDRESS, "variables": {"a": address}}, headers=ada)).json()
    saved = created["data"]["customerAddressCreate"]["address"]
    assert saved["country"] == "GB" and saved["city"] == "London"
    me = (await client.post("/graphql", json={"query": "{ me { addresses { city } } }"}, headers=ada)).json()
    assert me["data"]["me"]["addresses"] == [{"city": "London"}]

    before = await Address.all().count()
    bad = (
        await client.post(
            "/graphql", json={"query": ADDRESS, "variables": {"a": {**address, "country": "Britain"}}}, headers=ada
        )
    ).json()
    assert bad["data"]["customerAddressCreate"]["userErrors"] == [
        {"field": ["address", "country"], "code": "UNKNOWN_COUNTRY"}
    ]
    blank = (
        await client.post(
            "/graphql", json={"query": ADDRESS, "variables": {"a": {**address, "city": " "}}}, headers=ada
        )
    ).json()
    assert blank["data"]["customerAddressCreate"]["userErrors"] == [{"field": ["address", "city"], "code": "REQUIRED"}]
    delete = "mutation($id: ID!) { customerAddressDelete(id: $id) { deletedId userErrors { code } } }"
    stolen = (
        await client.post("/graphql", json={"query": delete, "variables": {"id": saved["id"]}}, headers=eve)
    ).json()
    assert stolen["data"]["customerAddressDelete"] == {"deletedId": None, "userErrors": [{"code": "NOT_FOUND"}]}
    assert await Address.all().count() == before
    mine = (await client.post("/graphql", json={"query": delete, "variables": {"id": saved["id"]}}, headers=ada)).json()
    assert mine["data"]["customerAddressDelete"]["deletedId"] == saved["id"]
