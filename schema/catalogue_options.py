"""Option pickers on the storefront, in Shopify's names: `Product.options` and the input of
`Product.variantBySelectedOptions` (its resolver is on `Product`, in schema/catalogue.py)."""

from __future__ import annotations

import strawberry

from models.catalogue import OPTION_NAME_LENGTH, OPTION_VALUE_LENGTH
from resolvers import catalogue_options


@strawberry.type(description="One value of a product's option, and whether a variant having it can be bought now.")
class ProductOptionValue:
    name: str = strawberry.field(description='The value, such as "M".')
    available_for_sale: bool = strawberry.field(
        description="Whether any variant with this value is available now: a picker greys out the others."
    )


@strawberry.type(description="An option shoppers choose a variant by, such as Size, with the values its variants have.")
class ProductOption:
    name: str = strawberry.field(description='The option\'s name, such as "Size".')
    values: list[str] = strawberry.field(description="Its values in display order (as `optionValues` names them).")
    option_values: list[ProductOptionValue] = strawberry.field(
        description="Its values in display order, each with its availability."
    )


@strawberry.input(description="One option value of a variant, such as Size: M.")
class SelectedOptionInput:
    name: str = strawberry.field(description=f'The option, such as "Size": at most {OPTION_NAME_LENGTH} characters.')
    value: str = strawberry.field(
        description=f'Its value for this variant, such as "M": at most {OPTION_VALUE_LENGTH} characters.'
    )


def build_options(options: list[catalogue_options.ProductOption]) -> list[ProductOption]:
    return [
        ProductOption(
            name=option.name,
            values=list(option.values),
            option_values=[
                ProductOptionValue(name=value, available_for_sale=available)
                for value, available in option.values.items()
            ],
        )
        for option in options
    ]
