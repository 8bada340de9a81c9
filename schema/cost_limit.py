"""Cost-based rate limiting as Shopify does it: each operation draws its calculated cost from the
client's bucket of points.

Before execution the requested cost (schema/limits.py's bound) is taken from the bucket; a bucket
holding less refuses the operation with `RATE_LIMITED`, HTTP 429 and `Retry-After`, and nothing
runs. After execution the bucket gets back what the operation did not use: the requested cost
minus the actual one (schema/actual_cost.py). An operation that failed as a whole (`data` null)
keeps its full charge: failing late must not be a way to run work for free.

`extensions.cost` reports it in Shopify's words: `requestedQueryCost`, `actualQueryCost` (null when
nothing ran) and `throttleStatus { maximumAvailable currentlyAvailable restoreRate }`, beside the
`maximumAvailable` every response carries (the most one operation may cost). An answer the
response cache may give to other clients leaves `throttleStatus` out: it describes one client.

Only operations over HTTP are charged; a WebSocket's subscriptions are bounded by
`WS_MAX_SUBSCRIPTIONS`. Installed instead of `QueryLimits` when cost limiting is on.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from typing import Any

from graphql.execution import ExecutionResult
from starlette.responses import Response
from strawberry.extensions import SchemaExtension

from schema.actual_cost import actual_cost
from schema.context import CostBucket
from schema.errors import RateLimited
from schema.graphql_core import core_schema
from schema.limits import Limits, QueryLimits


class CostLimitedQueries(SchemaExtension):
    """QueryLimits' checks and report, and the operation's cost drawn from the client's bucket."""

    def __init__(self, limits: Limits) -> None:
        super().__init__()
        self.checks = QueryLimits(limits)
        self.bucket: CostBucket | None = None
        self.actual: int | None = None
        self.shared = False

    async def on_execute(self) -> AsyncIterator[None]:
        context = self.checks.execution_context = self.execution_context
        self.checks.check()
        cost = self.checks.cost
        bucket = getattr(context.context, "cost_bucket", None)
        if bucket is None or cost is None:
            yield  # not over HTTP, or no operation to run
            return
        self.bucket = bucket
        self.shared = bool(getattr(context.context, "shared_answer", False))
        if context.result is not None:
            yield  # refused by a limit: nothing runs, nothing is charged
            return
        wait = await bucket.charge(cost)
        if wait is not None:
            self._throttle(bucket, cost, wait)
            yield
            return
        yield
        result = context.result
        if result is None or result.data is None:
            self.actual = cost
            return
        actual = actual_cost(core_schema(context.schema), context.graphql_document, context.operation_name, result.data)
        self.actual = min(actual, cost)  # a plain list longer than the bound is not charged extra
        bucket.refund(cost - self.actual)

    def _throttle(self, bucket: CostBucket, cost: int, wait: float) -> None:
        refusal = RateLimited(
            f"query cost points spent (this operation costs {cost}; {math.floor(bucket.available())} of "
            f"{bucket.size} are available and {bucket.restore_rate:g} come back each second)",
            wait,
        )
        self.execution_context.result = ExecutionResult(data=None, errors=[refusal])
        response = getattr(self.execution_context.context, "response", None)
        if isinstance(response, Response):
            response.status_code = 429
            response.headers["Retry-After"] = str(refusal.retry_after_seconds)

    def get_results(self) -> dict[str, Any]:
        results = self.checks.get_results()
        bucket = self.bucket
        if bucket is None:
            return results
        cost = results["cost"]
        cost["actualQueryCost"] = self.actual
        result = self.execution_context.result
        if not self.shared or (result is not None and result.errors):  # the cache stores no errors
            cost["throttleStatus"] = {
                "maximumAvailable": float(bucket.size),
                "currentlyAvailable": float(math.floor(bucket.available())),
                "restoreRate": float(bucket.restore_rate),
            }
        return results
