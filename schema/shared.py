"""The GraphQL shapes every domain shares, each built by one helper.

`Money` (built by `build_money`), the Relay `Node` interface, connections with their edges and page info
(`Connection.of`) and `UserError` (`build_user_error`; `attempt` runs a domain action and turns its
refusal into one). Domain modules import them from here and never declare their own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from decimal import Decimal
from enum import Enum
from typing import Any, Generic, Self, TypeVar, cast

import strawberry

from resolvers.errors import DomainError, ErrorCode
from resolvers.pagination import Page, encode_cursor
from schema.context import Context

T = TypeVar("T")
NodeType = TypeVar("NodeType")


@strawberry.type(description="An amount of money; `amount` is a decimal string, never a float.")
class Money:
    amount: Decimal
    currency: str


def build_money(amount: Decimal, context: Context) -> Money:
    """An amount in the store's currency."""
    return Money(amount=amount, currency=context.currency)


@strawberry.interface(description="An object with a globally unique, opaque ID.")
class Node:
    id: strawberry.ID


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[NodeType]):
    cursor: str
    node: NodeType


@strawberry.type
class Connection(Generic[NodeType]):
    """A page of a list that can grow. Strawberry names `Connection[Order]` `OrderConnection` and
    its edges `OrderEdge`; a connection with fields of its own (a total count, facets) subclasses
    `Connection[T]` under the name it publishes."""

    edges: list[Edge[NodeType]]
    page_info: PageInfo

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


def _graphql_enum(codes: type[ErrorCode]) -> type[Enum]:
    """The domain's codes as a GraphQL enum of the same name, each value with its description.

    Strawberry reads a value's description only from the enum it wraps, and the domain layer does
    not depend on Strawberry: so the GraphQL enum is a second Python enum, generated, never written.
    """
    described = {code.name: strawberry.enum_value(code.value, description=code.description) for code in codes}
    # The functional API with computed members: mypy types the call as an instance, it is a class.
    members = cast("type[Enum]", Enum(codes.__name__, described))
    return strawberry.enum(members, description="Why a business rule refused a mutation (`UserError.code`).")


ErrorCodeEnum = _graphql_enum(ErrorCode)


@strawberry.type
class UserError:
    field: list[str] | None
    # Held as the domain's ErrorCode (a str enum); published as the generated GraphQL enum, whose
    # values are the same strings.
    code: ErrorCode = strawberry.field(graphql_type=ErrorCodeEnum)
    message: str


def build_user_error(error: DomainError) -> UserError:
    return UserError(field=error.field, code=error.code, message=error.message)


async def attempt(action: Awaitable[T]) -> tuple[T | None, list[UserError]]:
    """Run a domain action: its result and no errors, or no result and the refusal as a userError."""
    try:
        return await action, []
    except DomainError as error:
        return None, [build_user_error(error)]
