"""The customer account (issue 16, points 3 and 4): phone and marketing consent, default
addresses, billing addresses on carts and orders, and an index to find an account's refresh
tokens (a password change revokes them all)."""

import functools
from json import dumps, loads

from tortoise import fields, migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


def _json() -> fields.JSONField:  # type: ignore[type-arg]
    return fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads)


class Migration(migrations.Migration):
    dependencies = [("models", "0019_emails_as_jobs")]

    initial = False

    operations = [
        ops.AddField(model_name="Account", name="phone", field=fields.CharField(default="", max_length=40)),
        ops.AddField(model_name="Account", name="marketing_consent", field=fields.BooleanField(default=False)),
        ops.AddField(model_name="Address", name="default_shipping", field=fields.BooleanField(default=False)),
        ops.AddField(model_name="Address", name="default_billing", field=fields.BooleanField(default=False)),
        ops.AddField(model_name="Cart", name="billing_address", field=_json()),
        ops.AddField(model_name="Order", name="billing_address", field=_json()),
        ops.AddIndex(model_name="RefreshToken", index=Index(fields=["account_id"], name="refresh_token_account_idx")),
    ]
