"""A row as JSON and back: how a changed object travels to subscribers in other processes.

A snapshot holds every column of the row as it was when the change was recorded, so a subscriber
shows the state that change produced, not whatever the row holds by the time the event arrives.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar

from tortoise.models import Model

from models.meta import columns_of, fields_of

M = TypeVar("M", bound=Model)


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def snapshot(instance: Model) -> dict[str, Any]:
    """Every column of the row, JSON-ready, keyed by the model's field names."""
    return {name: _plain(getattr(instance, name)) for name in columns_of(type(instance))}


def restore(model: type[M], data: dict[str, Any]) -> M:
    """The model instance a snapshot was taken of (read-only use: it is not re-saved), made like
    models/sql.py makes rows: each field's conversion, then `Model.construct` marked as saved."""
    fields = fields_of(model)
    columns = columns_of(model)
    values = {name: fields[name].to_python_value(value) for name, value in data.items() if name in columns}
    return model.construct(_saved_in_db=True, **values)
