"""Customer emails as jobs of their own (issue 15): each email the outbox's `emails` consumer plans
is a row, composed and PENDING, sent by an `emails.send` job of its own (SENT or FAILED), so an SMTP
server that is away holds back no other consumer. The rows already there were sent."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0017_stock_alerts")]

    initial = False

    operations = [
        ops.AlterField(
            model_name="SentEmail",
            name="sent_at",
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        # Database defaults: a column added NOT NULL to a table with rows needs one.
        ops.AddField(model_name="SentEmail", name="attempts", field=fields.IntField(default=0, db_default=0)),
        ops.AddField(
            model_name="SentEmail",
            name="error",
            field=fields.CharField(default="", db_default="", max_length=500),
        ),
        ops.AddField(
            model_name="SentEmail",
            name="message",
            field=fields.TextField(default="", db_default="", unique=False),
        ),
        ops.AddField(
            model_name="SentEmail",
            name="queued",
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.AddField(
            model_name="SentEmail",
            name="status",
            field=fields.CharField(default="PENDING", db_default="PENDING", max_length=16),
        ),
        # Every row before this migration stood for an email the server had accepted.
        ops.RunSQL("UPDATE sent_email SET status = 'SENT', queued = TRUE, attempts = 1"),
    ]
