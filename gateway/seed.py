"""A deterministic demo catalogue: the same `--seed` gives the same rows, byte for byte.

Rows get explicit ids and go in with bulk inserts (on PostgreSQL, COPY), so 10,000 products (about
30,000 variants with their options, images and stock in two warehouses) take seconds, and 200,000
(the scale benchmark's catalogue, some four million rows) a few minutes rather than an hour.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import TypeVar

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F
from tortoise.models import Model
from tortoise.transactions import in_transaction

from models import (
    Attribute,
    AttributeChoice,
    AttributeType,
    AttributeValue,
    Category,
    DiscountCode,
    DiscountKind,
    Product,
    ProductImage,
    ProductStatus,
    ProductType,
    ProductTypeAttribute,
    ProductVariant,
    ShippingMethod,
    Stock,
    TaxRate,
    VariantOption,
    Warehouse,
)

WAREHOUSES = (("central", "Central warehouse"), ("north", "North warehouse"))
# Top level -> second level -> third level: a tree three levels deep.
TREE: dict[str, dict[str, list[str]]] = {
    "Apparel": {
        "Tops": ["T-Shirts", "Shirts", "Hoodies"],
        "Bottoms": ["Jeans", "Shorts", "Trousers"],
        "Outerwear": ["Jackets", "Coats"],
    },
    "Footwear": {
        "Sneakers": ["Running", "Court", "Skate"],
        "Boots": ["Hiking Boots", "Chelsea Boots"],
    },
    "Home": {
        "Kitchen": ["Mugs", "Cutting Boards", "Knives"],
        "Living": ["Cushions", "Throws", "Lamps"],
    },
    "Outdoor": {
        "Camping": ["Tents", "Sleeping Bags"],
        "Bags": ["Backpacks", "Duffels", "Tote Bags"],
    },
}
ADJECTIVES = [
    "Classic",
    "Essential",
    "Organic",
    "Everyday",
    "Heritage",
    "Alpine",
    "Coastal",
    "Urban",
    "Vintage",
    "Modern",
    "Lightweight",
    "Rugged",
    "Soft",
    "Recycled",
    "Premium",
    "Studio",
]
MATERIALS = [
    "Cotton",
    "Linen",
    "Wool",
    "Canvas",
    "Leather",
    "Denim",
    "Bamboo",
    "Oak",
    "Ceramic",
    "Merino",
    "Nylon",
    "Suede",
    "Walnut",
    "Hemp",
]
# What one product of a leaf category is called, and the sizes its department sells.
NOUNS = {
    "T-Shirts": "T-Shirt",
    "Shirts": "Shirt",
    "Hoodies": "Hoodie",
    "Jeans": "Jeans",
    "Shorts": "Shorts",
    "Trousers": "Trousers",
    "Jackets": "Jacket",
    "Coats": "Coat",
    "Running": "Running Shoe",
    "Court": "Court Sneaker",
    "Skate": "Skate Shoe",
    "Hiking Boots": "Hiking Boot",
    "Chelsea Boots": "Chelsea Boot",
    "Mugs": "Mug",
    "Cutting Boards": "Cutting Board",
    "Knives": "Knife",
    "Cushions": "Cushion",
    "Throws": "Throw",
    "Lamps": "Lamp",
    "Tents": "Tent",
    "Sleeping Bags": "Sleeping Bag",
    "Backpacks": "Backpack",
    "Duffels": "Duffel",
    "Tote Bags": "Tote Bag",
}
SIZES = {
    "Apparel": ["XS", "S", "M", "L", "XL"],
    "Footwear": ["40", "41", "42", "43", "44"],
    "Home": ["Small", "Medium", "Large"],
    "Outdoor": ["15 L", "25 L", "35 L", "50 L"],
}
COLOURS = ["Black", "White", "Navy", "Olive", "Sand", "Rust", "Grey", "Forest"]
PRICES = [
    Decimal(p)
    for p in (
        "9.99",
        "14.99",
        "19.99",
        "24.99",
        "29.99",
        "39.99",
        "49.99",
        "59.00",
        "79.00",
        "99.00",
        "129.00",
        "149.00",
        "199.00",
        "249.00",
        "349.00",
    )
]
# Both ship to every country (no country list); Standard is free from a 50.00 subtotal.
SHIPPING_METHODS = (
    (
        "Standard",
        {"carrier": "dhl", "price": Decimal("4.95"), "free_over": Decimal("50.00"), "min_days": 2, "max_days": 5},
    ),
    ("Express", {"carrier": "ups", "price": Decimal("12.90"), "min_days": 1, "max_days": 2}),
)
DISCOUNT_CODES = (
    ("WELCOME10", {"kind": DiscountKind.PERCENTAGE, "value": Decimal("10")}),
    ("SAVE5", {"kind": DiscountKind.FIXED_AMOUNT, "value": Decimal("5.00"), "min_subtotal": Decimal("25.00")}),
    ("FREESHIP", {"kind": DiscountKind.FREE_SHIPPING, "min_subtotal": Decimal("30.00")}),
)
# Standard VAT rates; a destination without a row pays no tax.
TAX_RATES = (
    ("DE", "0.19"),
    ("FR", "0.20"),
    ("GB", "0.20"),
    ("NL", "0.21"),
    ("IT", "0.22"),
    ("ES", "0.21"),
    ("SE", "0.25"),
)
# Products of these kinds keep the rain out: the demo's BOOLEAN attribute.
WATERPROOF = frozenset({"Jackets", "Coats", "Hiking Boots", "Chelsea Boots", "Tents", "Backpacks", "Duffels"})
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
BATCH = 2000
# PostgreSQL: each table's columns as COPY sends them. Every column is listed, since the models'
# defaults are Python's, not the database's; attribute_value's ids come from its sequence.
COPY_COLUMNS: dict[type[Model], tuple[str, tuple[str, ...]]] = {
    Product: (
        "product",
        (
            "id",
            "name",
            "slug",
            "description",
            "category_id",
            "status",
            "product_type_id",
            "min_price",
            "created_at",
            "updated_at",
        ),
    ),
    ProductVariant: (
        "product_variant",
        (
            "id",
            "product_id",
            "sku",
            "name",
            "price",
            "compare_at_price",
            "weight_grams",
            "position",
            "low_stock_threshold",
            "low_stock_alerted_at",
        ),
    ),
    VariantOption: ("variant_option", ("id", "variant_id", "name", "value", "position")),
    ProductImage: ("product_image", ("id", "product_id", "url", "alt_text", "position")),
    Stock: ("stock", ("id", "variant_id", "warehouse_id", "quantity", "reserved")),
    AttributeValue: (
        "attribute_value",
        (
            "attribute_id",
            "product_id",
            "variant_id",
            "value_text",
            "value_number",
            "value_bool",
            "value_date",
            "position",
        ),
    ),
}
M = TypeVar("M", bound=Model)


@dataclass
class SeedResult:
    created: bool
    products: int


async def _next_id(model: type[Model]) -> int:
    last = await model.all().order_by("-id").first().values_list("id", flat=True)
    return (last if isinstance(last, int) else 0) + 1  # None on an empty table


async def seed(products: int, seed: int = 1) -> SeedResult:
    """Create warehouses, shipping methods, discount codes, tax rates and, when the catalogue is empty, `products` products. Idempotent."""
    for code, name in WAREHOUSES:
        await Warehouse.get_or_create(code=code, defaults={"name": name})
    for name, values in SHIPPING_METHODS:
        await ShippingMethod.get_or_create(name=name, defaults=values)
    for code, values in DISCOUNT_CODES:
        await DiscountCode.get_or_create(code=code, defaults=values)
    for country, rate in TAX_RATES:
        await TaxRate.get_or_create(country=country, defaults={"rate": Decimal(rate)})
    existing = await Product.all().count()
    if existing:
        return SeedResult(False, existing)
    rng = random.Random(seed)
    warehouses = [await Warehouse.get(code=code) for code, _ in WAREHOUSES]

    async with in_transaction() as conn:
        leaves = await _seed_categories()
        goods, material, weight, waterproof = await _seed_attributes()
        product_rows, variant_rows, option_rows, image_rows, stock_rows = [], [], [], [], []
        value_rows: list[AttributeValue] = []
        product_id, variant_id, option_id, image_id, stock_id = (
            await _next_id(Product),
            await _next_id(ProductVariant),
            await _next_id(VariantOption),
            await _next_id(ProductImage),
            await _next_id(Stock),
        )
        for n in range(products):
            leaf, kind, department = rng.choice(leaves)
            name = f"{rng.choice(ADJECTIVES)} {rng.choice(MATERIALS)} {NOUNS[kind]}"
            department_sizes = SIZES[department]
            slug = f"{name.lower().replace(' ', '-')}-{n + 1}"
            status = (
                ProductStatus.ACTIVE
                if rng.random() > 0.04
                else rng.choice([ProductStatus.DRAFT, ProductStatus.ARCHIVED])
            )
            base_price = rng.choice(PRICES)
            created = EPOCH + timedelta(minutes=n * 7 + rng.randrange(7))
            sizes = rng.sample(department_sizes, rng.randint(1, len(department_sizes)))
            colour = rng.choice(COLOURS)
            prices = []
            for position, size in enumerate(sorted(sizes, key=department_sizes.index)):
                # The largest size costs a little more, as it often does.
                price = base_price + (Decimal("5.00") if size == department_sizes[-1] else Decimal(0))
                prices.append(price)
                compare = (price * Decimal("1.25")).quantize(Decimal("0.01")) if rng.random() < 0.2 else None
                variant_rows.append(
                    ProductVariant(
                        id=variant_id,
                        product_id=product_id,
                        sku=f"SKU-{product_id:06d}-{size.replace(' ', '')}",
                        name=f"{size} / {colour}",
                        price=price,
                        compare_at_price=compare,
                        weight_grams=rng.randint(100, 2500),
                        position=position,
                    )
                )
                option_rows.append(
                    VariantOption(id=option_id, variant_id=variant_id, name="Size", value=size, position=0)
                )
                option_rows.append(
                    VariantOption(id=option_id + 1, variant_id=variant_id, name="Colour", value=colour, position=1)
                )
                option_id += 2
                sold_out = rng.random() < 0.12
                for warehouse in warehouses:
                    quantity = 0 if sold_out else rng.choice([0, 3, 8, 15, 40, 100])
                    stock_rows.append(
                        Stock(
                            id=stock_id, variant_id=variant_id, warehouse_id=warehouse.id, quantity=quantity, reserved=0
                        )
                    )
                    stock_id += 1
                variant_id += 1
            # The attribute values come from what was drawn above, not from `rng`: a seed's other rows
            # stay what they were before the catalogue had attributes.
            value_rows += [
                AttributeValue(attribute_id=material.id, product_id=product_id, value_text=name.split()[1]),
                AttributeValue(
                    attribute_id=weight.id, product_id=product_id, value_number=Decimal(variant_rows[-1].weight_grams)
                ),
                AttributeValue(attribute_id=waterproof.id, product_id=product_id, value_bool=kind in WATERPROOF),
            ]
            for position in range(rng.randint(1, 3)):
                image_rows.append(
                    ProductImage(
                        id=image_id,
                        product_id=product_id,
                        position=position,
                        url=f"https://images.example.com/products/{product_id}/{position + 1}.jpg",
                        alt_text=f"{name}, view {position + 1}",
                    )
                )
                image_id += 1
            product_rows.append(
                Product(
                    id=product_id,
                    name=name,
                    slug=slug,
                    category_id=leaf,
                    product_type_id=goods.id,
                    status=status,
                    min_price=min(prices),
                    description=f"{name} in {colour.lower()}, made from {name.split()[1].lower()}. "
                    f"A {rng.choice(ADJECTIVES).lower()} piece for every day.",
                    created_at=created,
                    updated_at=created,
                )
            )
            product_id += 1
        await _insert(Product, product_rows, conn)
        await _insert(ProductVariant, variant_rows, conn)
        await _insert(VariantOption, option_rows, conn)
        await _insert(ProductImage, image_rows, conn)
        await _insert(Stock, stock_rows, conn)
        await _insert(AttributeValue, value_rows, conn)
        if conn.capabilities.dialect != "postgres":  # COPY wrote updated_at as given
            # auto_now stamps the wall clock on insert; a seed must not depend on when it ran.
            await (
                Product.filter(id__gte=product_rows[0].id if product_rows else 0)
                .using_db(conn)
                .update(updated_at=F("created_at"))
            )
        await _reset_sequences(conn)
    await _refresh_statistics()
    return SeedResult(True, products)


async def _seed_attributes() -> tuple[ProductType, Attribute, Attribute, Attribute]:
    """The demo's attributes (material, weight in g, waterproof) and the product type assigning
    them, created when missing: `make run` shows them on every product and in the facets."""
    material, created = await Attribute.get_or_create(
        slug="material", defaults={"name": "Material", "type": AttributeType.SELECT}
    )
    if created:
        await AttributeChoice.bulk_create(
            [AttributeChoice(attribute=material, value=value, position=i) for i, value in enumerate(MATERIALS)]
        )
    weight, _ = await Attribute.get_or_create(
        slug="weight", defaults={"name": "Weight", "type": AttributeType.NUMBER, "unit": "g"}
    )
    waterproof, _ = await Attribute.get_or_create(
        slug="waterproof", defaults={"name": "Waterproof", "type": AttributeType.BOOLEAN}
    )
    goods, created = await ProductType.get_or_create(slug="goods", defaults={"name": "Goods"})
    if created:
        await ProductTypeAttribute.bulk_create(
            [
                ProductTypeAttribute(product_type=goods, attribute=attribute, position=i)
                for i, attribute in enumerate((material, weight, waterproof))
            ]
        )
    return goods, material, weight, waterproof


async def _seed_categories() -> list[tuple[int, str, str]]:
    """Create the tree if missing; returns the leaves as (id, name, top-level name)."""
    leaves: list[tuple[int, str, str]] = []

    async def node(name: str, parent: Category | None, position: int) -> Category:
        slug = name.lower().replace(" ", "-")
        category = await Category.get_or_none(slug=slug)
        if category is None:
            category = await Category.create(
                name=name,
                slug=slug,
                parent=parent,
                position=position,
                path="",
                depth=0 if parent is None else parent.depth + 1,
                description=f"Everything in {name.lower()}.",
            )
            category.path = f"{parent.path if parent else '/'}{category.id}/"
            await category.save(update_fields=["path"])
            # Last changed at the seed's fixed moment, as its products were: the same seed, the same rows.
            await Category.filter(id=category.id).update(updated_at=EPOCH)
        return category

    for i, (top, seconds) in enumerate(TREE.items()):
        top_category = await node(top, None, i)
        for j, (second, thirds) in enumerate(seconds.items()):
            second_category = await node(second, top_category, j)
            for k, third in enumerate(thirds):
                leaf = await node(third, second_category, k)
                leaves.append((leaf.id, third, top))
    return leaves


async def _refresh_statistics() -> None:
    # Fresh bulk-loaded tables have no planner statistics and no visibility map: PostgreSQL would
    # plan the listing with sequential scans until autovacuum comes by. VACUUM cannot run inside a
    # transaction, hence after it.
    conn = connections.get("default")
    if conn.capabilities.dialect == "postgres":
        await conn.execute_script("VACUUM ANALYZE")


async def _insert(model: type[M], rows: list[M], conn: BaseDBAsyncClient) -> None:
    if conn.capabilities.dialect == "postgres":
        await _copy(model, rows, conn)
        return
    for start in range(0, len(rows), BATCH):
        await model.bulk_create(rows[start : start + BATCH], using_db=conn)


async def _copy(model: type[M], rows: list[M], conn: BaseDBAsyncClient) -> None:
    """COPY the rows in through the transaction's own asyncpg connection: at 200,000 products the
    multi-row INSERTs spent most of the seed parsing statements and binding parameters."""
    table, columns = COPY_COLUMNS[model]
    records = [tuple(_copy_value(getattr(row, column)) for column in columns) for row in rows]
    async with conn.acquire_connection() as raw:
        await raw.copy_records_to_table(table, records=records, columns=columns)


def _copy_value(value: object) -> object:
    # Enum members go in as their text, as the ORM would write them.
    return value.value if isinstance(value, Enum) else value


async def _reset_sequences(conn: BaseDBAsyncClient) -> None:
    # Rows were inserted with explicit ids; PostgreSQL's sequences must move past them.
    if conn.capabilities.dialect != "postgres":
        return
    for table in ("product", "product_variant", "variant_option", "product_image", "stock"):
        await conn.execute_script(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE((SELECT MAX(id) FROM {table}), 1))"
        )
