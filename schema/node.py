"""The Relay `Node` interface and the page info every connection shares."""

from __future__ import annotations

import strawberry

from resolvers.pagination import Page


@strawberry.interface(description="An object with a globally unique, opaque ID.")
class Node:
    id: strawberry.ID


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


def page_info(page: Page, cursors: list[str]) -> PageInfo:
    return PageInfo(
        has_next_page=page.has_next_page,
        has_previous_page=page.has_previous_page,
        start_cursor=cursors[0] if cursors else None,
        end_cursor=cursors[-1] if cursors else None,
    )
