"""Product import (issue 19, point 2): a file of rows, one per variant, creates or updates products,
variants, option values, attribute values, prices and stock, matched by SKU (and products by
handle, their slug).

A run goes through its file `BATCH_SIZE` rows at a time, each batch one transaction with a fixed
number of statements whatever its size (bulk inserts and `CASE` updates, a few reads), which
also commits the job's progress: a job retried after a crash goes on after the last batch that
committed. Each row is checked in full before anything of it is applied, so a refused row (its
line number and why, in the job's `errors`) leaves nothing behind and does not stop the others;
a row that matches what is stored changes nothing, so importing a file twice changes nothing the
second time (no write, no event, no eviction). Stock is set, not added, with a `SET` movement in
the ledger for each change, as `stockSet` records one; a changed price or a new variant keeps
the product's lowest price (`min_price`) true, as `variantUpdate` does.

Each batch records one catalogue change with the tags of every product it touched (and the
listings'), so the response cache is invalidated once per batch, not once per row; and a product
event per product created or changed (PRODUCT_CREATED / PRODUCT_UPDATED webhooks), whose states
are read for the whole batch at once (resolvers/catalogue_events.py).

A batch that the database refuses as a whole (a slug or SKU taken by a concurrent change) is
tried again one row at a time, so only the conflicting rows are reported.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q

from models import (
    Account,
    Attribute,
    AttributeChoice,
    AttributeValue,
    Category,
    ImportJob,
    ImportStatus,
    Permission,
    Product,
    ProductFileFormat,
    ProductStatus,
    ProductType,
    ProductTypeAttribute,
    ProductVariant,
    Stock,
    StockMovement,
    VariantOption,
    Warehouse,
)
from models.sql import connection, in_condition, insert_rows, is_postgres, placeholders
from resolvers import catalogue_changes as changes
from resolvers import catalogue_events, imports_rows, outbox
from resolvers.attributes import COLUMNS, TypedValue
from resolvers.attributes_admin import drop_values_outside, parsed_values
from resolvers.catalogue_fields import validate_name, validate_options, validate_price, validate_sku, validate_slug
from resolvers.errors import DomainError
from resolvers.imports_rows import (
    ATTRIBUTE,
    CATEGORY,
    COMPARE_AT_PRICE,
    DESCRIPTION,
    HANDLE,
    NAME,
    OPTION,
    PRICE,
    PRODUCT_TYPE,
    SEPARATOR,
    SKU,
    STATUS,
    STOCK,
    VARIANT_ATTRIBUTE,
    VARIANT_NAME,
    WEIGHT,
    FileError,
    Row,
)
from resolvers.inventory import MAX_STOCK

log = logging.getLogger("resolvers.imports")

BATCH_SIZE = 500  # rows per transaction
MAX_ERRORS = 1000  # refused rows kept with their message (`failed` counts them all)
MAX_WEIGHT = 1_000_000
STOCK_REASON = "import"
# The fields each bulk insert writes: every one with a default of the model's (not the database's).
PRODUCT_FIELDS = (
    "name",
    "slug",
    "description",
    "category_id",
    "status",
    "product_type_id",
    "min_price",
    "created_at",
    "updated_at",
)
VARIANT_FIELDS = ("product_id", "sku", "name", "price", "compare_at_price", "weight_grams", "position")
ANALYZED = ("product", "product_variant", "variant_option", "attribute_value", "stock", "stock_movement")
VALUE_COLUMNS = ("value_text", "value_number", "value_bool", "value_date")
MOVEMENT_FIELDS = (
    "stock_id",
    "variant_id",
    "kind",
    "delta",
    "reserved_delta",
    "quantity_after",
    "reason",
    "actor",
    "created_at",
)
Progress = Callable[[int, int], None]  # (rows processed, rows in all), after each batch


class RowError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class Reference:
    """What rows name, read once per run: categories, product types (with the attributes each
    assigns), attributes with their choices, warehouses."""

    categories: dict[str, int]
    product_types: dict[str, int]
    assigned: dict[int, dict[str, tuple[Attribute, bool]]]  # type id -> slug -> (attribute, variant's)
    attributes: dict[int, Attribute]
    choices: dict[int, set[str]]
    warehouses: dict[str, int]


async def reference() -> Reference:
    attributes = {a.id: a for a in await Attribute.all()}
    assigned: dict[int, dict[str, tuple[Attribute, bool]]] = {}
    for link in await ProductTypeAttribute.all():
        attribute = attributes[link.attribute_id]
        assigned.setdefault(link.product_type_id, {})[attribute.slug] = (attribute, link.variant_selection)
    choices: dict[int, set[str]] = {}
    for choice in await AttributeChoice.all():
        choices.setdefault(choice.attribute_id, set()).add(choice.value)
    return Reference(
        categories=dict(await Category.all().values_list("slug", "id")),
        product_types=dict(await ProductType.all().values_list("slug", "id")),
        assigned=assigned,
        attributes=attributes,
        choices=choices,
        warehouses=dict(await Warehouse.all().values_list("code", "id")),
    )


# --- one row, checked on its own -------------------------------------------------------------


@dataclass
class RowInput:
    """A row's cells as values to store, each checked on its own (not yet against the catalogue)."""

    line: int
    handle: str
    sku: str | None
    product: dict[str, Any]  # Product field -> value, the columns given
    variant: dict[str, Any]  # ProductVariant field -> value
    options: list[tuple[str, str]] | None  # None: no option column
    product_values: dict[str, str]  # attribute slug -> cell
    variant_values: dict[str, str]
    stock: dict[int, int]  # warehouse id -> quantity on hand


