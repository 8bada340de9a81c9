"""Accounts (customers and staff in one table, as Saleor does), their addresses and refresh tokens."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

# Column lengths that input is checked against before it is written (resolvers/accounts.py): the
# fields below, and every column elsewhere holding an email or a person's name, read these numbers.
EMAIL_LENGTH = 254  # RFC 5321's longest path
PERSON_NAME_LENGTH = 100
ADDRESS_LENGTHS = {
    "first_name": PERSON_NAME_LENGTH,
    "last_name": PERSON_NAME_LENGTH,
    "company": 200,
    "line1": 200,
    "line2": 200,
    "city": 100,
    "postal_code": 20,
    "region": 100,
    "phone": 40,
}


class Permission(StrEnum):
    MANAGE_PRODUCTS = "MANAGE_PRODUCTS"
    MANAGE_INVENTORY = "MANAGE_INVENTORY"
    MANAGE_ORDERS = "MANAGE_ORDERS"
    MANAGE_SHIPMENTS = "MANAGE_SHIPMENTS"
    MANAGE_DISCOUNTS = "MANAGE_DISCOUNTS"
    MANAGE_SHIPPING = "MANAGE_SHIPPING"
    MANAGE_STAFF = "MANAGE_STAFF"
    MANAGE_APPS = "MANAGE_APPS"
    MANAGE_CUSTOMERS = "MANAGE_CUSTOMERS"
    VIEW_AUDIT_LOG = "VIEW_AUDIT_LOG"


class Account(Model):
    # `email` is stored lower-cased, so the unique index makes it unique case-insensitively.
    # `permissions` lists Permission values; only staff accounts hold any.
    id = fields.IntField(primary_key=True)
    email = fields.CharField(max_length=EMAIL_LENGTH, unique=True)
    password_hash = fields.CharField(max_length=255)
    first_name = fields.CharField(max_length=PERSON_NAME_LENGTH, default="")
    last_name = fields.CharField(max_length=PERSON_NAME_LENGTH, default="")
    phone = fields.CharField(max_length=ADDRESS_LENGTHS["phone"], default="")
    # Whether the customer agreed to marketing emails; nothing is sent on it by default.
    marketing_consent = fields.BooleanField(default=False)
    # Whether the owner followed a link sent to `email` (registration, an email change, a password
    # reset). Accounts older than the column count as confirmed (migration 0021's default).
    email_confirmed = fields.BooleanField(default=False)
    is_staff = fields.BooleanField(default=False)
    is_active = fields.BooleanField(default=True)
    permissions: fields.JSONField[list[str]] = fields.JSONField(default=list)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "account"

    def has_permission(self, permission: Permission) -> bool:
        return self.is_active and self.is_staff and permission.value in (self.permissions or [])


class AddressType(StrEnum):
    """What an account's default address is used for."""

    SHIPPING = "SHIPPING"
    BILLING = "BILLING"


class Address(Model):
    # At most one address of an account is its default of each type (resolvers/addresses.py sets
    # them under the account's row lock); deleting the address takes the default with it.
    id = fields.IntField(primary_key=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name="addresses", on_delete=fields.CASCADE
    )
    account_id: int
    first_name = fields.CharField(max_length=ADDRESS_LENGTHS["first_name"])
    last_name = fields.CharField(max_length=ADDRESS_LENGTHS["last_name"])
    company = fields.CharField(max_length=ADDRESS_LENGTHS["company"], default="")
    line1 = fields.CharField(max_length=ADDRESS_LENGTHS["line1"])
    line2 = fields.CharField(max_length=ADDRESS_LENGTHS["line2"], default="")
    city = fields.CharField(max_length=ADDRESS_LENGTHS["city"])
    postal_code = fields.CharField(max_length=ADDRESS_LENGTHS["postal_code"])
    region = fields.CharField(max_length=ADDRESS_LENGTHS["region"], default="")
    country = fields.CharField(max_length=2)
    phone = fields.CharField(max_length=ADDRESS_LENGTHS["phone"], default="")
    default_shipping = fields.BooleanField(default=False)
    default_billing = fields.BooleanField(default=False)

    class Meta:
        table = "address"
        indexes = (Index(fields=("account_id",), name="address_account_idx"),)


class RefreshToken(Model):
    # Only the SHA-256 of the token is stored: a leaked table cannot be replayed.
    # Rotation: using a token revokes it and issues a successor in the same family; a revoked
    # token presented again revokes the whole family (it was stolen, or replayed).
    id = fields.IntField(primary_key=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name="refresh_tokens", on_delete=fields.CASCADE
    )
    account_id: int
    token_hash = fields.CharField(max_length=64, unique=True)
    family = fields.CharField(max_length=32, db_index=True)
    expires_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "refresh_token"
        # A password change revokes every token of the account (resolvers/accounts.py: end_sessions).
        indexes = (Index(fields=("account_id",), name="refresh_token_account_idx"),)


class AccountTokenPurpose(StrEnum):
    """What a link sent by email lets its holder do (resolvers/account_tokens.py)."""

    PASSWORD_RESET = "PASSWORD_RESET"
    EMAIL_CONFIRMATION = "EMAIL_CONFIRMATION"
    EMAIL_CHANGE = "EMAIL_CHANGE"
    DELETION = "DELETION"


class AccountToken(Model):
    # The token of a link sent by email, stored only as its SHA-256: a leaked table gives nobody a
    # working link. Single use (`used_at`). `email` is the address the link was sent to: an
    # EMAIL_CONFIRMATION confirms it only while it is still the account's, an EMAIL_CHANGE moves the
    # account to it. Deleted with the account.
    id = fields.IntField(primary_key=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name="account_tokens", on_delete=fields.CASCADE
    )
    account_id: int
    purpose = fields.CharField(max_length=32)  # AccountTokenPurpose
    token_hash = fields.CharField(max_length=64, unique=True)
    email = fields.CharField(max_length=EMAIL_LENGTH, default="")
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "account_token"
        # A password change or reset discards every outstanding token of the account.
        indexes = (Index(fields=("account_id",), name="account_token_account_idx"),)
