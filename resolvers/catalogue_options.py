"""Option pickers: a product's options read from its variants' option values, and the variant a
shopper's choice of values names.

Pure functions over what the listing already loaded for the page (variants with their availability,
their option rows): a picker costs no statement of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from models import VariantOption
from models.rows import VariantRow


@dataclass
class ProductOption:
    """One option of a product (Size) with its values in display order, each available for sale
    when a variant having it is."""

    name: str
    position: int
    values: dict[str, bool] = field(default_factory=dict)  # value -> available for sale


def product_options(variants: Sequence[VariantRow], options: Sequence[Sequence[VariantOption]]) -> list[ProductOption]:
    """`options[i]` are the option rows of `variants[i]`, which come in the product's variant order.

    Options are ordered by the position staff gave them (the lowest any variant gives, then first
    seen); values in the order of the first variant having each. A value is available when any
    variant having it can be bought now, whatever its other options: a picker greys out the values
    nothing in stock has, and asks `variantBySelectedOptions` about a whole choice.
    """
    found: dict[str, ProductOption] = {}
    for variant, rows in zip(variants, options, strict=True):
        available = variant.quantity_available > 0
        for row in rows:
            option = found.get(row.name)
            if option is None:
                option = found[row.name] = ProductOption(row.name, row.position)
            elif row.position < option.position:
                option.position = row.position
            option.values[row.value] = option.values.get(row.value, False) or available
    # sorted() is stable: options at the same position keep the order they were first seen in.
    return sorted(found.values(), key=lambda option: option.position)


def matches_exactly(options: Iterable[tuple[str, str]], wanted: Iterable[tuple[str, str]]) -> bool:
    """Whether a variant's (name, value) pairs are exactly the wanted ones, no more and no fewer."""
    return set(options) == set(wanted)
