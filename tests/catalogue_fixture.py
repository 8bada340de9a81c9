"""The test catalogue: a seeded bulk (for paging and statement counts) plus a small hand-made
"Lab" tree whose every number the tests can state exactly."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from gateway.seed import seed
from models import Category, Product, ProductImage, ProductStatus, ProductVariant, Stock, VariantOption, Warehouse

SEEDED_PRODUCTS = 80


@dataclass
class Catalogue:
    categories: dict[str, int] = field(default_factory=dict)
    products: dict[str, int] = field(default_factory=dict)
    variants: dict[str, int] = field(default_factory=dict)


async def _category(name: str, parent: Category | None, position: int) -> Category:
    category = await Category.create(
        name=name,
        slug=name.lower().replace(" ", "-"),
        parent=parent,
        position=position,
        path="",
        depth=0 if parent is None else parent.depth + 1,
    )
    category.path = f"{parent.path if parent else '/'}{category.id}/"
    await category.save(update_fields=["path"])
    return category


async def build() -> Catalogue:
    await seed(SEEDED_PRODUCTS, seed=7)
    central = await Warehouse.get(code="central")
    north = await Warehouse.get(code="north")
    data = Catalogue()
    lab = await _category("Lab", None, 99)
    lab_sub = await _category("Lab Sub", lab, 0)
    lab_leaf = await _category("Lab Leaf", lab_sub, 0)
    data.categories.update({"Lab": lab.id, "Lab Sub": lab_sub.id, "Lab Leaf": lab_leaf.id})

    created = datetime(2030, 1, 1, tzinfo=UTC)
    specs = [
        # name, category, status, description, [(sku, price, compare, {option: value}, [(warehouse, qty, reserved)])]
        (
            "Zephyr Linen Shirt",
            lab_leaf,
            ProductStatus.ACTIVE,
            "A breezy shirt.",
            [
                ("ZEP-S", "19.99", "29.99", {"Size": "S", "Colour": "Blue"}, [(central, 5, 0), (north, 0, 0)]),
                ("ZEP-M", "19.99", None, {"Size": "M", "Colour": "Blue"}, [(central, 2, 2)]),
            ],
        ),
        (
            "Aurora Wool Sweater",
            lab_sub,
            ProductStatus.ACTIVE,
            "Warm and soft.",
            [
                ("AUR-M", "89.00", None, {"Size": "M", "Colour": "Red"}, [(central, 0, 0)]),
                ("AUR-L", "95.00", None, {"Size": "L", "Colour": "Red"}, [(north, 3, 1)]),
            ],
        ),
        (
            "Nimbus Cotton Tee",
            lab,
            ProductStatus.ACTIVE,
            "Cotton with a touch of wool blend.",
            [
                ("NIM-1", "9.50", None, {"Size": "One", "Colour": "Blue"}, []),
            ],
        ),
        (
            "Hidden Draft Jacket",
            lab_leaf,
            ProductStatus.DRAFT,
            "Not launched yet.",
            [
                ("HID-1", "10.00", None, {"Size": "M", "Colour": "Blue"}, [(central, 10, 0)]),
            ],
        ),
        (
            "Old Archived Boot",
            lab_leaf,
            ProductStatus.ARCHIVED,
            "Discontinued.",
            [
                ("OLD-1", "10.00", None, {"Size": "M", "Colour": "Blue"}, [(central, 10, 0)]),
            ],
        ),
    ]
    for offset, (name, category, status, description, variants) in enumerate(specs):
        when = created + timedelta(days=offset)
        product = await Product.create(
            name=name,
            slug=name.lower().replace(" ", "-"),
            category=category,
            status=status,
            description=description,
            min_price=min(Decimal(v[1]) for v in variants),
        )
        # auto_now_add would stamp "now"; the tests need a known order for NEWEST.
        await Product.filter(id=product.id).update(created_at=when)
        data.products[name] = product.id
        await ProductImage.create(product=product, url=f"https://img.test/{product.id}.jpg", alt_text=name, position=0)
        for position, (sku, price, compare, options, stocks) in enumerate(variants):
            variant = await ProductVariant.create(
                product=product,
                sku=sku,
                name=" / ".join(options.values()),
                price=Decimal(price),
                compare_at_price=Decimal(compare) if compare else None,
                weight_grams=300,
                position=position,
            )
            data.variants[sku] = variant.id
            for index, (option, value) in enumerate(options.items()):
                await VariantOption.create(variant=variant, name=option, value=value, position=index)
            for warehouse, quantity, reserved in stocks:
                await Stock.create(variant=variant, warehouse=warehouse, quantity=quantity, reserved=reserved)
    return data