def _checked(check: Callable[[], Any]) -> Any:
    try:
        return check()
    except DomainError as error:
        raise RowError(f"`{(error.field or ['?'])[0]}`: {error.message}") from None


def _decimal(text: str, column: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        raise RowError(f"`{column}`: {text!r} is not an amount.") from None


def _integer(text: str, column: str, highest: int) -> int:
    try:
        number = int(text)
    except ValueError:
        raise RowError(f"`{column}`: {text!r} is not a whole number.") from None
    if not 0 <= number <= highest:
        raise RowError(f"`{column}` must be between 0 and {highest:,}.")
    return number


def parse_row(row: Row, ref: Reference, allow_stock: bool) -> RowInput:
    """The row's values, or RowError saying what is wrong with it."""
    if row.problem:
        raise RowError(row.problem)
    cells = {name: value.strip() if name != DESCRIPTION else value for name, value in row.cells.items()}
    handle = _checked(lambda: validate_slug(cells.get(HANDLE) or "", HANDLE))
    if not handle:
        raise RowError("`handle` is required: it names the row's product.")
    product: dict[str, Any] = {}
    if cells.get(NAME):
        product["name"] = _checked(lambda: validate_name(cells[NAME], NAME, required=True))
    if DESCRIPTION in cells:
        product["description"] = cells[DESCRIPTION].strip()
    if CATEGORY in cells:
        slug = cells[CATEGORY]
        if slug and slug not in ref.categories:
            raise RowError(f"`category`: no category has the slug {slug!r}.")
        product["category_id"] = ref.categories[slug] if slug else None
    if cells.get(STATUS):
        try:
            product["status"] = ProductStatus(cells[STATUS].upper())
        except ValueError:
            raise RowError(f"`status` is one of {', '.join(ProductStatus)}.") from None
    if cells.get(PRODUCT_TYPE):
        if cells[PRODUCT_TYPE] not in ref.product_types:
            raise RowError(f"`product_type`: no product type has the slug {cells[PRODUCT_TYPE]!r}.")
        product["product_type_id"] = ref.product_types[cells[PRODUCT_TYPE]]
    sku = _checked(lambda: validate_sku(cells.get(SKU) or None, required=False))
    variant: dict[str, Any] = {}
    if cells.get(VARIANT_NAME):
        variant["name"] = _checked(lambda: validate_name(cells[VARIANT_NAME], VARIANT_NAME, required=True))
    if cells.get(PRICE):
        variant["price"] = _checked(lambda: validate_price(_decimal(cells[PRICE], PRICE), PRICE, required=True))
    if COMPARE_AT_PRICE in cells:
        text = cells[COMPARE_AT_PRICE]
        variant["compare_at_price"] = (
            _checked(lambda: validate_price(_decimal(text, COMPARE_AT_PRICE), COMPARE_AT_PRICE, required=True))
            if text
            else None
        )
    if cells.get(WEIGHT):
        variant["weight_grams"] = _integer(cells[WEIGHT], WEIGHT, MAX_WEIGHT)
    grouped: dict[str, dict[str, str]] = {OPTION: {}, ATTRIBUTE: {}, VARIANT_ATTRIBUTE: {}, STOCK: {}}
    for name, value in cells.items():
        prefix, key = imports_rows.split_column(name)
        if prefix:
            grouped[prefix][key] = value
    option_cells = list(grouped[OPTION].items())
    options = (
        _checked(lambda: validate_options([(name, value) for name, value in option_cells if value]))
        if option_cells
        else None
    )
    stock: dict[int, int] = {}
    for code, value in grouped[STOCK].items():
        if not value:
            continue
        name, code = STOCK + code, code.lower()
        if code not in ref.warehouses:
            raise RowError(f"`{name}`: no warehouse has the code {code!r}.")
        if not allow_stock:
            raise RowError(f"`{name}`: setting stock needs the {Permission.MANAGE_INVENTORY.value} permission.")
        stock[ref.warehouses[code]] = _integer(value, name, MAX_STOCK)
    variant_values = grouped[VARIANT_ATTRIBUTE]
    if sku is None and (variant or stock or any(v for _, v in option_cells) or any(variant_values.values())):
        raise RowError("`sku` is required for a variant's columns (price, options, stock…).")
    return RowInput(
        line=row.line,
        handle=handle,
        sku=sku,
        product=product,
        variant=variant,
        options=options if sku is not None else None,
        product_values=grouped[ATTRIBUTE],
        variant_values=variant_values if sku is not None else {},
        stock=stock,
    )


# --- a batch against the catalogue -----------------------------------------------------------


Values = dict[int, list[TypedValue]]  # attribute id -> values in order


@dataclass(eq=False)
class ProductState:
    product: Product
    new: bool
    values: Values = field(default_factory=dict)  # stored (or, once rewritten, as they will be)
    rewrite: Values = field(default_factory=dict)
    changed: set[str] = field(default_factory=set)
    retyped: bool = False
    event: bool = False  # something a product event shows changed (stock alone is not)
    touched: bool = False  # something a cached answer shows changed
    prices: bool = False  # `min_price` to refresh
    next_position: int = 0


@dataclass(eq=False)
class VariantState:
    variant: ProductVariant
    owner: ProductState
    new: bool
    options: list[tuple[str, str]] = field(default_factory=list)
    rewrite_options: bool = False
    values: Values = field(default_factory=dict)
    rewrite: Values = field(default_factory=dict)
    changed: set[str] = field(default_factory=set)
    stock: dict[int, int] = field(default_factory=dict)  # warehouse id -> quantity wanted


@dataclass
class BatchResult:
    errors: list[tuple[int, str]] = field(default_factory=list)
    created: int = 0  # products
    updated: int = 0
    invalidations: int = 0  # catalogue changes recorded (one per batch that changed anything)


class Batch:
    """One transaction's rows: the stored state they touch read at once, each row checked against
    it and applied in memory, then everything written in bulk."""

    def __init__(self, inputs: list[RowInput], ref: Reference, actor: str) -> None:
        self.inputs = inputs
        self.ref = ref
        self.actor = actor
        self.products: dict[str, ProductState] = {}  # by handle
        self.variants: dict[str, VariantState] = {}  # by SKU
        self.stocks: dict[tuple[int, int], Stock] = {}  # (variant id, warehouse id) -> locked row
        self.result = BatchResult()

    async def load(self) -> None:
        skus = [i.sku for i in self.inputs if i.sku]
        handles = list({i.handle for i in self.inputs})
        variants = await ProductVariant.filter(sku__in=skus) if skus else []
        owner_ids = {v.product_id for v in variants}
        products = await Product.filter(Q(slug__in=handles) | Q(id__in=list(owner_ids) or [0]))
        by_id = {p.id: ProductState(p, new=False) for p in products}
        self.products = {state.product.slug: state for state in by_id.values()}
        for variant in variants:
            self.variants[variant.sku] = VariantState(variant, by_id[variant.product_id], new=False)
        variant_ids = {v.variant.id: v for v in self.variants.values()}
        # Values and options as plain tuples: a model instance each cost more than the rest of a row.
        if any(i.product_values or i.variant_values for i in self.inputs) and by_id:
            stored = (
                await AttributeValue.filter(product_id__in=list(by_id))
                .order_by("position", "id")
                .values_list("product_id", "variant_id", "attribute_id", *VALUE_COLUMNS)
            )
            for product_id, variant_id, attribute_id, *typed in stored:
                attribute = self.ref.attributes[attribute_id]
                owner: ProductState | VariantState | None = (
                    by_id[product_id] if variant_id is None else variant_ids.get(variant_id)
                )
                if owner is not None:
                    value = typed[VALUE_COLUMNS.index(COLUMNS[attribute.type])]
                    owner.values.setdefault(attribute.id, []).append(value)
        if any(i.options is not None for i in self.inputs) and variant_ids:
            for variant_id, name, value in (
                await VariantOption.filter(variant_id__in=list(variant_ids))
                .order_by("position", "id")
                .values_list("variant_id", "name", "value")
            ):
                variant_ids[variant_id].options.append((name, value))
        warehouses = {w for i in self.inputs for w in i.stock}
        if warehouses and variant_ids:
            # Locked in primary-key order, as checkout locks them, so the two cannot deadlock.
            for stock in (
                await Stock.filter(variant_id__in=list(variant_ids), warehouse_id__in=list(warehouses))
                .select_for_update()
                .order_by("id")
            ):
                self.stocks[(stock.variant_id, stock.warehouse_id)] = stock
        if by_id and any(i.sku and i.sku not in self.variants for i in self.inputs):
            # Where new variants go among their product's existing ones: after them.
            for product_id in await ProductVariant.filter(product_id__in=list(by_id)).values_list(
                "product_id", flat=True
            ):
                by_id[product_id].next_position += 1  # type: ignore[index]

    def apply(self, inp: RowInput) -> None:
        """Check the row against the catalogue as the earlier rows left it, then apply it (in
        memory): RowError, and nothing of it applied, when it is refused."""
        owner = self.products.get(inp.handle)
        state = self.variants.get(inp.sku) if inp.sku else None
        if state is not None and state.owner is not owner:
            raise RowError(
                f"The SKU {inp.sku!r} belongs to the product {state.owner.product.slug!r}, not {inp.handle!r}."
            )
        if owner is None and "name" not in inp.product:
            raise RowError(f"`name` is required: no product has the handle {inp.handle!r} yet.")
        type_id = inp.product.get("product_type_id", owner.product.product_type_id if owner else None)
        product_values = self._values(type_id, inp.product_values, variant=False)
        variant_values = self._values(type_id, inp.variant_values, variant=True)
        if inp.sku and state is None and "price" not in inp.variant:
            raise RowError(f"`price` is required: no variant has the SKU {inp.sku!r} yet.")
        for warehouse_id, quantity in inp.stock.items():
            stored = self.stocks.get((state.variant.id, warehouse_id)) if state is not None else None
            if stored is not None and quantity < stored.reserved:
                raise RowError(
                    f"{stored.reserved} units are reserved for orders in that warehouse: its stock cannot go below that."
                )
        # Checked: now applied.
        if owner is None:
            owner = ProductState(Product(slug=inp.handle, **inp.product), new=True, event=True, touched=True)
            self.products[inp.handle] = owner
        else:
            for name, value in inp.product.items():
                if getattr(owner.product, name) != value:
                    setattr(owner.product, name, value)
                    owner.changed.add(name)
                    owner.event = owner.touched = True
                    owner.retyped = owner.retyped or (name == "product_type_id" and not owner.new)
        self._rewrite(owner, product_values)
        if inp.sku is None:
            return
        if state is None:
            fields = {"name": inp.sku, **inp.variant}
            state = VariantState(ProductVariant(sku=inp.sku, position=owner.next_position, **fields), owner, new=True)
            owner.next_position += 1
            owner.prices = owner.event = owner.touched = True
            self.variants[inp.sku] = state
        else:
            for name, value in inp.variant.items():
                if getattr(state.variant, name) != value:
                    setattr(state.variant, name, value)
                    state.changed.add(name)
                    owner.event = owner.touched = True
                    owner.prices = owner.prices or name == "price"
        if inp.options is not None and inp.options != state.options:
            state.options, state.rewrite_options = inp.options, True
            owner.event = owner.touched = True
        self._rewrite(state, variant_values)
        for warehouse_id, quantity in inp.stock.items():
            stored = self.stocks.get((state.variant.id, warehouse_id)) if not state.new else None
            if stored is None or stored.quantity != quantity:
                state.stock[warehouse_id] = quantity
                owner.touched = True

    def _values(self, type_id: int | None, cells: dict[str, str], variant: bool) -> Values:
        assigned = self.ref.assigned.get(type_id, {}) if type_id is not None else {}
        checked: Values = {}
        prefix = VARIANT_ATTRIBUTE if variant else ATTRIBUTE
        for slug, cell in cells.items():
            entry = assigned.get(slug)
            if entry is None or entry[1] != variant:
                if not cell:
                    continue  # nothing to clear: the product's type has no such attribute
                owner = "variant" if variant else "product"
                raise RowError(f"`{prefix}{slug}`: the product's type gives its {owner}s no attribute {slug!r}.")
            attribute = entry[0]
            texts = tuple(cell.split(SEPARATOR)) if cell else ()
            try:
                checked[attribute.id] = parsed_values(attribute, texts, self.ref.choices.get(attribute.id, set()), [])
            except DomainError as error:
                raise RowError(f"`{prefix}{slug}`: {error.message}") from None
        return checked

    @staticmethod
    def _rewrite(state: ProductState | VariantState, values: Values) -> None:
        owner = state if isinstance(state, ProductState) else state.owner
        for attribute_id, wanted in values.items():
            if state.values.get(attribute_id, []) != wanted:
                state.values[attribute_id] = state.rewrite[attribute_id] = wanted
                owner.event = owner.touched = True

    async def write(self) -> None:
        now = datetime.now(UTC)
        products = list(self.products.values())
        created = [p for p in products if p.new]
        if created:
            await insert_rows(
                Product,
                PRODUCT_FIELDS,
                [(*(getattr(p.product, name) for name in PRODUCT_FIELDS[:-2]), now, now) for p in created],
            )
            ids = dict(await Product.filter(slug__in=[p.product.slug for p in created]).values_list("slug", "id"))
            for state in created:
                state.product.id = ids[state.product.slug]
        updated = [p for p in products if not p.new and p.changed]
        if updated:
            names = sorted({name for p in updated for name in p.changed} | {"updated_at"})
            for state in updated:
                state.product.updated_at = now
            await Product.bulk_update([p.product for p in updated], fields=names)
        for state in products:
            if state.retyped:
                await drop_values_outside(state.product.id, state.product.product_type_id)
        await self._write_variants(now)
        await self._write_values()
        await self._write_stock()
        refresh = [p.product.id for p in products if p.prices]
        if refresh:
            await refresh_min_prices(refresh)
        tags: set[str] = set()
        for state in products:
            if state.new:
                catalogue_events.created(state.product.id)
            elif state.event:
                catalogue_events.updated(state.product.id)
            if state.touched:
                tags.add(changes.product(state.product.id))
        if tags:
            # One change for the batch: the response cache evicts these at once.
            changes.record([*tags, changes.PRODUCTS])
            self.result.invalidations += 1
        self.result.created += len(created)
        self.result.updated += sum(1 for p in products if not p.new and p.touched)

    async def _write_variants(self, now: datetime) -> None:
        states = list(self.variants.values())
        created = [v for v in states if v.new]
        if created:
            for state in created:
                state.variant.product_id = state.owner.product.id
            await insert_rows(
                ProductVariant, VARIANT_FIELDS, [[getattr(v.variant, name) for name in VARIANT_FIELDS] for v in created]
            )
            ids = dict(await ProductVariant.filter(sku__in=[v.variant.sku for v in created]).values_list("sku", "id"))
            for state in created:
                state.variant.id = ids[state.variant.sku]
        updated = [v for v in states if not v.new and v.changed]
        if updated:
            await ProductVariant.bulk_update(
                [v.variant for v in updated], fields=sorted({name for v in updated for name in v.changed})
            )
        rewritten = [v for v in states if v.rewrite_options]
        stale = [v.variant.id for v in rewritten if not v.new]
        if stale:
            await VariantOption.filter(variant_id__in=stale).delete()
        await insert_rows(
            VariantOption,
            ("variant_id", "name", "value", "position"),
            [
                (v.variant.id, name, value, position)
                for v in rewritten
                for position, (name, value) in enumerate(v.options)
            ],
        )

    async def _write_values(self) -> None:
        """Each (owner, attribute) rewritten: its old values deleted, one statement per attribute
        (a product's and a variant's apart), then every new value in one insert."""
        rows: list[tuple[Any, ...]] = []
        stale: dict[tuple[int, bool], list[int]] = {}  # (attribute, variant's) -> owner ids
        owners: list[ProductState | VariantState] = [*self.products.values(), *self.variants.values()]
        for state in owners:
            if not state.rewrite:
                continue
            variant = state if isinstance(state, VariantState) else None
            product = state.owner if isinstance(state, VariantState) else state
            new = variant.new if variant is not None else product.new
            for attribute_id, values in state.rewrite.items():
                if not new:
                    owner_id = variant.variant.id if variant is not None else product.product.id
                    stale.setdefault((attribute_id, variant is not None), []).append(owner_id)
                column = COLUMNS[self.ref.attributes[attribute_id].type]
                owners_ids = (attribute_id, product.product.id, variant.variant.id if variant is not None else None)
                rows += [
                    (*owners_ids, *(value if name == column else None for name in VALUE_COLUMNS), position)
                    for position, value in enumerate(values)
                ]
        for (attribute_id, of_variants), ids in stale.items():
            found = AttributeValue.filter(attribute_id=attribute_id)
            if of_variants:
                await found.filter(variant_id__in=ids).delete()
            else:
                await found.filter(product_id__in=ids, variant_id__isnull=True).delete()
        await insert_rows(
            AttributeValue, ("attribute_id", "product_id", "variant_id", *VALUE_COLUMNS, "position"), rows
        )

    async def _write_stock(self) -> None:
        moved: list[tuple[int, int, int, int]] = []  # stock id, variant id, on-hand delta, quantity after
        updated: list[Stock] = []
        created: dict[tuple[int, int], int] = {}  # (variant id, warehouse id) -> quantity
        for state in self.variants.values():
            for warehouse_id, quantity in state.stock.items():
                stored = self.stocks.get((state.variant.id, warehouse_id))
                if stored is None:
                    created[(state.variant.id, warehouse_id)] = quantity
                else:
                    moved.append((stored.id, stored.variant_id, quantity - stored.quantity, quantity))
                    stored.quantity = quantity
                    updated.append(stored)
        if updated:
            await Stock.bulk_update(updated, fields=["quantity"])
        if created:
            await insert_rows(
                Stock,
                ("variant_id", "warehouse_id", "quantity", "reserved"),
                [(variant_id, warehouse_id, quantity, 0) for (variant_id, warehouse_id), quantity in created.items()],
            )
            found = await Stock.filter(
                variant_id__in=list({key[0] for key in created}), warehouse_id__in=list({key[1] for key in created})
            ).values_list("id", "variant_id", "warehouse_id")
            for stock_id, variant_id, warehouse_id in found:
                wanted = created.get((variant_id, warehouse_id))
                if wanted is not None:
                    moved.append((stock_id, variant_id, wanted, wanted))
        now = datetime.now(UTC)
        await insert_rows(
            StockMovement,
            MOVEMENT_FIELDS,
            [
                (stock_id, variant_id, "SET", delta, 0, after, STOCK_REASON, self.actor, now)
                for stock_id, variant_id, delta, after in moved
                if delta
            ],
        )


async def refresh_min_prices(product_ids: list[int]) -> None:
    """Each product's `min_price` from its variants, in one statement (`refresh_min_price` for many)."""
    conn = connection()
    postgres = is_postgres(conn)
    condition, values = in_condition("id", product_ids, postgres)
    sql = (
        "UPDATE product SET min_price = (SELECT MIN(v.price) FROM product_variant v WHERE v.product_id = product.id) "
        f"WHERE {condition}"
    )
    await conn.execute_query(placeholders(sql, postgres), values)


async def import_batch(rows: list[Row], ref: Reference, actor: str, allow_stock: bool) -> BatchResult:
    """One transaction's rows: checked, applied, written; the refused ones in `errors`."""
    errors: list[tuple[int, str]] = []
    inputs: list[RowInput] = []
    for row in rows:
        try:
            inputs.append(parse_row(row, ref, allow_stock))
        except RowError as error:
            errors.append((row.line, error.message))
    async with outbox.transaction():
        batch = Batch(inputs, ref, actor)
        if inputs:
            await batch.load()
            for inp in inputs:
                try:
                    batch.apply(inp)
                except RowError as error:
                    errors.append((inp.line, error.message))
            await batch.write()
    batch.result.errors = sorted(errors)
    return batch.result


@dataclass
class RunResult:
    job: ImportJob
    batches: int = 0
    created: int = 0
    updated: int = 0
    invalidations: int = 0


async def run(job_id: int, *, batch_size: int = BATCH_SIZE, progress: Progress | None = None) -> RunResult | None:
    """Import the job's file (from where an earlier run of it stopped); None when it is gone."""
    job = await ImportJob.get_or_none(id=job_id)
    if job is None:
        return None
    result = RunResult(job)
    if job.status in (ImportStatus.DONE, ImportStatus.FAILED):
        return result  # a repeated job: done already
    job.status = ImportStatus.RUNNING.value
    job.started_at = job.started_at or datetime.now(UTC)
    try:
        rows = imports_rows.read(job.content, ProductFileFormat(job.format))
    except FileError as error:
        job.status, job.finished_at = ImportStatus.FAILED.value, datetime.now(UTC)
        job.errors = [{"row": error.line, "message": error.message}]
        job.failed, job.content = 1, ""
        await job.save()
        return result
    job.total = len(rows)
    await job.save(update_fields=["status", "started_at", "total"])
    ref = await reference()
    allow_stock = await _may_set_stock(job.actor)
    seen: dict[str, int] = {}  # SKU -> the line that gave it first
    for row in rows[: job.processed]:
        _first_sku(row, seen)
    if progress is not None:
        progress(job.processed, job.total)
    for start in range(job.processed, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        duplicates = [(row.line, message) for row in chunk if (message := _first_sku(row, seen))]
        refused = {line for line, _ in duplicates}
        outcome = await _batch_or_rows([row for row in chunk if row.line not in refused], ref, job.actor, allow_stock)
        errors = sorted(duplicates + outcome.errors)
        job.processed += len(chunk)
        job.failed += len(errors)
        room = MAX_ERRORS - len(job.errors)
        if room > 0 and errors:
            job.errors = [*job.errors, *({"row": line, "message": message} for line, message in errors[:room])]
        await ImportJob.filter(id=job.id).update(processed=job.processed, failed=job.failed, errors=job.errors)
        result.batches += 1
        result.created += outcome.created
        result.updated += outcome.updated
        result.invalidations += outcome.invalidations
        if outcome.created and result.batches & (result.batches - 1) == 0:
            await _refresh_statistics()
        if progress is not None:
            progress(job.processed, job.total)
    job.status, job.finished_at, job.content = ImportStatus.DONE.value, datetime.now(UTC), ""
    await job.save(update_fields=["status", "finished_at", "content"])
    return result


async def _batch_or_rows(rows: list[Row], ref: Reference, actor: str, allow_stock: bool) -> BatchResult:
    """The rows as one batch; when the database refuses it whole (a slug or SKU taken meanwhile by
    a concurrent change), one row at a time, so that only the conflicting rows are refused."""
    try:
        return await import_batch(rows, ref, actor, allow_stock)
    except IntegrityError:
        log.warning("import: a batch of %d rows conflicted with the catalogue; going row by row", len(rows))
    total = BatchResult()
    for row in rows:
        try:
            one = await import_batch([row], ref, actor, allow_stock)
        except IntegrityError:
            total.errors.append((row.line, "The row conflicts with a change made meanwhile (a handle or SKU taken)."))
            continue
        total.errors += one.errors
        total.created += one.created
        total.updated += one.updated
        total.invalidations += one.invalidations
    return total


async def _refresh_statistics() -> None:
    """On PostgreSQL, fresh planner statistics for the tables an import grows, after its 1st, 2nd,
    4th, 8th… batch that created products. The foreign-key checks of every inserted row run plans
    made when the table was small: into an empty catalogue, a sequential scan of the referenced
    table per row, so each batch took longer than the last (10,000 products: 205 s, against
    42 s with this, on the same busy machine). New statistics make PostgreSQL plan them again, as index lookups."""
    conn = connection()
    if is_postgres(conn):
        await conn.execute_script(f"ANALYZE {', '.join(ANALYZED)}")


def _first_sku(row: Row, seen: dict[str, int]) -> str:
    """Why the row is refused for its SKU appearing on an earlier line, or ""."""
    sku = (row.cells.get(SKU) or "").strip()
    if not sku:
        return ""
    if sku in seen:
        return f"The SKU {sku!r} is on line {seen[sku]} already."
    seen[sku] = row.line
    return ""


async def _may_set_stock(actor: str) -> bool:
    """Stock columns need MANAGE_INVENTORY from whoever uploaded the file; the command line (no
    actor) is the operator's."""
    if not actor:
        return True
    account = await Account.get_or_none(email=actor)
    return account is not None and account.has_permission(Permission.MANAGE_INVENTORY)


async def create_job(content: str, file_format: ProductFileFormat, file_name: str, actor: str) -> ImportJob:
    """An import waiting for its run (the command line runs it at once; `imports_admin` defers a job)."""
    return await ImportJob.create(content=content, format=file_format.value, file_name=file_name, actor=actor)
