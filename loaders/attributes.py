"""Attributes and the values products and variants carry. A page's shown values come in one statement
with their attributes' names, in the order of the product's type (then the attribute's creation)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from operator import attrgetter
from typing import Any

from loaders.base import Loader, many_per_key, one_per_key
from models import Attribute, AttributeChoice, AttributeType, AttributeValue
from models.attributes import ShownValue
from models.meta import fields_of
from models.sql import connection, fetch, in_condition, is_postgres, select_in

_VALUE_COLUMNS = ("value_text", "value_number", "value_bool", "value_date")


def _shown_values(owner: str) -> str:
    # `owner`: the column the values are grouped by, the product's or the variant's id. A variant's
    # values are the rows with a variant; a product's own, those without.
    variant = "v.variant_id IS NOT NULL" if owner == "variant_id" else "v.variant_id IS NULL"
    return (
        f"SELECT v.{owner} AS owner_id, a.id AS attribute_id, a.name AS name, a.slug AS slug, a.type AS type, "
        "a.unit AS unit, a.filterable AS filterable, v.value_text AS value_text, v.value_number AS value_number, v.value_bool AS value_bool, "
        "v.value_date AS value_date FROM attribute_value v JOIN attribute a ON a.id = v.attribute_id "
        "JOIN product p ON p.id = v.product_id LEFT JOIN product_type_attribute t "
        "ON t.product_type_id = p.product_type_id AND t.attribute_id = a.id "
        f"WHERE {{condition}} AND {variant} AND a.visible_in_storefront = ? "
        f"ORDER BY v.{owner}, COALESCE(t.position, 0), a.id, v.position, v.id"
    )


def _read(rows: Sequence[Mapping[str, Any]], postgres: bool) -> list[ShownValue]:
    fields = fields_of(AttributeValue)
    shown = []
    for row in rows:
        value: Any = None
        for column in _VALUE_COLUMNS:
            raw = row[column]
            if raw is not None:
                # asyncpg decodes numeric, boolean and date itself; SQLite hands back text and 0/1.
                value = raw if postgres else fields[column].to_python_value(raw)
                break
        shown.append(
            ShownValue(
                int(row["owner_id"]),
                int(row["attribute_id"]),
                row["name"],
                row["slug"],
                AttributeType(row["type"]),
                row["unit"],
                bool(row["filterable"]),  # SQLite: 0 or 1
                value,
            )
        )
    return shown


async def shown_values(owner: str, keys: list[int]) -> list[ShownValue]:
    if not keys:
        return []
    conn = connection()
    postgres = is_postgres(conn)
    condition, values = in_condition(f"v.{owner}", keys, postgres)
    sql = _shown_values(owner).format(condition=condition)
    return _read(await fetch(sql, [*values, True], conn), postgres)


class AttributeBySlugLoader(Loader[str, Attribute | None]):
    async def batch_load_fn(self, keys: list[str]) -> list[Attribute | None]:
        return one_per_key(keys, await select_in(Attribute, "slug", keys), attrgetter("slug"))


class ShownValuesByProductIdLoader(Loader[int, list[ShownValue]]):
    """A product's own values of the attributes shown on the storefront."""

    async def batch_load_fn(self, keys: list[int]) -> list[list[ShownValue]]:
        return many_per_key(keys, await shown_values("product_id", keys), attrgetter("owner_id"))


class ShownValuesByVariantIdLoader(Loader[int, list[ShownValue]]):
    """A variant's values of the attributes shown on the storefront."""

    async def batch_load_fn(self, keys: list[int]) -> list[list[ShownValue]]:
        return many_per_key(keys, await shown_values("variant_id", keys), attrgetter("owner_id"))


class ChoicesByAttributeIdLoader(Loader[int, list[AttributeChoice]]):
    async def batch_load_fn(self, keys: list[int]) -> list[list[AttributeChoice]]:
        rows = await select_in(AttributeChoice, "attribute_id", keys, order_by="t.attribute_id, t.position, t.id")
        return many_per_key(keys, rows, attrgetter("attribute_id"))
