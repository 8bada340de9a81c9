"""Signed-in callers for tests: a customer, and staff with chosen permissions."""

from __future__ import annotations

import uuid

from gateway.settings import DEVELOPMENT_SECRET_KEY
from models import Permission
from resolvers import accounts, accounts_admin

SECRET = DEVELOPMENT_SECRET_KEY  # what the test app signs with: SECRET_KEY is unset there


async def token_for(*permissions: Permission, staff: bool = True) -> str:
    email = f"user.{uuid.uuid4().hex[:10]}@example.com"
    if staff:
        await accounts_admin.create_staff(email, "long enough password", list(permissions))
    else:
        await accounts.register_customer(email, "long enough password")
    pair = await accounts.sign_in(email, "long enough password", SECRET)
    return pair.access_token


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}
