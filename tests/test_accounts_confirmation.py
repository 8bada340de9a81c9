"""Confirming the email address and changing it, through the GraphQL API, the links read out of the
emails a real SMTP server received."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.app import create_app
from gateway.settings import load_settings
from models import Account, AccountToken
from resolvers import account_tokens
from tests.account_mail import Mailbox, address, link_in, only, token_in
from tests.conftest import GraphQLClient
from tests.test_accounts_recovery import PASSWORD, reset_link, sign_in
from tests.test_emails import parts
from tests.test_rate_limits import client_from

REGISTER = """mutation($i: CustomerRegisterInput!, $u: String) {
  customerRegister(input: $i, redirectUrl: $u) { customer { email emailConfirmed } userErrors { field code } }
}"""
CONFIRM = """mutation($t: String!) {
  customerConfirmEmail(token: $t) { customer { email emailConfirmed } userErrors { field code } }
}"""
CHANGE = """mutation($e: String!, $p: String!, $u: String) {
  customerRequestEmailChange(newEmail: $e, password: $p, redirectUrl: $u) { userErrors { field code } }
}"""
ME = "{ me { email emailConfirmed } }"


async def register(gql: GraphQLClient, email: str, url: str | None = None) -> dict[str, Any]:
    variables = {"i": {"email": email, "password": PASSWORD}, "u": url}
    result: dict[str, Any] = (await gql.data(REGISTER, variables))["customerRegister"]
    return result


async def confirm(gql: GraphQLClient, token: str) -> dict[str, Any]:
    result: dict[str, Any] = (await gql.data(CONFIRM, {"t": token}))["customerConfirmEmail"]
    return result


async def as_customer(gql: GraphQLClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    pair = await sign_in(gql, email, password)
    assert pair["userErrors"] == [], pair
    return {"authorization": f"Bearer {pair['accessToken']}"}


async def test_registration_sends_a_link_that_confirms_the_address_once(db, gql, mailbox: Mailbox):
    email = address()
    registered_ = await register(gql, email, "http://localhost:3000/confirm")
    assert registered_ == {"customer": {"email": email, "emailConfirmed": False}, "userErrors": []}
    message = only(await mailbox(), "Confirm your email address")
    assert message["To"] == email and link_in(message).startswith("http://localhost:3000/confirm?token=")
    token = token_in(message)
    assert (await AccountToken.get(token_hash=account_tokens.digest(token))).purpose == "EMAIL_CONFIRMATION"
    assert await confirm(gql, token) == {"customer": {"email": email, "emailConfirmed": True}, "userErrors": []}
    assert (await confirm(gql, token))["userErrors"] == [{"field": ["token"], "code": "INVALID_TOKEN"}]
    me = await gql.http.post("/graphql", json={"query": ME}, headers=await as_customer(gql, email))
    assert me.json()["data"]["me"] == {"email": email, "emailConfirmed": True}


async def test_without_a_redirect_url_the_link_leads_to_the_first_storefront(db, gql, mailbox: Mailbox):
    await register(gql, address())
    assert link_in(only(await mailbox(), "Confirm your email address")).startswith("http://localhost:3000?token=")


async def test_a_registration_with_a_foreign_redirect_url_opens_no_account(db, gql, mailbox: Mailbox):
    email = address()
    refused = await register(gql, email, "https://evil.example.com/confirm")
    assert refused == {"customer": None, "userErrors": [{"field": ["redirectUrl"], "code": "REDIRECT_URL_NOT_ALLOWED"}]}
    assert not await Account.filter(email=email).exists()
    assert await mailbox() == []


async def test_required_confirmation_keeps_unconfirmed_customers_out_but_not_guests(db, mailbox: Mailbox):
    app = create_app(load_settings({"DATABASE_URL": db.url, "REQUIRE_EMAIL_CONFIRMATION": "1"}))
    async with client_from(app, "203.0.113.60") as http:
        gql = GraphQLClient(http)
        email = address()
        await register(gql, email)
        refused = await sign_in(gql, email, PASSWORD)
        assert refused["userErrors"] == [{"code": "EMAIL_NOT_CONFIRMED"}] and refused["accessToken"] is None
        # Only whoever knows the password learns it: a wrong one is INVALID_CREDENTIALS as ever.
        assert (await sign_in(gql, email, "not the password"))["userErrors"] == [{"code": "INVALID_CREDENTIALS"}]
        # A guest still checks out without any account.
        cart = 'mutation { cartCreate(input: {email: "guest@example.com"}) { cart { email } userErrors { code } } }'
        assert (await gql.data(cart))["cartCreate"] == {"cart": {"email": "guest@example.com"}, "userErrors": []}
        await confirm(gql, token_in(only(await mailbox(), "Confirm your email address")))
        assert (await sign_in(gql, email, PASSWORD))["userErrors"] == []


async def test_accounts_from_before_the_migration_and_staff_count_as_confirmed(db):
    # Migration 0023 marks every account already there confirmed; the test catalogue's accounts
    # predate it. Staff sign in whatever the flag says.
    from resolvers import accounts, accounts_admin
    from resolvers.accounts import TokenRules

    email = address()
    await accounts_admin.create_staff(email, PASSWORD, [])
    pair = await accounts.sign_in(email, PASSWORD, "k" * 32, TokenRules(require_confirmed_email=True))
    assert pair.account.email == email


async def test_an_email_change_takes_effect_only_through_the_new_address(db, gql, mailbox: Mailbox):
    old, new = address(), address()
    await register(gql, old)
    await confirm(gql, token_in(only(await mailbox(), "Confirm your email address")))
    headers = await as_customer(gql, old)
    ask = await gql.http.post(
        "/graphql",
        json={"query": CHANGE, "variables": {"e": new.upper(), "p": PASSWORD, "u": "http://localhost:3000/email"}},
        headers=headers,
    )
    assert ask.json()["data"]["customerRequestEmailChange"]["userErrors"] == []
    messages = await mailbox()
    notice, link = (
        only(messages, "Your email address is being changed"),
        only(messages, "Confirm your new email address"),
    )
    assert notice["To"] == old and new in parts(notice)[0] and "http" not in parts(notice)[0]
    assert link["To"] == new
    # Nothing changed yet: the old address still signs in.
    me = await gql.http.post("/graphql", json={"query": ME}, headers=headers)
    assert me.json()["data"]["me"] == {"email": old, "emailConfirmed": True}
    assert await confirm(gql, token_in(link)) == {"customer": {"email": new, "emailConfirmed": True}, "userErrors": []}
    assert (await sign_in(gql, old, PASSWORD))["userErrors"] == [{"code": "INVALID_CREDENTIALS"}]
    assert (await sign_in(gql, new, PASSWORD))["userErrors"] == []
    # The old address is free.
    assert (await register(gql, old))["userErrors"] == []


async def test_an_email_change_is_refused_without_the_password_and_answers_alike_for_a_taken_address(
    db, gql, mailbox: Mailbox
):
    mine, taken = address(), address()
    await register(gql, mine)
    await register(gql, taken)
    await mailbox()
    headers = await as_customer(gql, mine)

    async def ask(email: str, password: str) -> list[dict[str, Any]]:
        body = await gql.http.post(
            "/graphql", json={"query": CHANGE, "variables": {"e": email, "p": password}}, headers=headers
        )
        errors: list[dict[str, Any]] = body.json()["data"]["customerRequestEmailChange"]["userErrors"]
        return errors

    assert await ask(address(), "wrong password") == [{"field": ["password"], "code": "INVALID_CREDENTIALS"}]
    assert await ask("not an address", PASSWORD) == [{"field": ["newEmail"], "code": "INVALID_EMAIL"}]
    assert await ask(mine, PASSWORD) == [{"field": ["newEmail"], "code": "INVALID"}]
    assert await mailbox() == []
    assert await ask(taken, PASSWORD) == []  # as for a free address; the taken one is sent nothing
    assert [m["To"] for m in await mailbox()] == [mine]


async def test_a_password_change_or_a_newer_request_ends_an_email_change_link(db, gql, mailbox: Mailbox):
    email = address()
    await register(gql, email)
    await mailbox()
    headers = await as_customer(gql, email)

    async def change_link(new: str) -> str:
        await gql.http.post("/graphql", json={"query": CHANGE, "variables": {"e": new, "p": PASSWORD}}, headers=headers)
        return token_in(only(await mailbox(), "Confirm your new email address"))

    first = await change_link(address())
    second = await change_link(address())
    assert (await confirm(gql, first))["userErrors"] == [{"field": ["token"], "code": "INVALID_TOKEN"}]
    # A password reset (the owner reacting to the notice) discards the pending change.
    reset_token = await reset_link(gql, mailbox, email)
    reset = (
        "mutation($t: String!, $p: String!) { customerResetPassword(token: $t, password: $p) { userErrors { code } } }"
    )
    assert (await gql.data(reset, {"t": reset_token, "p": "a whole new passphrase"}))["customerResetPassword"] == {
        "userErrors": []
    }
    assert (await confirm(gql, second))["userErrors"] == [{"field": ["token"], "code": "INVALID_TOKEN"}]


async def test_a_confirmation_link_for_an_address_the_account_left_confirms_nothing(db, gql, mailbox: Mailbox):
    email, new = address(), address()
    await register(gql, email)
    registration = token_in(only(await mailbox(), "Confirm your email address"))
    headers = await as_customer(gql, email)
    await gql.http.post("/graphql", json={"query": CHANGE, "variables": {"e": new, "p": PASSWORD}}, headers=headers)
    assert (await confirm(gql, token_in(only(await mailbox(), "Confirm your new email address"))))["userErrors"] == []
    await Account.filter(email=new).update(email_confirmed=False)
    assert (await confirm(gql, registration))["userErrors"] == [{"field": ["token"], "code": "INVALID_TOKEN"}]


async def test_an_expired_confirmation_link_is_refused(db, gql, mailbox: Mailbox):
    email = address()
    await register(gql, email)
    token = token_in(only(await mailbox(), "Confirm your email address"))
    await AccountToken.filter(token_hash=account_tokens.digest(token)).update(
        expires_at=datetime.now(UTC) - timedelta(minutes=1)
    )
    assert (await confirm(gql, token))["userErrors"] == [{"field": ["token"], "code": "INVALID_TOKEN"}]
    assert (await Account.get(email=email)).email_confirmed is False
