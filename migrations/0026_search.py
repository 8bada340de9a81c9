"""Typo-tolerant search (issue 18, point 3): the pg_trgm extension and a trigram index on product
names, so `products(search:)` and `productSuggestions` can match "wool swetaer" to "Wool Sweater"
through the index (`<%` and `ILIKE` are GIN-indexable with `gin_trgm_ops`).

PostgreSQL only: SQLite keeps its LIKE match and needs nothing. The indexed expression must stay
`name`, as `resolvers.catalogue_listing.TRIGRAM_TEXT` compares it, or PostgreSQL cannot use it."""

from tortoise import migrations
from tortoise.migrations import operations as ops

TRIGRAMS = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm;"
    "CREATE INDEX IF NOT EXISTS product_name_trgm_idx ON product USING GIN (name gin_trgm_ops);"
)


async def add_trigram_search(apps, schema_editor) -> None:
    if schema_editor.client.capabilities.dialect == "postgres":
        await schema_editor.client.execute_script(TRIGRAMS)


class Migration(migrations.Migration):
    dependencies = [("models", "0025_attributes")]

    initial = False

    operations = [ops.RunPython(add_trigram_search)]
