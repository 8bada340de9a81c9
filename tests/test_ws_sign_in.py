"""Signing in on a WebSocket the ways common clients do, over a real socket, both protocols.

Apollo Client, urql and the `graphql-ws` reference client put the token in `connection_init`
under different names; server-side clients (Python's `gql`, Node) can send an `Authorization`
header on the handshake itself. Each form must reach the same signed-in account.
"""

from __future__ import annotations

from typing import Any

import pytest

from schema.context import connection_token
from tests.live import LEGACY_WS, TRANSPORT_WS, GraphQLWebSocket, serve_in_loop
from tests.test_subscriptions import MINE, customer, place


@pytest.fixture
async def url(app):
    async with serve_in_loop(app) as ws_url:
        yield ws_url


def forms(token: str) -> dict[str, tuple[dict[str, Any], dict[str, str]]]:
    """Each way of sending `token`: (connection_init payload, handshake headers)."""
    return {
        "authorization": ({"authorization": f"Bearer {token}"}, {}),
        "Authorization": ({"Authorization": f"Bearer {token}"}, {}),
        "headers.Authorization": ({"headers": {"Authorization": f"Bearer {token}"}}, {}),
        "headers.authorization": ({"headers": {"authorization": f"Bearer {token}"}}, {}),
        "authToken": ({"authToken": token}, {}),
        "authToken with Bearer": ({"authToken": f"Bearer {token}"}, {}),
        "handshake header": ({}, {"Authorization": f"Bearer {token}"}),
    }


FORMS = list(forms("t"))


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
@pytest.mark.parametrize("form", FORMS)
async def test_each_sign_in_form_reaches_the_account(url, gql, protocol, form):
    _email, token = await customer()
    mine = await place(gql, headers={"authorization": f"Bearer {token}"})
    payload, headers = forms(token)[form]
    async with GraphQLWebSocket.open(url, protocol=protocol, payload=payload, headers=headers) as ws:
        await ws.subscribe(MINE)
        assert await ws.next_data() == {"myOrderUpdates": {"number": mine["number"], "status": "PLACED"}}


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
@pytest.mark.parametrize("form", FORMS)
async def test_a_bad_token_in_any_form_is_anonymous(url, protocol, form):
    payload, headers = forms("not-a-token")[form]
    async with GraphQLWebSocket.open(url, protocol=protocol, payload=payload, headers=headers) as ws:
        await ws.subscribe(MINE)
        refused = await ws.receive()
        assert refused["payload"]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_what_is_not_a_bearer_token_is_no_token():
    assert connection_token({}) is None
    assert connection_token({"authorization": "Basic dXNlcjpwYXNz"}) is None
    assert connection_token({"authorization": "Bearer "}) is None
    assert connection_token({"headers": "Authorization: Bearer x"}) is None
    assert connection_token({"authToken": 42}) is None
    assert connection_token({"authToken": "  "}) is None
    # The top-level header wins over one under `headers`, which wins over `authToken`.
    assert connection_token({"authorization": "Bearer a", "headers": {"Authorization": "Bearer b"}}) == "a"
    assert connection_token({"headers": {"Authorization": "Bearer b"}, "authToken": "c"}) == "b"
