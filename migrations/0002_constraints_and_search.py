"""Database-level integrity rules (see migrations/_constraints.py) and the PostgreSQL full-text index.

The search expression's index was replaced by one on a stored search document in 0029. SQLite
searches with a plain LIKE fallback and needs no index.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

from migrations._constraints import add_check_constraints

CONSTRAINED_MODELS = ("ProductVariant", "Stock")
SEARCH_INDEX = (
    "CREATE INDEX IF NOT EXISTS product_search_idx ON product USING GIN "
    "(to_tsvector('english', name || ' ' || description))"
)


async def add_constraints_and_search(apps, schema_editor) -> None:
    await add_check_constraints(*CONSTRAINED_MODELS)(apps, schema_editor)
    if schema_editor.client.capabilities.dialect == "postgres":
        await schema_editor.client.execute_script(SEARCH_INDEX)


class Migration(migrations.Migration):
    dependencies = [("models", "0001_initial")]

    operations = [ops.RunPython(add_constraints_and_search)]
