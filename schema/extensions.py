"""Schema extensions: error codes and masking, and the operation name for logs and metrics.

Turning exceptions into GraphQL errors with `extensions.code`, and masking the unexpected, is
`schema.errors.classify`; the ErrorCodes extension applies it to every result.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from strawberry.extensions import FieldExtension, SchemaExtension
from strawberry.types import Info

from schema.context import Context
from schema.errors import classify


class ErrorCodes(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if result is None or not errors:
            return
        context = self.execution_context.context
        request_id = getattr(context, "request_id", "-")
        result.errors = [classify(error, request_id) for error in errors]


class OperationName(SchemaExtension):
    """Records the executed operation's name on the context, for the access log and metrics."""

    def on_operation(self) -> Iterator[None]:
        yield
        context = self.execution_context.context
        if hasattr(context, "operation_name"):
            context.operation_name = self.execution_context.operation_name or "anonymous"


class FreshLoaders(SchemaExtension):
    """A new dataloader registry (and a fresh look at the signed-in account) for every operation.

    Over HTTP that is once per request; over a WebSocket the context lives as long as the
    connection, and loaders kept that long would serve stale rows (and bind an old event loop).
    """

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        if isinstance(context, Context):
            context.start_operation()
        yield


class FreshLoadersPerMutation(FieldExtension):
    """A new dataloader registry for each root mutation field.

    The fields of a mutation run one after another, and each answers with the state its change
    left: with one registry for the whole operation, a second `cartLinesAdd` in the same request
    answered with the cart lines the first one had loaded. Put on every root mutation field
    (schema/root.py), so no query field pays for it.
    """

    def resolve(self, next_: Callable[..., Any], source: Any, info: Info, **kwargs: Any) -> Any:
        _fresh_loaders(info.context)
        return next_(source, info, **kwargs)

    async def resolve_async(self, next_: Callable[..., Awaitable[Any]], source: Any, info: Info, **kwargs: Any) -> Any:
        _fresh_loaders(info.context)
        return await next_(source, info, **kwargs)


def _fresh_loaders(context: Any) -> None:
    if isinstance(context, Context):
        context.fresh_loaders()
