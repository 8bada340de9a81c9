"""The right to be forgotten, through the GraphQL API: asked for signed in, confirmed by the link
sent by email (a real SMTP server), then checked against what the database still holds."""

from __future__ import annotations

import hashlib
from typing import Any

from models import Account, AccountToken, Address, Cart, Order, OutboxEvent, RefreshToken, SentEmail
from models.changes import ACCOUNT_MESSAGE, CUSTOMER_DELETED
from resolvers import outbox
from schema.ids import encode_id
from tests.account_mail import Mailbox, address, only, token_in
from tests.conftest import GraphQLClient
from tests.test_accounts_confirmation import as_customer, register
from tests.test_accounts_recovery import PASSWORD
from tests.test_checkout import ADDRESS, CHECKOUT, PAID, make_variant, ready_cart

REQUEST = """mutation($u: String) { customerRequestDeletion(redirectUrl: $u) { userErrors { field code } } }"""
DELETE = "mutation($t: String!) { customerDelete(token: $t) { deletedId userErrors { field code } } }"
SUBJECT = "Confirm the deletion of your account"


async def as_signed_in(gql: GraphQLClient, headers: dict[str, str], query: str, variables: dict[str, Any]) -> Any:
    body = (await gql.http.post("/graphql", json={"query": query, "variables": variables}, headers=headers)).json()
    assert not body.get("errors"), body
    return body["data"]


async def delete(gql: GraphQLClient, token: str) -> dict[str, Any]:
    result: dict[str, Any] = (await gql.data(DELETE, {"t": token}))["customerDelete"]
    return result


async def test_a_deleted_account_is_erased_and_its_orders_kept_without_personal_data(db, gql, mailbox: Mailbox):
    email = address()
    await register(gql, email)
    headers = await as_customer(gql, email)
    account = await Account.get(email=email)
    save = "mutation($a: AddressInput!) { customerAddressCreate(address: $a) { userErrors { code } } }"
    await as_signed_in(gql, headers, save, {"a": {**ADDRESS, "phone": "+49 30 1234567"}})
    variant = await make_variant()
    placed = await ready_cart(gql, [(variant.sku, 2)], headers=headers)
    order = (await gql.data(CHECKOUT, {"t": placed, "p": PAID}))["checkoutComplete"]["order"]
    kept = await Order.get(token=order["token"])
    assert kept.customer_id == account.id and kept.email == "ada@example.com"  # the cart's, as ready_cart sets it
    # Its confirmation email is planned and sent like any other.
    await outbox.deliver([str(e.event_id) for e in await OutboxEvent.filter(kind="order", delivered_at=None)])
    open_cart = await ready_cart(gql, [(variant.sku, 1)], headers=headers)
    await mailbox()

    asked = await as_signed_in(gql, headers, REQUEST, {"u": "http://localhost:3000/goodbye"})
    assert asked["customerRequestDeletion"]["userErrors"] == []
    message = only(await mailbox(), SUBJECT)
    assert message["To"] == email
    token = token_in(message)
    assert await delete(gql, token) == {"deletedId": encode_id("Customer", account.id), "userErrors": []}

    # The account and all that was its own are gone; its sessions ended at once.
    assert not await Account.filter(id=account.id).exists()
    for model in (Address, RefreshToken, AccountToken):
        assert not await model.filter(account_id=account.id).exists(), model
    assert not await Cart.filter(token__in=[placed, open_cart]).exists()
    me = await gql.http.post("/graphql", json={"query": "{ me { email } }"}, headers=headers)
    assert me.json()["data"]["me"] is None
    # The order stays for the books: amounts intact, nothing personal left but the country.
    after = await Order.get(id=kept.id)
    assert (after.customer_id, after.email) == (None, "")
    assert (after.total, after.subtotal, after.tax_total) == (kept.total, kept.subtotal, kept.tax_total)
    assert after.shipping_address == {key: "" for key in kept.shipping_address} | {"country": "DE"}
    assert "Lovelace" not in repr(after.billing_address) and "Main St" not in repr(after.billing_address)
    shown = await gql.data(
        "query($t: ID!) { order(token: $t) { email total { amount } shippingAddress { firstName country } } }",
        {"t": order["token"]},
    )
    assert shown["order"] == {
        "email": "",
        "total": order["total"],
        "shippingAddress": {"firstName": "", "country": "DE"},
    }
    # What was emailed keeps its kind and date, not its recipient or text.
    sent = await SentEmail.filter(order_id=kept.id)
    assert sent and all(row.recipient == "" and row.message == "" for row in sent)
    assert not await SentEmail.filter(recipient=email).exists()
    # Announced, and the link works once.
    announced = await OutboxEvent.filter(kind=CUSTOMER_DELETED).order_by("-id").limit(20)
    assert any(row.payload["id"] == account.id for row in announced)
    assert await delete(gql, token) == {
        "deletedId": None,
        "userErrors": [{"field": ["token"], "code": "INVALID_TOKEN"}],
    }
    # The address is free again.
    assert (await register(gql, email))["userErrors"] == []


