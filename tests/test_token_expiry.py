"""`tokenCreate` and `tokenRefresh` say when each token they give stops working (issue 14, point 11)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import jwt

from gateway.settings import load_settings
from models import RefreshToken
from resolvers.accounts import REFRESH_TOKEN_LIFETIME
from tests.test_accounts import REGISTER, unique_email

PAIR = "accessToken accessTokenExpiresAt refreshToken refreshTokenExpiresAt userErrors { code }"
TOKEN = f"mutation($e: String!, $p: String!) {{ tokenCreate(email: $e, password: $p) {{ {PAIR} }} }}"
REFRESH = f"mutation($t: String!) {{ tokenRefresh(refreshToken: $t) {{ {PAIR} }} }}"
ACCESS_TTL = timedelta(seconds=load_settings({}).access_token_ttl_seconds)


def moment(value: str) -> datetime:
    """An RFC 3339 date-time as the schema's DateTime promises it: with its offset, in UTC."""
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() == timedelta(0), value
    return parsed


async def sign_in(gql) -> dict:
    email = unique_email()
    await gql.data(REGISTER, {"input": {"email": email, "password": "correct horse"}})
    return (await gql.data(TOKEN, {"e": email, "p": "correct horse"}))["tokenCreate"]


async def test_sign_in_says_when_each_token_expires(gql):
    before = datetime.now(UTC)
    tokens = await sign_in(gql)
    after = datetime.now(UTC)
    assert tokens["userErrors"] == []

    access_expires = moment(tokens["accessTokenExpiresAt"])
    # Exactly what the token itself says (a JWT's `exp` is whole seconds) ...
    claims = jwt.decode(tokens["accessToken"], options={"verify_signature": False})
    assert access_expires == datetime.fromtimestamp(claims["exp"], UTC)
    # ... ACCESS_TOKEN_TTL after it was issued.
    assert before + ACCESS_TTL - timedelta(seconds=1) <= access_expires <= after + ACCESS_TTL

    refresh_expires = moment(tokens["refreshTokenExpiresAt"])
    assert before + REFRESH_TOKEN_LIFETIME <= refresh_expires <= after + REFRESH_TOKEN_LIFETIME
    digest = hashlib.sha256(tokens["refreshToken"].encode()).hexdigest()
    assert (await RefreshToken.get(token_hash=digest)).expires_at == refresh_expires  # what the check reads


async def test_a_refresh_gives_new_dates_and_its_repeat_the_same_ones(gql):
    first = await sign_in(gql)
    second = (await gql.data(REFRESH, {"t": first["refreshToken"]}))["tokenRefresh"]
    assert second["userErrors"] == [] and second["refreshToken"] != first["refreshToken"]
    assert moment(second["accessTokenExpiresAt"]) >= moment(first["accessTokenExpiresAt"])
    assert moment(second["refreshTokenExpiresAt"]) > moment(first["refreshTokenExpiresAt"])
    claims = jwt.decode(second["accessToken"], options={"verify_signature": False})
    assert moment(second["accessTokenExpiresAt"]) == datetime.fromtimestamp(claims["exp"], UTC)
    # Two tabs refreshing at once get the very same pair, dates included.
    again = (await gql.data(REFRESH, {"t": first["refreshToken"]}))["tokenRefresh"]
    assert again == second


async def test_a_refused_sign_in_or_refresh_gives_no_dates(gql):
    wrong = (await gql.data(TOKEN, {"e": unique_email(), "p": "not the password"}))["tokenCreate"]
    bogus = (await gql.data(REFRESH, {"t": "not-a-refresh-token"}))["tokenRefresh"]
    for refused in (wrong, bogus):
        assert refused["accessTokenExpiresAt"] is None and refused["refreshTokenExpiresAt"] is None
        assert refused["accessToken"] is None and refused["userErrors"]
