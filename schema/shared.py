"""The GraphQL shapes every domain shares, each built by one helper.

`Money` (built by `build_money`), the Relay `Node` interface, connections with their edges and page info
(`Connection.of`) and `UserError` (`build_user_error`; `attempt` runs a domain action and turns its
refusal into one). Domain modules import them from here and never declare their own. So are the
enums every domain names (`ErrorCode`, `CurrencyCode`), registered by `described_enum`, and the
connection arguments (`First`, `After`, `Last`, `Before`), described once for every list.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from enum import Enum, StrEnum
from typing import Annotated, Any, Generic, Self, TypeVar, cast

import strawberry
from strawberry.types.enum import has_enum_definition

from resolvers.currencies import CURRENCIES
from resolvers.errors import DomainError, ErrorCode
from resolvers.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page, encode_cursor
from schema.context import Context

T = TypeVar("T")
E = TypeVar("E", bound=Enum)
NodeType = TypeVar("NodeType")


def described_enum(cls: type[E], description: str, values: Mapping[E, str]) -> type[E]:
    """Register an enum as the GraphQL enum of its name, with a description for each of its values.

    Strawberry reads a value's description only from a member written `strawberry.enum_value(...)`,
    and the domain's enums (models/, resolvers/) do not depend on Strawberry: so the descriptions
    are given here and set on the definition `strawberry.enum` attached, which keeps the class the
    domain uses as the GraphQL enum. A value left undescribed (or one that is not a member) fails
    at import.
    """
    registered: object = strawberry.enum(cls, name=cls.__name__, description=description)
    if not has_enum_definition(registered):  # strawberry.enum has just attached it
        raise TypeError(f"{cls.__name__} is not a GraphQL enum")
    definition = registered.__strawberry_definition__
    members = {value.name: cls(value.value) for value in definition.values}
    if wrong := set(members.values()) ^ set(values):
        raise ValueError(
            f"{cls.__name__}: describe each of its values and nothing else, not {sorted(member.name for member in wrong)}"
        )
    definition.values = [replace(value, description=values[members[value.name]]) for value in definition.values]
    return cls


described_enum(
    ErrorCode,
    "Why a business rule refused a mutation (`UserError.code`).",
    {code: code.description for code in ErrorCode},
)

# The functional API with computed members: mypy types the call as an instance, it is a class.
_currency_codes = cast("type[StrEnum]", StrEnum("CurrencyCode", [(code, code) for code in CURRENCIES]))
CurrencyCode = described_enum(
    _currency_codes,
    "A currency by its ISO 4217 code: every code of the standard's list of active currencies. On the "
    'wire it is the three letters ("EUR"), as a string would be.',
    {code: CURRENCIES[code.value] for code in _currency_codes},
)


@strawberry.type(description="An amount of money; `amount` is a decimal string, never a float.")
class Money:
    amount: Decimal = strawberry.field(
        description='The amount in `currency`, such as "19.99": exact, so add and compare it as a decimal.'
    )
    # The code as a plain string, the store's, which start-up checked against the same list
    # (gateway/settings.py): graphql-core finds a string's enum name in a dict, where an enum member
    # would have Strawberry search the 178 values for it, once per amount of a listing page.
    currency: str = strawberry.field(
        graphql_type=CurrencyCode,
        description="The currency of `amount`. The gateway prices everything in the store's one currency.",
    )


def build_money(amount: Decimal, context: Context) -> Money:
    """An amount in the store's currency."""
    return Money(amount=amount, currency=context.currency)


@strawberry.interface(description="An object with a globally unique, opaque ID.")
class Node:
    id: strawberry.ID = strawberry.field(
        description="Opaque and globally unique: fetch the object again with `node(id:)`, or pass it to "
        "the operations that take this type's ID. Do not parse it."
    )


@strawberry.type(description="Where a page of a connection lies in the whole list.")
class PageInfo:
    has_next_page: bool = strawberry.field(
        description="More items follow the page's last one: ask for them with `after: endCursor`."
    )
    has_previous_page: bool = strawberry.field(
        description="More items precede the page's first one: ask for them with `last` and "
        "`before: startCursor`. False on a page read forwards from the start."
    )
    start_cursor: str | None = strawberry.field(description="The first edge's cursor; null when the page is empty.")
    end_cursor: str | None = strawberry.field(description="The last edge's cursor; null when the page is empty.")


@strawberry.type(description="One item of a connection's page, with its position in the list.")
class Edge(Generic[NodeType]):
    cursor: str = strawberry.field(
        description="Where this item lies in the list and its order: pass it as `after` or `before` to page "
        "from here. Opaque; it stays valid while items are added or removed."
    )
    node: NodeType = strawberry.field(description="The item.")


@strawberry.type(description="A page of a list that can grow, in Relay's connection form.")
class Connection(Generic[NodeType]):
    """A page of a list that can grow. Strawberry names `Connection[Order]` `OrderConnection` and
    its edges `OrderEdge`; a connection with fields of its own (a total count, facets) subclasses
    `Connection[T]` under the name it publishes."""

    edges: list[Edge[NodeType]] = strawberry.field(description="The page's items, each with its cursor.")
    page_info: PageInfo = strawberry.field(description="Whether more items come before or after this page.")

    @classmethod
    def of(cls, page: Page, nodes: Sequence[NodeType], /, **fields: Any) -> Self:
        """The connection of `page`, whose rows `nodes` show, in the same order; `fields` are a
        subclass's own. Each cursor is encoded from the page's sort and its row's key in the one
        pass over the page that builds the edges (a listing's hot path)."""
        sort = page.sort
        edges = [Edge(cursor=encode_cursor(sort, key), node=node) for key, node in zip(page.keys, nodes, strict=True)]
        info = PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=page.has_previous_page,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        )
        return cls(edges=edges, page_info=info, **fields)


# The arguments of every connection field. Without `first` or `last`, a page holds the first
# DEFAULT_PAGE_SIZE items (the last ones after `before`).
First = Annotated[
    int | None,
    strawberry.argument(
        description=f"How many items to return from the start of the list, or after `after`: 0 to {MAX_PAGE_SIZE} "
        f"({DEFAULT_PAGE_SIZE} when neither `first` nor `last` is given). Not with `last`."
    ),
]
After = Annotated[
    str | None,
    strawberry.argument(
        description="Return the items after this cursor (an edge's `cursor`, or `pageInfo.endCursor`)."
    ),
]
Last = Annotated[
    int | None,
    strawberry.argument(
        description=f"How many items to return from the end of the list, or before `before`: 0 to {MAX_PAGE_SIZE}. "
        "Not with `first` or `after`."
    ),
]
Before = Annotated[
    str | None,
    strawberry.argument(
        description="Return the items before this cursor (`pageInfo.startCursor`), paging backwards. Not with `after`."
    ),
]


@strawberry.type(description="Why a mutation changed nothing: one broken business rule, for the person to fix.")
class UserError:
    field: list[str] | None = strawberry.field(
        description='The path to the argument at fault, such as `["lines", "0", "quantity"]`; null when no '
        "single argument is."
    )
    code: ErrorCode = strawberry.field(description="What went wrong, to branch on.")
    message: str = strawberry.field(description="What went wrong in English, to show; may change between releases.")


def build_user_error(error: DomainError) -> UserError:
    return UserError(field=error.field, code=error.code, message=error.message)


async def attempt(action: Awaitable[T]) -> tuple[T | None, list[UserError]]:
    """Run a domain action: its result and no errors, or no result and the refusal as a userError."""
    try:
        return await action, []
    except DomainError as error:
        return None, [build_user_error(error)]
