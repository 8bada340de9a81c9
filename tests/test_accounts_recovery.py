"""A forgotten password, through the GraphQL API as a storefront uses it: the link arrives by email
at a real SMTP server (aiosmtpd), the token is read out of it as a person's click would, and set
against what the database holds."""

from __future__ import annotations

import hashlib
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from gateway.settings import load_settings
from models import Account, AccountToken, OutboxEvent, Permission, SentEmail
from models.changes import ACCOUNT_MESSAGE
from resolvers import account_tokens, accounts_admin
from resolvers.account_tokens import LinkRules
from resolvers.errors import DomainError
from tests.account_mail import Mailbox, address, link_in, token_in
from tests.conftest import GraphQLClient
from tests.test_emails import parts
from tests.test_rate_limits import client_from

PASSWORD = "long enough password"
NEW_PASSWORD = "a brand new passphrase"
RESET_PAGE = "http://localhost:3000/account/reset"

REQUEST = """mutation($e: String!, $u: String!) {
  customerRequestPasswordReset(email: $e, redirectUrl: $u) { userErrors { field code message } }
}"""
RESET = """mutation($t: String!, $p: String!) {
  customerResetPassword(token: $t, password: $p) {
    accessToken refreshToken customer { email emailConfirmed } userErrors { field code }
  }
}"""
SIGN_IN = """mutation($e: String!, $p: String!) {
  tokenCreate(email: $e, password: $p) { accessToken refreshToken userErrors { code } }
}"""
REFRESH = "mutation($r: String!) { tokenRefresh(refreshToken: $r) { accessToken userErrors { code } } }"
CHANGE_PASSWORD = """mutation($c: String!, $n: String!) {
  customerChangePassword(currentPassword: $c, newPassword: $n) { accessToken userErrors { code } }
}"""


async def register(gql: GraphQLClient, email: str) -> None:
    register = "mutation($i: CustomerRegisterInput!) { customerRegister(input: $i) { userErrors { code } } }"
    data = await gql.data(register, {"i": {"email": email, "password": PASSWORD, "firstName": "Grace"}})
    assert data["customerRegister"]["userErrors"] == []


async def reset_link(gql: GraphQLClient, mailbox: Mailbox, email: str) -> str:
    data = await gql.data(REQUEST, {"e": email, "u": RESET_PAGE})
    assert data["customerRequestPasswordReset"]["userErrors"] == []
    [message] = [m for m in await mailbox() if m["Subject"] == "Reset your password" and m["To"] == email]
    return token_in(message)


async def reset(gql: GraphQLClient, token: str, password: str = NEW_PASSWORD) -> dict[str, Any]:
    result: dict[str, Any] = (await gql.data(RESET, {"t": token, "p": password}))["customerResetPassword"]
    return result


async def sign_in(gql: GraphQLClient, email: str, password: str) -> dict[str, Any]:
    result: dict[str, Any] = (await gql.data(SIGN_IN, {"e": email, "p": password}))["tokenCreate"]
    return result


async def test_a_reset_link_sets_a_new_password_ends_every_session_and_signs_in(db, gql, mailbox):
    email = address()
    await register(gql, email)
    before = await sign_in(gql, email, PASSWORD)
    data = await gql.data(REQUEST, {"e": email.upper(), "u": RESET_PAGE})
    assert data == {"customerRequestPasswordReset": {"userErrors": []}}
    [message] = [m for m in await mailbox() if m["Subject"] == "Reset your password"]
    assert message["To"] == email
    link = link_in(message)
    assert link.startswith(RESET_PAGE + "?token=")
    text, _ = parts(message)
    assert "Hello Grace," in text

    signed_in = await reset(gql, token_in(message))
    assert signed_in["userErrors"] == [] and signed_in["accessToken"] and signed_in["refreshToken"]
    assert signed_in["customer"] == {"email": email, "emailConfirmed": True}
    # The new session works; every earlier one is over, refresh and access tokens alike.
    me = await gql.http.post(
        "/graphql", json={"query": "{ me { email } }"}, headers={"authorization": f"Bearer {signed_in['accessToken']}"}
    )
    assert me.json()["data"]["me"]["email"] == email
    old = await gql.http.post(
        "/graphql", json={"query": "{ me { email } }"}, headers={"authorization": f"Bearer {before['accessToken']}"}
    )
    assert old.json()["data"]["me"] is None
    refreshed = (await gql.data(REFRESH, {"r": before["refreshToken"]}))["tokenRefresh"]
    assert refreshed["userErrors"] == [{"code": "INVALID_TOKEN"}]
    assert (await sign_in(gql, email, PASSWORD))["userErrors"] == [{"code": "INVALID_CREDENTIALS"}]
    assert (await sign_in(gql, email, NEW_PASSWORD))["userErrors"] == []
    # Single use.
    again = await reset(gql, token_in(message), "yet another passphrase")
    assert again["userErrors"] == [{"field": ["token"], "code": "INVALID_TOKEN"}] and again["accessToken"] is None