async def test_a_deletion_link_dies_with_a_password_change(db, gql, mailbox: Mailbox):
    email = address()
    await register(gql, email)
    headers = await as_customer(gql, email)
    await as_signed_in(gql, headers, REQUEST, {})
    token = token_in(only(await mailbox(), SUBJECT))
    change = """mutation($c: String!, $n: String!) {
      customerChangePassword(currentPassword: $c, newPassword: $n) { userErrors { code } } }"""
    await as_signed_in(gql, headers, change, {"c": PASSWORD, "n": "another long passphrase"})
    assert (await delete(gql, token))["userErrors"] == [{"field": ["token"], "code": "INVALID_TOKEN"}]
    assert await Account.filter(email=email).exists()


async def test_a_deletion_link_leads_only_to_a_storefront(db, gql, mailbox: Mailbox):
    email = address()
    await register(gql, email)
    await mailbox()
    headers = await as_customer(gql, email)
    refused = await as_signed_in(gql, headers, REQUEST, {"u": "https://evil.example.com/"})
    assert refused["customerRequestDeletion"]["userErrors"] == [
        {"field": ["redirectUrl"], "code": "REDIRECT_URL_NOT_ALLOWED"}
    ]
    assert await mailbox() == []


async def test_no_table_holds_a_link_of_any_kind(db, gql, mailbox: Mailbox):
    """Registration, email change and deletion links: only their hashes are stored, and the emails
    that carried them are blanked once sent."""
    email, new = address(), address()
    await register(gql, email)
    headers = await as_customer(gql, email)
    change = "mutation($e: String!, $p: String!) { customerRequestEmailChange(newEmail: $e, password: $p) { userErrors { code } } }"
    await as_signed_in(gql, headers, change, {"e": new, "p": PASSWORD})
    await as_signed_in(gql, headers, REQUEST, {})
    messages = await mailbox()
    tokens = [
        token_in(only(messages, subject))
        for subject in ("Confirm your email address", "Confirm your new email address", SUBJECT)
    ]
    account = await Account.get(email=email)
    stored = await AccountToken.filter(account_id=account.id).values_list("token_hash", flat=True)
    assert sorted(stored) == sorted(hashlib.sha256(token.encode()).hexdigest() for token in tokens)
    rows = [
        *(await AccountToken.filter(account_id=account.id).values()),
        *(await OutboxEvent.filter(kind=ACCOUNT_MESSAGE).order_by("-id").limit(20).values()),
        *(await SentEmail.filter(recipient__in=[email, new]).values()),
    ]
    assert len(rows) >= 3 + 4 + 4
    assert not [row for row in rows for token in tokens if token in repr(row)]


async def test_staff_accounts_are_not_deleted_this_way(db, gql, mailbox: Mailbox):
    from models import Permission
    from tests.staff import bearer, token_for

    headers = bearer(await token_for(Permission.MANAGE_ORDERS))
    refused = await as_signed_in(gql, headers, REQUEST, {})
    assert refused["customerRequestDeletion"]["userErrors"] == [{"field": None, "code": "INVALID"}]
    assert await mailbox() == []
