"""Low-stock alerts (issue 15, point 5): a variant's threshold and when its alert went out, and a
partial index of the variants that have a threshold, so the periodic check reads only those (at
200,000 products, a few hundred rows rather than every variant). Tortoise's PartialIndex can only
say `column = value`, so the index is created here, on both databases, like the search index of 0002.
"""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

LOW_STOCK_INDEX = (
    "CREATE INDEX IF NOT EXISTS variant_low_stock_idx ON product_variant (id) WHERE low_stock_threshold IS NOT NULL"
)


async def add_low_stock_index(apps, schema_editor) -> None:
    await schema_editor.client.execute_script(LOW_STOCK_INDEX)


class Migration(migrations.Migration):
    dependencies = [("models", "0016_webhooks_out")]

    initial = False

    operations = [
        ops.AddField(
            model_name="ProductVariant",
            name="low_stock_threshold",
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name="ProductVariant",
            name="low_stock_alerted_at",
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.RunPython(add_low_stock_index),
    ]
