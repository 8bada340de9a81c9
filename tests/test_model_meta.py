"""Pins what models/meta.py reads from Tortoise's model metadata against `Model.describe()`, the
introspection Tortoise documents; and that a snapshot comes back as the row it was taken of."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tortoise import Tortoise
from tortoise.fields import Field
from tortoise.models import Model

from models.meta import columns_of, fields_of, table_of


def _models() -> list[type[Model]]:
    assert Tortoise.apps is not None
    return list(Tortoise.apps.get_models_iterable())


def _stored_fields(description: dict[str, Any]) -> list[dict[str, Any]]:
    return [description["pk_field"], *description["data_fields"]]


async def test_the_table_and_columns_are_those_tortoise_describes(db):
    models = _models()
    assert len(models) > 10
    for model in models:
        description = model.describe(serializable=False)
        assert table_of(model) == description["table"], model
        assert dict(columns_of(model)) == {f["name"]: f["db_column"] for f in _stored_fields(description)}, model


async def test_the_fields_are_the_field_objects_tortoise_describes(db):
    for model in _models():
        fields = fields_of(model)
        for described in _stored_fields(model.describe(serializable=False)):
            field = fields[described["name"]]
            assert isinstance(field, Field) and type(field) is described["field_type"], (model, described["name"])
        # Relations are there too: `sql.select_in` converts only columns, the rows reader asks by name.
        for described in model.describe(serializable=False)["fk_fields"]:
            assert described["name"] in fields


async def test_a_snapshot_restores_the_row_it_was_taken_of(db):
    from models.catalogue import ProductVariant
    from models.orders import Order, OrderStatus
    from models.snapshot import restore, snapshot

    variant = await ProductVariant.all().order_by("id").first()
    assert variant is not None
    again = restore(ProductVariant, snapshot(variant))
    assert {name: getattr(again, name) for name in columns_of(ProductVariant)} == {
        name: getattr(variant, name) for name in columns_of(ProductVariant)
    }
    assert isinstance(again.price, Decimal) and again.product_id == variant.product_id

    order = Order.construct(
        id=7,
        number=1007,
        token="t",
        email="a@example.com",
        status=OrderStatus.PAID,
        currency="EUR",
        subtotal=Decimal("10.00"),
        discount_total=Decimal("0"),
        shipping_total=Decimal("4.50"),
        tax_total=Decimal("2.00"),
        total=Decimal("16.50"),
        shipping_address={"country": "DE"},
        shipping_method_name="Standard",
        shipping_carrier="dhl",
        payment_provider="test",
        created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    restored = restore(Order, snapshot(order))
    assert restored.status is OrderStatus.PAID and restored.total == Decimal("16.50")
    assert restored.shipping_address == {"country": "DE"} and restored.created_at == datetime(
        2026, 1, 2, 3, 4, 5, tzinfo=UTC
    )
