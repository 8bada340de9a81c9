"""Customer emails (issue 15): the emails sent, one per outbox event and kind."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0014_job_queue")]

    initial = False

    operations = [
        ops.CreateModel(
            name="SentEmail",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("event_id", fields.UUIDField()),
                ("kind", fields.CharField(max_length=32)),
                ("order_id", fields.IntField(null=True, db_index=True)),
                ("recipient", fields.CharField(max_length=254)),
                ("sent_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "sent_email",
                "app": "models",
                "unique_together": (("event_id", "kind"),),
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
    ]
