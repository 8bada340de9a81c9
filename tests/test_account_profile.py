"""The signed-in customer's own account: profile, password change, saved addresses and their
defaults, and `me.cart`, the one cart on every device."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from gateway.settings import load_settings
from models import Account, Address, Cart, Permission
from schema.ids import encode_id
from tests.staff import bearer, token_for
from tests.test_checkout import ADDRESS, CHECKOUT, PAID, make_variant, ready_cart

PASSWORD = "correct horse"
REGISTER = "mutation($i: CustomerRegisterInput!) { customerRegister(input: $i) { userErrors { code } } }"
SIGN_IN = """mutation($e: String!, $p: String!, $c: ID) { tokenCreate(email: $e, password: $p, cartToken: $c) {
  accessToken refreshToken cartToken userErrors { field code message } } }"""
REFRESH = "mutation($t: String!) { tokenRefresh(refreshToken: $t) { accessToken userErrors { code } } }"
ERRORS = "userErrors { field code message }"
PROFILE = "email firstName lastName phone marketingConsent"
UPDATE = f"""mutation($f: String, $l: String, $p: String, $m: Boolean) {{
  customerUpdate(firstName: $f, lastName: $l, phone: $p, marketingConsent: $m) {{ customer {{ {PROFILE} }} {ERRORS} }} }}"""
CHANGE = f"""mutation($c: String!, $n: String!) {{ customerChangePassword(currentPassword: $c, newPassword: $n) {{
  accessToken refreshToken customer {{ email }} {ERRORS} }} }}"""
ADDRESS_FIELDS = "id firstName line1 city country"
SAVE = f"mutation($a: AddressInput!) {{ customerAddressCreate(address: $a) {{ address {{ {ADDRESS_FIELDS} }} {ERRORS} }} }}"
CORRECT = f"""mutation($id: ID!, $a: AddressInput!) {{ customerAddressUpdate(id: $id, input: $a) {{
  address {{ {ADDRESS_FIELDS} }} {ERRORS} }} }}"""
DEFAULT = f"""mutation($id: ID!, $t: AddressType!) {{ customerSetDefaultAddress(id: $id, type: $t) {{
  address {{ id }} {ERRORS} }} }}"""
DELETE = f"mutation($id: ID!) {{ customerAddressDelete(id: $id) {{ deletedId {ERRORS} }} }}"
ME_ADDRESSES = "{ me { addresses { id city } defaultShippingAddress { id city } defaultBillingAddress { id city } } }"
ME_CART = "{ me { cart { token completed totalQuantity lines { quantity variant { sku } } } } }"
CART_CREATE = """mutation($i: CartCreateInput) { cartCreate(input: $i) { cart { token email
  shippingAddress { firstName city country } billingAddress { firstName city country } } userErrors { code } } }"""


class Customer:
    """A registered customer and the client calls they make, signed in or not."""

    def __init__(self, client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> None:
        self.client, self.email, self.password = client, email, password
        self.access_token: str | None = None
        self.refresh_token: str | None = None

    @classmethod
    async def signed_up(cls, client: httpx.AsyncClient) -> Customer:
        customer = cls(client, f"profile.{uuid.uuid4().hex[:8]}@example.com")
        await customer.call(REGISTER, {"i": {"email": customer.email, "password": PASSWORD}})
        await customer.sign_in()
        return customer

    async def sign_in(self, cart_token: str | None = None) -> dict[str, Any]:
        payload = (await self.call(SIGN_IN, {"e": self.email, "p": self.password, "c": cart_token}))["tokenCreate"]
        assert payload["userErrors"] == [], payload
        self.access_token, self.refresh_token = payload["accessToken"], payload["refreshToken"]
        return dict(payload)

    def headers(self) -> dict[str, str]:
        return bearer(self.access_token) if self.access_token else {}

    async def body(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=self.headers()
        )
        return dict(response.json())

    async def call(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = await self.body(query, variables)
        assert not body.get("errors"), body
        return dict(body["data"])

    async def me(self, selection: str = f"{{ me {{ {PROFILE} }} }}") -> Any:
        return (await self.call(selection))["me"]


async def test_customer_update_changes_only_the_fields_given(db, client):
    ada = await Customer.signed_up(client)
    assert await ada.me() == {
        "email": ada.email,
        "firstName": "",
        "lastName": "",
        "phone": None,
        "marketingConsent": False,
    }
    first = (await ada.call(UPDATE, {"f": " Ada ", "p": "+49 30 1234567", "m": True}))["customerUpdate"]
    assert first == {
        "customer": {
            "email": ada.email,
            "firstName": "Ada",
            "lastName": "",
            "phone": "+49 30 1234567",
            "marketingConsent": True,
        },
        "userErrors": [],
    }
    # Only the last name: the rest stays; then an empty phone clears it and consent is withdrawn.
    await ada.call(UPDATE, {"l": "Lovelace"})
    await ada.call(UPDATE, {"p": "", "m": False})
    assert await ada.me() == {
        "email": ada.email,
        "firstName": "Ada",
        "lastName": "Lovelace",
        "phone": None,
        "marketingConsent": False,
    }
    # A refusal changes nothing, not even the fields that were valid.
    refused = (await ada.call(UPDATE, {"f": "Augusta", "l": "L" * 101}))["customerUpdate"]
    assert refused["customer"] is None
    assert refused["userErrors"] == [
        {"field": ["lastName"], "code": "TOO_LONG", "message": "`lastName` may have at most 100 characters."}
    ]
    row = await Account.get(email=ada.email)
    assert (row.first_name, row.last_name, row.phone, row.marketing_consent) == ("Ada", "Lovelace", "", False)


async def test_a_password_change_checks_both_passwords_and_signs_every_other_session_out(db, client):
    laptop = await Customer.signed_up(client)
    phone = Customer(client, laptop.email)
    await phone.sign_in()

    wrong = (await laptop.call(CHANGE, {"c": "not my password", "n": "a brand new secret"}))["customerChangePassword"]
    assert wrong["accessToken"] is None and wrong["userErrors"] == [
        {"field": ["currentPassword"], "code": "INVALID_CREDENTIALS", "message": "The current password is not correct."}
    ]
    for new, code in (("short", "PASSWORD_TOO_SHORT"), ("iloveyou123", "PASSWORD_TOO_COMMON")):
        weak = (await laptop.call(CHANGE, {"c": PASSWORD, "n": new}))["customerChangePassword"]
        assert [(e["field"], e["code"]) for e in weak["userErrors"]] == [(["newPassword"], code)]
    similar = await laptop.call(CHANGE, {"c": PASSWORD, "n": laptop.email.split("@")[0].upper()})
    assert [e["code"] for e in similar["customerChangePassword"]["userErrors"]] == ["PASSWORD_TOO_SIMILAR"]
    # Refused changes changed nothing: both sessions still work.
    assert (await phone.me())["email"] == laptop.email

    changed = (await laptop.call(CHANGE, {"c": PASSWORD, "n": "a brand new secret"}))["customerChangePassword"]
    assert changed["userErrors"] == [] and changed["customer"] == {"email": laptop.email}
    old_access, old_refresh = laptop.access_token, laptop.refresh_token
    laptop.access_token = changed["accessToken"]
    assert (await laptop.me())["email"] == laptop.email  # this session goes on with its fresh pair
    assert (await laptop.call(REFRESH, {"t": changed["refreshToken"]}))["tokenRefresh"]["userErrors"] == []
    # Every session from before is over: access tokens at once, refresh tokens for good.
    assert await phone.me() is None
    laptop.access_token = old_access
    assert await laptop.me() is None
    for token in (old_refresh, phone.refresh_token):
        assert (await phone.call(REFRESH, {"t": token}))["tokenRefresh"]["userErrors"] == [{"code": "INVALID_TOKEN"}]
    # And the password is the new one.
    stale = (await phone.call(SIGN_IN, {"e": laptop.email, "p": PASSWORD}))["tokenCreate"]
    assert [e["code"] for e in stale["userErrors"]] == ["INVALID_CREDENTIALS"]
    phone.password = "a brand new secret"
    await phone.sign_in()
    assert (await phone.me())["email"] == laptop.email


async def test_wrong_current_passwords_count_against_the_sign_in_limit(db):
    app = create_app(load_settings({"DATABASE_URL": db.url, "LOGIN_ATTEMPTS_PER_MINUTE": "3"}))
    transport = httpx.ASGITransport(app=app, client=("203.0.113.41", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
        thief = await Customer.signed_up(client)  # one sign-in attempt used
        codes = []
        for n in range(3):
            body = await thief.body(CHANGE, {"c": f"guess {n}", "n": "a brand new secret"})
            codes.append(
                body["errors"][0]["extensions"]["code"]
                if body.get("errors")
                else body["data"]["customerChangePassword"]["userErrors"][0]["code"]
            )
    assert codes == ["INVALID_CREDENTIALS", "INVALID_CREDENTIALS", "RATE_LIMITED"]


def address(city: str, **more: str) -> dict[str, str]:
    return {**ADDRESS, "city": city, **more}


async def test_saved_addresses_are_corrected_only_by_their_owner(db, client):
    ada, eve = await Customer.signed_up(client), await Customer.signed_up(client)
    saved = (await ada.call(SAVE, {"a": address("Berlin")}))["customerAddressCreate"]["address"]
    corrected = await ada.call(CORRECT, {"id": saved["id"], "a": address("Hamburg", line1="2 Elbe Way")})
    assert corrected["customerAddressUpdate"] == {
        "address": {"id": saved["id"], "firstName": "Ada", "line1": "2 Elbe Way", "city": "Hamburg", "country": "DE"},
        "userErrors": [],
    }
    # Eve's attempt on Ada's address is answered as if it did not exist, and changes nothing.
    not_found = {"field": ["id"], "code": "NOT_FOUND", "message": "You have no saved address with this ID."}
    for mutation, variables in (
        (CORRECT, {"id": saved["id"], "a": address("Paris", country="FR")}),
        (DEFAULT, {"id": saved["id"], "t": "SHIPPING"}),
        (DELETE, {"id": saved["id"]}),
    ):
        [payload] = (await eve.call(mutation, variables)).values()
        assert payload["userErrors"] == [not_found], mutation
    missing = encode_id("Address", 2**31 - 1)
    [payload] = (await ada.call(CORRECT, {"id": missing, "a": address("Paris")})).values()
    assert payload["userErrors"] == [not_found]
    # Bad input is refused as the shipping address would be, and changes nothing.
    refused = await ada.call(CORRECT, {"id": saved["id"], "a": address("Rome", country="XX")})
    assert [(e["field"], e["code"]) for e in refused["customerAddressUpdate"]["userErrors"]] == [
        (["input", "country"], "UNKNOWN_COUNTRY")
    ]
    row = await Address.get(account__email=ada.email)
    assert (row.city, row.line1, row.country) == ("Hamburg", "2 Elbe Way", "DE")


async def test_default_addresses_are_one_of_each_type_and_go_with_a_deleted_address(db, client):
    ada = await Customer.signed_up(client)
    home, work = [
        (await ada.call(SAVE, {"a": address(city)}))["customerAddressCreate"]["address"]["id"]
        for city in ("Berlin", "Munich")
    ]
    assert (await ada.me(ME_ADDRESSES))["defaultShippingAddress"] is None
    assert (await ada.call(DEFAULT, {"id": home, "t": "SHIPPING"}))["customerSetDefaultAddress"] == {
        "address": {"id": home},
        "userErrors": [],
    }
    await ada.call(DEFAULT, {"id": home, "t": "BILLING"})
    await ada.call(DEFAULT, {"id": work, "t": "SHIPPING"})  # replaces home as the shipping default
    me = await ada.me(ME_ADDRESSES)
    assert me["defaultShippingAddress"] == {"id": work, "city": "Munich"}
    assert me["defaultBillingAddress"] == {"id": home, "city": "Berlin"}
    assert await Address.filter(account__email=ada.email, default_shipping=True).count() == 1
    # A correction keeps the default; a deletion clears it.
    await ada.call(CORRECT, {"id": work, "a": address("Augsburg")})
    assert (await ada.me(ME_ADDRESSES))["defaultShippingAddress"] == {"id": work, "city": "Augsburg"}
    await ada.call(DELETE, {"id": home})
    me = await ada.me(ME_ADDRESSES)
    assert me["defaultBillingAddress"] is None and me["defaultShippingAddress"] == {"id": work, "city": "Augsburg"}


async def test_concurrent_defaults_leave_one_default_of_each_type(db, client):
    if db.name != "postgres":
        pytest.skip("SQLite serialises every transaction: concurrency is proved on PostgreSQL")
    ada = await Customer.signed_up(client)
    ids = [
        (await ada.call(SAVE, {"a": address(f"City {n}")}))["customerAddressCreate"]["address"]["id"] for n in range(4)
    ]
    for _ in range(3):
        results = await asyncio.gather(*(ada.call(DEFAULT, {"id": i, "t": "BILLING"}) for i in ids))
        assert all(r["customerSetDefaultAddress"]["userErrors"] == [] for r in results)
        assert await Address.filter(account__email=ada.email, default_billing=True).count() == 1


async def test_a_signed_in_customers_new_cart_starts_from_their_defaults(db, client):
    ada = await Customer.signed_up(client)
    guest = (await Customer(client, "").call(CART_CREATE))["cartCreate"]["cart"]
    assert guest == {"token": guest["token"], "email": None, "shippingAddress": None, "billingAddress": None}
    blank = (await ada.call(CART_CREATE))["cartCreate"]["cart"]
    assert (blank["email"], blank["shippingAddress"], blank["billingAddress"]) == (ada.email, None, None)

    home, office = [
        (await ada.call(SAVE, {"a": address(city, firstName=name)}))["customerAddressCreate"]["address"]["id"]
        for city, name in (("Berlin", "Ada"), ("Zurich", "Accounts"))
    ]
    await ada.call(DEFAULT, {"id": home, "t": "SHIPPING"})
    only_shipping = (await ada.call(CART_CREATE))["cartCreate"]["cart"]
    berlin = {"firstName": "Ada", "city": "Berlin", "country": "DE"}
    # Without a billing default the cart bills to where it ships, and says so.
    assert only_shipping["shippingAddress"] == only_shipping["billingAddress"] == berlin
    await ada.call(DEFAULT, {"id": office, "t": "BILLING"})
    both = (await ada.call(CART_CREATE, {"i": {"email": "orders@example.com"}}))["cartCreate"]["cart"]
    assert both["email"] == "orders@example.com"
    assert both["shippingAddress"] == berlin
    assert both["billingAddress"] == {"firstName": "Accounts", "city": "Zurich", "country": "DE"}
    # The cart holds a copy: correcting the saved address later leaves it as it was.
    await ada.call(CORRECT, {"id": home, "a": address("Potsdam")})
    cart = await Cart.get(token=both["token"])
    assert cart.shipping_address is not None and cart.shipping_address["city"] == "Berlin"

    # A guest cart that becomes theirs at sign-in (they have no open cart) is filled in the same
    # way, where the guest left it blank.
    await Cart.filter(customer__email=ada.email).delete()
    anonymous = Customer(client, "")
    guest = (await anonymous.call(CART_CREATE, {"i": {"email": "guest@example.com"}}))["cartCreate"]["cart"]["token"]
    assert (await ada.sign_in(cart_token=guest))["cartToken"] == guest
    adopted = (
        await ada.call(
            "query($t: ID!) { cart(token: $t) { email shippingAddress { city } billingAddress { city } } }",
            {"t": guest},
        )
    )["cart"]
    assert adopted == {
        "email": "guest@example.com",
        "shippingAddress": {"city": "Potsdam"},
        "billingAddress": {"city": "Zurich"},
    }


async def test_me_cart_is_the_same_active_cart_on_every_device(db, client, gql):
    laptop = await Customer.signed_up(client)
    assert (await laptop.me(ME_CART))["cart"] is None
    # Variants of their own: the order placed below reserves stock the shared catalogue must keep.
    first, second = await make_variant(), await make_variant()
    sku = first.sku
    token = await ready_cart(gql, [(sku, 1)], headers=laptop.headers())
    phone = Customer(client, laptop.email)
    await phone.sign_in()
    on_phone = (await phone.me(ME_CART))["cart"]
    assert on_phone == {
        "token": token,
        "completed": False,
        "totalQuantity": 1,
        "lines": [{"quantity": 1, "variant": {"sku": sku}}],
    }

    # A guest cart brought to a sign-in merges into it, as it always has.
    guest = await ready_cart(gql, [(second.sku, 2)], address=False)
    tablet = Customer(client, laptop.email)
    assert (await tablet.sign_in(cart_token=guest))["cartToken"] == token
    merged = (await laptop.me(ME_CART))["cart"]
    assert merged["token"] == token and merged["totalQuantity"] == 3

    # The one changed last is the active one; a checked-out cart never is.
    newer = (await phone.call(CART_CREATE))["cartCreate"]["cart"]["token"]
    assert (await tablet.me(ME_CART))["cart"]["token"] == newer
    add = "mutation($t: ID!, $l: [CartLineInput!]!) { cartLinesAdd(cartToken: $t, lines: $l) { userErrors { code } } }"
    zep = encode_id("ProductVariant", first.id)
    assert (await laptop.call(add, {"t": token, "l": [{"variantId": zep, "quantity": 1}]}))["cartLinesAdd"] == {
        "userErrors": []
    }
    assert (await tablet.me(ME_CART))["cart"]["token"] == token  # changed last: active again
    order = (await laptop.call(CHECKOUT, {"t": token, "p": PAID}))["checkoutComplete"]
    assert order["userErrors"] == []
    # The checked-out cart changed last, yet the other open cart is the active one; without it, none is.
    assert (await phone.me(ME_CART))["cart"]["token"] == newer
    await Cart.filter(token=newer).delete()
    assert (await phone.me(ME_CART))["cart"] is None
    assert await Cart.filter(customer__email=laptop.email, completed_at__isnull=False).count() == 1


async def test_only_the_customer_sees_their_cart(db, client):
    ada = await Customer.signed_up(client)
    token = (await ada.call(CART_CREATE))["cartCreate"]["cart"]["token"]
    account = await Account.get(email=ada.email)
    query = "query($id: ID!) { node(id: $id) { ... on Customer { email cart { token } } } }"
    variables = {"id": encode_id("Customer", account.id)}
    assert (await ada.call(query, variables))["node"] == {"email": ada.email, "cart": {"token": token}}
    # Staff who manage accounts see the account, but not the token that would let them change its cart.
    staff = await client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers=bearer(await token_for(Permission.MANAGE_STAFF)),
    )
    assert staff.json()["data"]["node"] == {"email": ada.email, "cart": None}