async def test_staff_reset_their_password_the_same_way(db, gql, mailbox):
    email = address()
    await accounts_admin.create_staff(email, PASSWORD, [Permission.MANAGE_ORDERS])
    token = await reset_link(gql, mailbox, email)
    assert (await reset(gql, token))["userErrors"] == []
    assert (await sign_in(gql, email, NEW_PASSWORD))["userErrors"] == []


async def test_an_unknown_address_gets_the_same_answer_and_no_email(db, gql, mailbox):
    known, unknown = address(), address()
    await register(gql, known)
    inactive = address()
    await accounts_admin.create_staff(inactive, PASSWORD, [])
    await Account.filter(email=inactive).update(is_active=False)
    await mailbox()  # the confirmation emails of the registrations, out of the way
    answers = [await gql.post(REQUEST, {"e": email, "u": RESET_PAGE}) for email in (known, unknown, inactive)]
    assert answers[0] == answers[1] == answers[2]
    assert answers[0]["data"] == {"customerRequestPasswordReset": {"userErrors": []}}
    received = [m["To"] for m in await mailbox() if m["Subject"] == "Reset your password"]
    assert received == [known]
    assert not await AccountToken.filter(account__email__in=[unknown, inactive]).exists()


async def test_a_link_leads_only_to_a_storefront(db, gql, mailbox):
    email = address()
    await register(gql, email)
    tokens = await AccountToken.filter(account__email=email).count()
    for url in (
        "https://evil.example.com/reset",
        "http://localhost:3000.evil.example.com/reset",
        "http://localhost:3001/reset",
        "https://localhost:3000/reset",  # another scheme is another origin
        "http://user@localhost:3000/reset",
        "//evil.example.com/reset",
        "javascript:alert(1)",
        "/account/reset",
        "http://localhost:3000/reset#fragment",
        "http://localhost:3000/reset\nBcc: x@example.com",
        "http://localhost:3000/" + "a" * 2000,
    ):
        data = await gql.data(REQUEST, {"e": email, "u": url})
        [error] = data["customerRequestPasswordReset"]["userErrors"]
        assert (error["code"], error["field"]) == ("REDIRECT_URL_NOT_ALLOWED", ["redirectUrl"]), url
        assert "STOREFRONT_URLS" in error["message"]
    assert await AccountToken.filter(account__email=email).count() == tokens
    # A page with a query of its own keeps it: the token is added to it.
    await gql.data(REQUEST, {"e": email, "u": "http://127.0.0.1:3000/reset?lang=de"})
    [message] = [m for m in await mailbox() if m["Subject"] == "Reset your password"]
    assert link_in(message).startswith("http://127.0.0.1:3000/reset?lang=de&token=")


def test_storefront_paths_are_prefixes_of_whole_segments():
    rules = LinkRules(storefronts=("https://shop.example.com/account", "https://other.example.com"))
    assert account_tokens.link_base("https://shop.example.com/account/reset", rules)
    assert account_tokens.link_base("https://shop.example.com/account", rules)
    assert account_tokens.link_base("https://SHOP.example.com/account/x", rules)  # host names ignore case
    assert account_tokens.link_base("https://other.example.com/anything?x=1", rules)
    assert account_tokens.link_base(None, rules) == "https://shop.example.com/account"
    for refused in ("https://shop.example.com/accounting", "https://shop.example.com/", "http://other.example.com/"):
        with pytest.raises(DomainError):
            account_tokens.link_base(refused, rules)
    with pytest.raises(ValueError):
        account_tokens.storefronts("ftp://shop.example.com")
    with pytest.raises(ValueError):
        account_tokens.storefronts("https://shop.example.com/?x=1")


async def test_the_token_is_stored_only_as_its_hash(db, gql, mailbox):
    email = address()
    await register(gql, email)
    token = await reset_link(gql, mailbox, email)
    [stored] = await AccountToken.filter(account__email=email, purpose="PASSWORD_RESET")
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    # Nowhere in the rows written for it: the token, the outbox event, the email (blanked once sent).
    rows = [
        *(await AccountToken.filter(account__email=email).values()),
        *(await OutboxEvent.filter(kind=ACCOUNT_MESSAGE).order_by("-id").limit(20).values()),
        *(await SentEmail.filter(recipient=email).values()),
    ]
    assert not [row for row in rows if token in repr(row)]
    [sent] = await SentEmail.filter(recipient=email, kind=account_tokens.PASSWORD_RESET)
    assert sent.status == "SENT" and sent.message == ""


