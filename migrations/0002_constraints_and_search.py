"""Database-level integrity rules and the PostgreSQL full-text index.

Tortoise 1.1's CreateModel does not emit the CHECK constraints listed in a model's
Meta.constraints, so they are added here: on PostgreSQL with ALTER TABLE, on SQLite by rebuilding
the table (its only way to add a CHECK), which copies every constraint of the model state but drops
the table's indexes, so those are created again right after.

The search expression must match `resolvers.catalogue_query.SEARCH_VECTOR` exactly, or PostgreSQL
cannot use the index. SQLite searches with a plain LIKE fallback and needs no index.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.migrations.constraints import UniqueConstraint

CONSTRAINED_MODELS = ("ProductVariant", "Stock")
SEARCH_INDEX = (
    "CREATE INDEX IF NOT EXISTS product_search_idx ON product USING GIN "
    "(to_tsvector('english', name || ' ' || description))"
)


async def add_constraints_and_search(apps, schema_editor) -> None:
    postgres = schema_editor.client.capabilities.dialect == "postgres"
    for name in CONSTRAINED_MODELS:
        model = apps.get_model(f"models.{name}")
        if postgres:
            for constraint in model._meta.constraints:
                await schema_editor.add_constraint(model, constraint)
        else:
            await schema_editor.add_constraint(model, model._meta.constraints[0])
            for index in model._meta.indexes:
                await schema_editor.add_index(model, index)
            for fields in model._meta.unique_together:
                await schema_editor.add_constraint(model, UniqueConstraint(fields=tuple(fields)))
    if postgres:
        await schema_editor.client.execute_script(SEARCH_INDEX)


class Migration(migrations.Migration):
    dependencies = [("models", "0001_initial")]

    operations = [ops.RunPython(add_constraints_and_search)]
