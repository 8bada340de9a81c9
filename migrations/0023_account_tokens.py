"""Links sent by email for the customer account (issue 16, points 1, 2 and 6): password reset,
email confirmation and change, account deletion. Their tokens are stored only as hashes. The
accounts already there count as confirmed: they were opened before confirmation existed.

It follows 0022, the data exports, on main before it: one chain, one leaf."""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0022_data_exports")]

    initial = False

    operations = [
        ops.AddField(model_name="Account", name="email_confirmed", field=fields.BooleanField(default=False)),
        ops.RunSQL("UPDATE account SET email_confirmed = TRUE"),
        ops.CreateModel(
            name="AccountToken",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "account",
                    fields.ForeignKeyField(
                        "models.Account",
                        source_field="account_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="account_tokens",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("purpose", fields.CharField(max_length=32)),
                ("token_hash", fields.CharField(max_length=64, unique=True)),
                ("email", fields.CharField(default="", max_length=254)),
                ("expires_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("used_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "account_token",
                "app": "models",
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.AddIndex(model_name="AccountToken", index=Index(fields=["account_id"], name="account_token_account_idx")),
    ]
