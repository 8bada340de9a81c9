"""Listing indexes for a catalogue of 200,000 products (issue 18, point 5).

The listing sorts and filters by price as `COALESCE(min_price, 0)` (a product without variants
costs 0), which the plain (status, min_price, id) index of 0001 cannot serve: PostgreSQL then read
every active product in a price band and sorted them. This partial expression index holds exactly
what the storefront reads (active products) in the sort's order, so a price-sorted page, a price
band and a keyset cursor past it are one index range scan. PostgreSQL only: SQLite compares the
price through a CAST and is a development database. Tortoise's indexes cannot say an expression
or a WHERE, so the index is created here, like 0002's search index and 0017's stock index.

With it, statistics on the same expression: without them PostgreSQL guesses a price band holds a
fraction of a percent of the products, which misplans the page and makes the estimated
`totalCount` (resolvers/catalogue_counts.py) of a price-filtered listing far too low.

It follows 0027, the findable pages, on main before it: one chain, one leaf.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

ACTIVE_PRICE_INDEX = (
    "CREATE INDEX IF NOT EXISTS product_active_price_idx ON product ((COALESCE(min_price, 0)), id) "
    "WHERE status = 'ACTIVE'"
)
PRICE_STATISTICS = "CREATE STATISTICS IF NOT EXISTS product_price_stats ON (COALESCE(min_price, 0)) FROM product"


async def add_listing_indexes(apps, schema_editor) -> None:
    if schema_editor.client.capabilities.dialect == "postgres":
        await schema_editor.client.execute_script(ACTIVE_PRICE_INDEX)
        await schema_editor.client.execute_script(PRICE_STATISTICS)


class Migration(migrations.Migration):
    dependencies = [("models", "0027_seo")]

    initial = False

    operations = [ops.RunPython(add_listing_indexes)]
