"""Admin lists and edits (issue 19, point 4): a shipping method deleted while open carts still name
it is archived (kept, no longer offered) instead of removed; `archived_at` says when.

It follows 0030, the audit log, on main before it: one chain, one leaf."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0030_audit")]

    initial = False

    operations = [
        ops.AddField(model_name="ShippingMethod", name="archived_at", field=fields.DatetimeField(null=True)),
    ]
