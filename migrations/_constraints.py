"""Adding the CHECK constraints a model's Meta.constraints lists, which CreateModel leaves out.

Tortoise 1.1's CreateModel does not emit Meta.constraints. On PostgreSQL each one is added with
ALTER TABLE; SQLite can only add a CHECK by rebuilding the table, which copies every constraint of
the model state but drops the table's indexes, so those are created again right after.
(Modules starting with "_" are not migrations to Tortoise's loader.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tortoise.migrations.constraints import UniqueConstraint


def add_check_constraints(*model_names: str) -> Callable[[Any, Any], Any]:
    async def forward(apps: Any, schema_editor: Any) -> None:
        postgres = schema_editor.client.capabilities.dialect == "postgres"
        for name in model_names:
            model = apps.get_model(f"models.{name}")
            if postgres:
                for constraint in model._meta.constraints:
                    await schema_editor.add_constraint(model, constraint)
                continue
            await schema_editor.add_constraint(model, model._meta.constraints[0])
            for index in model._meta.indexes:
                await schema_editor.add_index(model, index)
            for fields in model._meta.unique_together:
                await schema_editor.add_constraint(model, UniqueConstraint(fields=tuple(fields)))

    return forward
