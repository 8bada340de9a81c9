"""How the listing counts without reading every matching product: exact up to a bound, estimated past it.

An exact COUNT(*) reads every matching row, so at 200,000 products a broad listing's `totalCount`
and facets cost hundreds of milliseconds, growing with the catalogue. Instead:

- `totalCount` counts at most COUNT_BOUND + 1 matching rows. Up to COUNT_BOUND it is exact; past it,
  on PostgreSQL, it is the planner's estimate of the filter's rows (from the tables' statistics,
  which `ANALYZE` and autovacuum keep fresh), never below COUNT_BOUND + 1. SQLite, a development
  database, always counts exactly.
- Facets are counted over at most FACET_SAMPLE matching products. When fewer match, every facet
  count is exact; when the sample is full, each count is the sample's share scaled to the estimated
  total, and a NUMBER or DATE attribute's range is the sample's.
"""

from __future__ import annotations

import json
from typing import Any

from models.sql import fetch

COUNT_BOUND = 1000
FACET_SAMPLE = 1000


def bounded_count_sql(where: str) -> str:
    """A scalar subquery: the matching products, counted up to COUNT_BOUND + 1 (one `?`, the limit,
    after the filter's own parameters)."""
    return f"(SELECT COUNT(*) FROM (SELECT 1 FROM product p WHERE {where} LIMIT ?) AS bounded)"


def count_limit() -> int:
    return COUNT_BOUND + 1


def sample_sql(where: str) -> str:
    """The matching products as a derived table `p`, at most FACET_SAMPLE of them (one `?`, the
    limit, after the filter's parameters). Unordered, so PostgreSQL stops at the first rows found."""
    return f"(SELECT p.* FROM product p WHERE {where} LIMIT ?) AS p"


def past_bound(counted: int) -> bool:
    return counted > COUNT_BOUND


async def estimated_count(where: str, params: list[Any]) -> int:
    """PostgreSQL's estimate of the products matching the filter, at least COUNT_BOUND + 1 (the
    caller counted that many): one EXPLAIN, which plans the statement without running it."""
    rows = await fetch(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM product p WHERE {where}", params)
    plan = next(iter(rows[0].values()))
    document = json.loads(plan) if isinstance(plan, str) else plan
    return max(int(document[0]["Plan"]["Plan Rows"]), COUNT_BOUND + 1)


def scale(count: int, sampled: int, total: int) -> int:
    """A count within a full sample of `sampled` products, as a share of `total` matching ones."""
    if sampled <= 0 or total <= sampled:
        return count
    return max(1, round(count * total / sampled)) if count else 0