async def test_an_expired_link_is_refused(db, gql, mailbox):
    email = address()
    await register(gql, email)
    token = await reset_link(gql, mailbox, email)
    await AccountToken.filter(token_hash=account_tokens.digest(token)).update(
        expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    assert (await reset(gql, token))["userErrors"] == [{"field": ["token"], "code": "INVALID_TOKEN"}]
    assert (await sign_in(gql, email, PASSWORD))["userErrors"] == []


async def test_a_reset_ends_the_other_links_and_a_password_change_ends_them_all(db, gql, mailbox):
    email = address()
    await register(gql, email)
    first = await reset_link(gql, mailbox, email)
    second = await reset_link(gql, mailbox, email)
    assert (await reset(gql, second))["userErrors"] == []
    assert (await reset(gql, first))["userErrors"] == [{"field": ["token"], "code": "INVALID_TOKEN"}]
    third = await reset_link(gql, mailbox, email)
    signed_in = await sign_in(gql, email, NEW_PASSWORD)
    changed = await gql.http.post(
        "/graphql",
        json={"query": CHANGE_PASSWORD, "variables": {"c": NEW_PASSWORD, "n": "changed once more"}},
        headers={"authorization": f"Bearer {signed_in['accessToken']}"},
    )
    assert changed.json()["data"]["customerChangePassword"]["userErrors"] == []
    assert (await reset(gql, third))["userErrors"] == [{"field": ["token"], "code": "INVALID_TOKEN"}]


async def test_a_refused_password_leaves_the_link_usable(db, gql, mailbox):
    email = address()
    await register(gql, email)
    token = await reset_link(gql, mailbox, email)
    for password, code in (
        ("short", "PASSWORD_TOO_SHORT"),
        ("12345678901", "PASSWORD_TOO_COMMON"),
        (email, "PASSWORD_TOO_SIMILAR"),
    ):
        refused = await reset(gql, token, password)
        assert refused["userErrors"] == [{"field": ["password"], "code": code}] and refused["accessToken"] is None
    assert (await sign_in(gql, email, PASSWORD))["userErrors"] == []
    assert (await reset(gql, token))["userErrors"] == []


async def test_tokens_that_were_never_issued_are_refused(db, gql):
    for token in ("", "x", "a" * 5000, account_tokens.token_of("made up", "not the key")):
        assert (await reset(gql, token))["userErrors"] == [{"field": ["token"], "code": "INVALID_TOKEN"}]


async def request_code(client: httpx.AsyncClient, email: str) -> str:
    body = (await client.post("/graphql", json={"query": REQUEST, "variables": {"e": email, "u": RESET_PAGE}})).json()
    if body.get("errors"):
        return str(body["errors"][0]["extensions"]["code"])
    return "TAKEN" if body["data"]["customerRequestPasswordReset"]["userErrors"] == [] else "REFUSED"


async def test_requests_are_limited_per_client_and_per_address(db):
    app = create_app(load_settings({"DATABASE_URL": db.url, "LOGIN_ATTEMPTS_PER_MINUTE": "4"}))
    victim = address()
    async with client_from(app, "198.51.100.70") as one, client_from(app, "198.51.100.71") as other:
        # One address: two at once (half the sign-in limit), from whichever client.
        assert [await request_code(one, victim), await request_code(other, victim)] == ["TAKEN", "TAKEN"]
        assert await request_code(one, victim) == "RATE_LIMITED"
        # One client: four, to any addresses.
        codes = [await request_code(other, address()) for _ in range(4)]
        assert codes == ["TAKEN"] * 3 + ["RATE_LIMITED"]
        response = await other.post("/graphql", json={"query": REQUEST, "variables": {"e": address(), "u": RESET_PAGE}})
        assert int(response.headers["retry-after"]) >= 1


@pytest.mark.slow
async def test_known_and_unknown_addresses_take_about_as_long(db, gql):
    known = address()
    await register(gql, known)

    async def timed(email: str) -> float:
        started = time.perf_counter()
        await gql.data(REQUEST, {"e": email, "u": RESET_PAGE})
        return time.perf_counter() - started

    for email in (known, address()):  # warm up both paths
        await timed(email)
    known_times, unknown_times = [], []
    for _ in range(15):
        known_times.append(await timed(known))
        unknown_times.append(await timed(address()))
    slower, faster = sorted((statistics.median(known_times), statistics.median(unknown_times)), reverse=True)
    # Loose: the same statements but one INSERT; a lookup that skipped the work would be several times faster.
    assert slower < 2 * faster + 0.005, (known_times, unknown_times)


async def test_used_and_expired_links_are_pruned_and_live_ones_kept(db, gql, mailbox):
    email = address()
    await register(gql, email)
    used, expired, live = [await reset_link(gql, mailbox, email) for _ in range(3)]
    await AccountToken.filter(token_hash=account_tokens.digest(used)).update(used_at=datetime.now(UTC))
    await AccountToken.filter(token_hash=account_tokens.digest(expired)).update(
        expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    assert await account_tokens.prune() >= 2  # and whatever earlier tests left used or expired
    left = {row.token_hash for row in await AccountToken.filter(account__email=email, purpose="PASSWORD_RESET")}
    assert left == {account_tokens.digest(live)}
    assert await account_tokens.prune() == 0
    assert (await reset(gql, live))["userErrors"] == []
