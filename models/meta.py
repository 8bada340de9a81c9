"""What a Tortoise model knows about its table: the one place that reads `Model._meta`.

Tortoise documents `Model.describe()` for introspection, but it answers with plain dicts (no field
objects, so no `to_python_value`) and builds them on every call. The hand-written statements of
models/sql.py and models/rows.py need the table name, the column of each field and each field's
conversion, so they read Tortoise's model metadata, here and nowhere else. tests/test_model_meta.py
pins what is read against `describe()`, so a Tortoise release that moves it fails there first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tortoise.fields import Field
from tortoise.models import Model


def table_of(model: type[Model]) -> str:
    """The model's table name."""
    table: str = model._meta.db_table
    return table


def columns_of(model: type[Model]) -> Mapping[str, str]:
    """Column name by field name, for every field stored in the model's table (a foreign key by
    its `<name>_id` field), in the model's field order."""
    columns: Mapping[str, str] = model._meta.fields_db_projection
    return columns


def fields_of(model: type[Model]) -> Mapping[str, Field[Any]]:
    """The model's field objects by field name (relations included), for their conversions
    (`to_python_value`)."""
    fields: Mapping[str, Field[Any]] = model._meta.fields_map
    return fields
