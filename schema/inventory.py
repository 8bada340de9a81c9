"""Warehouses, stock levels and the stock ledger: staff only (MANAGE_INVENTORY)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from loaders import Loaders
from models import Permission
from models import Stock as StockModel
from models import StockMovement as MovementModel
from models import Warehouse as WarehouseModel
from models.inventory import REASON_LENGTH, WAREHOUSE_CODE_LENGTH, WAREHOUSE_NAME_LENGTH
from resolvers import inventory
from schema.catalogue import ProductVariant, build_variant
from schema.context import Context
from schema.ids import decode_id_of, encode_id
from schema.permissions import requires
from schema.shared import After, Connection, First, UserError, attempt

# The arguments naming one stock row: a variant in a warehouse.
VariantId = Annotated[strawberry.ID, strawberry.argument(description="The variant (`ProductVariant.id`).")]
WarehouseCode = Annotated[
    str, strawberry.argument(description="The warehouse's code (`Warehouse.code`, such as central), in any case.")
]


@strawberry.type(description="A place stock is kept and orders are shipped from.")
class Warehouse:
    id: strawberry.ID = strawberry.field(description="Opaque; the stock mutations name a warehouse by its `code`.")
    code: str = strawberry.field(
        description="Its short name, lowercase, such as central: what the stock mutations take to name it."
    )
    name: str = strawberry.field(description="Its name for people.")


def build_warehouse(warehouse: WarehouseModel) -> Warehouse:
    return Warehouse(id=encode_id("Warehouse", warehouse.id), code=warehouse.code, name=warehouse.name)


# A stock row's warehouse and variant are read when selected (unless the warehouse came with the
# row), through the loaders of the context the row's object was built in.


async def _warehouse(root: StockLevel) -> Warehouse:
    if root._warehouse is not None:
        return root._warehouse
    warehouse = await root._loaders.warehouse_by_id.load(root._warehouse_id)
    if warehouse is None:  # the row's foreign key names it
        raise LookupError(f"warehouse {root._warehouse_id} of stock row {root.id} is gone")
    return build_warehouse(warehouse)


async def _variant(root: StockLevel) -> ProductVariant:
    variant = await root._loaders.variant_by_id.load(root._variant_id)
    if variant is None:  # the row's foreign key names it
        raise LookupError(f"variant {root._variant_id} of stock row {root.id} is gone")
    return build_variant(root._context, variant)


@strawberry.type(description="One variant's stock in one warehouse.")
class StockLevel:
    id: strawberry.ID = strawberry.field(
        description="Opaque, for a client cache to key the row by; stock is changed by variant and warehouse."
    )
    warehouse: Warehouse = strawberry.field(resolver=_warehouse, description="Where the stock is.")
    variant: ProductVariant = strawberry.field(resolver=_variant, description="What the stock is of.")
    quantity: int = strawberry.field(description="On hand.")
    reserved: int = strawberry.field(description="Held for placed orders not yet shipped.")
    available: int = strawberry.field(description="What can still be sold from here: on hand minus reserved.")
    _warehouse: strawberry.Private[Warehouse | None]
    _warehouse_id: strawberry.Private[int]
    _variant_id: strawberry.Private[int]
    _context: strawberry.Private[Context]
    _loaders: strawberry.Private[Loaders]


def build_stock_level(context: Context, stock: StockModel, warehouse: WarehouseModel | None = None) -> StockLevel:
    return StockLevel(
        id=encode_id("Stock", stock.id),
        quantity=stock.quantity,
        reserved=stock.reserved,
        available=max(0, stock.quantity - stock.reserved),
        _warehouse=build_warehouse(warehouse) if warehouse else None,
        _warehouse_id=stock.warehouse_id,
        _variant_id=stock.variant_id,
        _context=context,
        _loaders=context.loaders,
    )


@strawberry.type(description="One entry of the stock ledger: a change to a stock row and why.")
class StockMovement:
    id: strawberry.ID = strawberry.field(description="Opaque, for a client cache to key the entry by.")
    kind: str = strawberry.field(
        description="What changed the stock: SET or ADJUSTMENT (staff), RESERVATION (checkout), SALE (shipped) or "
        "RELEASE (a cancellation or refund gave reserved units back)."
    )
    delta: int = strawberry.field(description="The change to the units on hand: negative when units left.")
    reserved_delta: int = strawberry.field(description="The change to the units reserved for orders.")
    quantity_after: int = strawberry.field(description="The units on hand after the change.")
    reason: str = strawberry.field(
        description='Why: the reason staff gave, "stock set", or the order it was for ("order #1042").'
    )
    actor: str | None = strawberry.field(
        description="The email of the account that made the change (staff, or the customer who checked out); null "
        "when nobody was signed in."
    )
    created_at: datetime = strawberry.field(description="When the change was made.")


def build_stock_movement(movement: MovementModel) -> StockMovement:
    return StockMovement(
        id=encode_id("StockMovement", movement.id),
        kind=movement.kind,
        delta=movement.delta,
        reserved_delta=movement.reserved_delta,
        quantity_after=movement.quantity_after,
        reason=movement.reason,
        actor=movement.actor or None,
        created_at=movement.created_at,
    )


@strawberry.input(description="A new warehouse.")
class WarehouseCreateInput:
    code: str = strawberry.field(
        description=f"Its short name: 1–{WAREHOUSE_CODE_LENGTH} lowercase letters, digits or dashes, unique."
    )
    name: str = strawberry.field(description=f"Its name for people: 1–{WAREHOUSE_NAME_LENGTH} characters.")


@strawberry.input(
    description="What to change in a warehouse; its code never changes (the stock mutations name it by it)."
)
class WarehouseUpdateInput:
    name: str | None = strawberry.field(
        default=None, description=f"A new name for people: 1–{WAREHOUSE_NAME_LENGTH} characters; left out: as it is."
    )


@strawberry.type(description="What `warehouseCreate` or `warehouseUpdate` did.")
class WarehousePayload:
    warehouse: Warehouse | None = strawberry.field(description="The warehouse as it now is; null when refused.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed; empty on success.")


@strawberry.type(description="What a stock mutation did.")
class StockPayload:
    stock: StockLevel | None = strawberry.field(description="The stock row as it now is; null when refused.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed; empty on success.")


def _variant_id(variant_id: strawberry.ID) -> int:
    return decode_id_of(variant_id, "ProductVariant", "variantId")


def _stock_payload(context: Context, level: inventory.StockLevel | None, errors: list[UserError]) -> StockPayload:
    return StockPayload(
        stock=None if level is None else build_stock_level(context, level.stock, level.warehouse), user_errors=errors
    )


@strawberry.type
class InventoryQuery:
    @strawberry.field(extensions=requires(Permission.MANAGE_INVENTORY), description="Every warehouse.")
    async def warehouses(self) -> list[Warehouse] | None:
        return [build_warehouse(w) for w in await inventory.warehouses()]

    @strawberry.field(
        extensions=requires(Permission.MANAGE_INVENTORY), description="The ledger of one variant, newest first."
    )
    async def stock_movements(
        self, variant_id: VariantId, first: First = None, after: After = None
    ) -> Connection[StockMovement] | None:
        page = await inventory.movements(_variant_id(variant_id), first, after)
        return Connection.of(page, [build_stock_movement(m) for m in page.rows])

    @strawberry.field(
        extensions=requires(Permission.MANAGE_INVENTORY),
        description="Stock rows with at most `threshold` unreserved units, scarcest first.",
    )
    async def low_stock(
        self,
        info: Info[Context, None],
        threshold: Annotated[int, strawberry.argument(description="The most available units a row may have.")] = 5,
        first: First = None,
        after: After = None,
    ) -> Connection[StockLevel] | None:
        page = await inventory.low_stock(threshold, first, after)
        return Connection.of(page, [build_stock_level(info.context, s) for s in page.rows])


@strawberry.type
class InventoryMutation:
    @strawberry.mutation(extensions=requires(Permission.MANAGE_INVENTORY), description="Add a warehouse.")
    async def warehouse_create(
        self, input: Annotated[WarehouseCreateInput, strawberry.argument(description="The warehouse to add.")]
    ) -> WarehousePayload:
        warehouse, errors = await attempt(inventory.create_warehouse(input.code, input.name))
        return WarehousePayload(warehouse=None if warehouse is None else build_warehouse(warehouse), user_errors=errors)

    @strawberry.mutation(extensions=requires(Permission.MANAGE_INVENTORY), description="Rename a warehouse.")
    async def warehouse_update(
        self,
        id: Annotated[strawberry.ID, strawberry.argument(description="The warehouse (`Warehouse.id`).")],
        input: Annotated[WarehouseUpdateInput, strawberry.argument(description="What to change.")],
    ) -> WarehousePayload:
        warehouse, errors = await attempt(inventory.update_warehouse(decode_id_of(id, "Warehouse"), input.name))
        return WarehousePayload(warehouse=None if warehouse is None else build_warehouse(warehouse), user_errors=errors)

    @strawberry.mutation(
        extensions=requires(Permission.MANAGE_INVENTORY), description="Set on-hand stock; `warehouse` is its code."
    )
    async def stock_set(
        self,
        info: Info[Context, None],
        variant_id: VariantId,
        warehouse: WarehouseCode,
        quantity: Annotated[
            int,
            strawberry.argument(description="The units on hand from now on: 0 or more, and not below those reserved."),
        ],
    ) -> StockPayload:
        level, errors = await attempt(
            inventory.set_stock(_variant_id(variant_id), warehouse, quantity, await info.context.viewer())
        )
        return _stock_payload(info.context, level, errors)

    @strawberry.mutation(
        extensions=requires(Permission.MANAGE_INVENTORY), description="Add or remove on-hand stock, with the reason."
    )
    async def stock_adjust(
        self,
        info: Info[Context, None],
        variant_id: VariantId,
        warehouse: WarehouseCode,
        delta: Annotated[
            int,
            strawberry.argument(
                description="Units to add, or to remove when negative; not 0, and never below those reserved."
            ),
        ],
        reason: Annotated[str, strawberry.argument(description=f"Why, for the ledger: 1–{REASON_LENGTH} characters.")],
    ) -> StockPayload:
        level, errors = await attempt(
            inventory.adjust_stock(_variant_id(variant_id), warehouse, delta, reason, await info.context.viewer())
        )
        return _stock_payload(info.context, level, errors)
