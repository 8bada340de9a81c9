"""The storefront product listing as SQL: filters, search, sort, keyset page, count and facets.

Hand-written because one WHERE clause feeds the page, the count and the facet statements, and
because search, price and attribute casts and ranking differ between PostgreSQL and SQLite. Longer
than 400 lines for that reason: the clause and every statement reading it stay in one module.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from models import Attribute, AttributeType
from models import rows as product_rows
from models.rows import ProductRow
from models.sql import connection, fetch, is_postgres
from resolvers import catalogue_counts
from resolvers.attributes import RANGED, AttributeCondition, TypedValue
from resolvers.catalogue_fields import MAX_PRICE
from resolvers.errors import BadInput
from resolvers.pagination import Page, PageRequest, keyset_condition, keyset_order, make_page

# The product's stored search document (migrations/0029: name weighted A, description B), GIN-indexed.
SEARCH_DOCUMENT = "p.search_document"
# Must match the expression of the trigram index created in migrations/0026 (`gin_trgm_ops`).
TRIGRAM_COLUMN = "name"
TRIGRAM_TEXT = f"p.{TRIGRAM_COLUMN}"
# How close a search must come to part of a name to match despite typos (pg_trgm's word similarity,
# 0 to 1): set on every PostgreSQL connection by gateway/db.py, since `<%` reads it from the session.
WORD_SIMILARITY_THRESHOLD = 0.5
# A SKU typed exactly finds its product first, whatever the words: added to the relevance score,
# which full-text rank plus word similarity (each at most about 1) never reach.
SKU_BONUS = 100
# A search sorted by relevance ranks at most this many of its matches (`with_matches`).
RANKED_MATCHES = 1000
# Every product sort has one key then the id tie-break, so a cursor holds two values.
CURSOR_ARITY = 2
PRICE_BUCKETS: tuple[Decimal, ...] = (Decimal(0), Decimal(25), Decimal(50), Decimal(100), Decimal(250), Decimal(500))
# `ts_rank` is a PostgreSQL `real`: a rank in a cursor past it is refused by the driver.
MAX_RANK = 3.4e38


class ProductSort(StrEnum):
    NAME_ASC = "NAME_ASC"
    NAME_DESC = "NAME_DESC"
    PRICE_ASC = "PRICE_ASC"
    PRICE_DESC = "PRICE_DESC"
    NEWEST = "NEWEST"
    RELEVANCE = "RELEVANCE"


@dataclass(frozen=True)
class ProductSearch:
    """Which products a listing shows: its filter and search words, checked and resolved to what the
    SQL compares (a category's path rather than its id)."""

    category_path: str | None = None  # the materialized path of the category filter
    price_min: Decimal | None = None
    price_max: Decimal | None = None
    in_stock: bool | None = None
    options: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (name, any of these values), all must hold
    attributes: tuple[AttributeCondition, ...] = ()  # each must hold, on the product or one of its variants
    terms: tuple[str, ...] = ()  # the search box's words (`search_terms`)
    text: str = ""  # the search box as typed, trimmed: compared with SKUs exactly
    # PostgreSQL, set by `with_matches`: the words as typed find nothing, so they are matched by
    # similarity instead; the ids of the products the search finds (all of them, or with more than
    # RANKED_MATCHES the pool a relevance page ranks); and how many it matches (exactly when they
    # are all found, else PostgreSQL's estimate).
    forgive_typos: bool = False
    found: tuple[int, ...] | None = None
    matched: int | None = None
    include_hidden: bool = False  # drafts and archived products: staff only
    statuses: tuple[str, ...] = ()  # with include_hidden: only these statuses

    @property
    def found_all(self) -> bool:
        """`found` holds every product the search matches (an estimate is past RANKED_MATCHES)."""
        return self.found is not None and self.matched == len(self.found)


@dataclass(frozen=True)
class PriceBucket:
    min: Decimal
    max: Decimal | None
    count: int


@dataclass(frozen=True)
class AttributeFacet:
    """A filterable attribute among the matching products: its values with how many products have
    each, or for a NUMBER or DATE the lowest and highest value."""

    attribute: Attribute
    values: list[tuple[TypedValue, int]] = field(default_factory=list)
    range: tuple[TypedValue, TypedValue] | None = None


@dataclass(frozen=True)
class Facets:
    categories: list[tuple[int, int]]  # (category id, products in it or its descendants)
    options: list[tuple[str, str, int]]  # (option name, value, products)
    prices: list[PriceBucket] = field(default_factory=list)
    attributes: list[AttributeFacet] = field(default_factory=list)  # only when asked for


def search_terms(text: str | None) -> tuple[str, ...]:
    """Words of a search box, letters and digits only, so they are safe in tsquery and LIKE."""
    return tuple(dict.fromkeys(re.findall(r"[^\W_]+", (text or "").lower())))[:10]


class _Dialect:
    def __init__(self, postgres: bool) -> None:
        self.postgres = postgres
        # SQLite stores decimals as text: compare them as numbers.
        self.price = "COALESCE(p.min_price, 0)" if postgres else "COALESCE(CAST(p.min_price AS REAL), 0)"

    def price_param(self, value: Decimal) -> Any:
        return value if self.postgres else float(value)

    def attribute_column(self, column: str) -> str:
        # SQLite stores decimals as text: compare them as numbers (no index then; PostgreSQL uses one).
        if column == "value_number" and not self.postgres:
            return "CAST(fa.value_number AS REAL)"
        return f"fa.{column}"

    def attribute_param(self, value: Any) -> Any:
        if self.postgres:
            return value
        if isinstance(value, Decimal):
            return float(value)
        if isinstance(value, date):  # SQLite stores dates as ISO text, which sorts as dates do
            return value.isoformat()
        return value


def _where(search: ProductSearch, dialect: _Dialect) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if not search.include_hidden:
        clauses.append("p.status = ?")
        params.append("ACTIVE")
    elif search.statuses:
        clauses.append(f"p.status IN ({', '.join('?' * len(search.statuses))})")
        params.extend(str(status) for status in search.statuses)
    if search.category_path is not None:
        clauses.append("p.category_id IN (SELECT d.id FROM category d WHERE d.path LIKE ?)")
        params.append(search.category_path + "%")
    if search.price_min is not None:
        clauses.append(f"{dialect.price} >= ?")
        params.append(dialect.price_param(search.price_min))
    if search.price_max is not None:
        clauses.append(f"{dialect.price} <= ?")
        params.append(dialect.price_param(search.price_max))
    if search.in_stock is not None:
        exists = (
            "EXISTS (SELECT 1 FROM product_variant sv JOIN stock s ON s.variant_id = sv.id "
            "WHERE sv.product_id = p.id AND s.quantity > s.reserved)"
        )
        clauses.append(exists if search.in_stock else f"NOT {exists}")
    if search.options:
        # One variant must carry every requested option (size M *and* red, not M in blue plus red in S):
        # its rows matching any of them cover every name. One grouped subquery whatever the number
        # of options; a subquery per option made PostgreSQL plan a join of N relations (40 took 3 s).
        if any(not values for _, values in search.options):
            clauses.append("1 = 0")  # an option asked for with no value left matches nothing
        else:
            matches = []
            for name, values in search.options:
                matches.append(f"(o.name = ? AND o.value IN ({', '.join('?' * len(values))}))")
                params.extend([name, *values])
            clauses.append(
                "p.id IN (SELECT ov.product_id FROM variant_option o JOIN product_variant ov ON ov.id = o.variant_id "
                f"WHERE {' OR '.join(matches)} GROUP BY ov.product_id, o.variant_id HAVING COUNT(*) = ?)"
            )
            params.append(len(search.options))
    if search.attributes:
        clauses.append(_attributes_clause(search.attributes, dialect, params))
    if search.terms and search.found_all:
        clauses.append("p.id = ANY(?)")  # the search's matches, found once for the request
        params.append(list(search.found or ()))
    elif search.terms:
        clauses.append(_search_clause(search, dialect, params))
    return (" AND ".join(clauses) or "1 = 1"), params


def _attributes_clause(conditions: tuple[AttributeCondition, ...], dialect: _Dialect, params: list[Any]) -> str:
    """Products with a value (their own or a variant's) meeting every condition: the rows meeting
    any, grouped by product, must cover every attribute. One subquery however many attributes, as
    for options; each condition an indexed (attribute, value) lookup on PostgreSQL."""
    matches = []
    for condition in conditions:
        column = dialect.attribute_column(condition.column)
        parts = ["fa.attribute_id = ?"]
        params.append(condition.attribute_id)
        if condition.values:
            parts.append(f"{column} IN ({', '.join('?' * len(condition.values))})")
            params.extend(dialect.attribute_param(value) for value in condition.values)
        if condition.low is not None:
            parts.append(f"{column} >= ?")
            params.append(dialect.attribute_param(condition.low))
        if condition.high is not None:
            parts.append(f"{column} <= ?")
            params.append(dialect.attribute_param(condition.high))
        matches.append(f"({' AND '.join(parts)})")
    params.append(len({condition.attribute_id for condition in conditions}))
    return (
        f"p.id IN (SELECT fa.product_id FROM attribute_value fa WHERE {' OR '.join(matches)} "
        "GROUP BY fa.product_id HAVING COUNT(DISTINCT fa.attribute_id) = ?)"
    )


def _search_clause(search: ProductSearch, dialect: _Dialect, params: list[Any]) -> str:
    """The products a search finds: its exact SKU, or its words.

    PostgreSQL: every word as a word prefix in the stored search document (full text) or, when the
    words as typed find nothing anywhere (`forgive_typos`), the words together close enough to part
    of the name (pg_trgm's `<%`: word similarity above `WORD_SIMILARITY_THRESHOLD`), which forgives
    a typo ("wool swetaer"). Only then: matching by similarity as well would add "wood" to every
    search for "wool", and rank thousands of near misses below the exact matches at a price that
    grows with the catalogue. Each alternative is an index (the GIN indexes, the SKU's unique one)
    that PostgreSQL ORs into one bitmap; the SKUs' products are an array computed once, not a
    subquery per row. SQLite: every word somewhere in the name or description (LIKE)."""
    if dialect.postgres:
        if search.forgive_typos:
            params.extend([" ".join(search.terms), *_skus(search)])
            return f"(? <% {TRIGRAM_TEXT} OR p.id = ANY({_SKU_PRODUCTS}))"
        params.extend([_tsquery(search.terms), *_skus(search)])
        return f"({SEARCH_DOCUMENT} @@ to_tsquery('english', ?) OR p.id = ANY({_SKU_PRODUCTS}))"
    words = []
    for term in search.terms:
        words.append("(p.name LIKE ? OR p.description LIKE ?)")
        params.extend([f"%{term}%", f"%{term}%"])
    params.extend(_skus(search))
    return f"(({' AND '.join(words)}) OR p.id IN (SELECT kv.product_id FROM product_variant kv WHERE kv.sku IN (?, ?)))"


async def with_matches(search: ProductSearch) -> ProductSearch:
    """PostgreSQL: `search` with the products its words find under its filter, read once for the
    request, so that its page, count and facets read those rows by id instead of each scanning the
    search indexes again (at 200,000 products one scan of "wool" found ~14,000 matches in ~10 ms).

    Up to RANKED_MATCHES matches they are all found, and counted exactly. Past it, the found ones
    are the pool a relevance page ranks and the facets sample: those with the words in their name
    first, then the others as the index finds them. Ranking reads every ranked row, so ranking all
    of a common word's matches grew with the catalogue; a pool keeps a page's cost the same at any
    size, and every page of one search ranks the same pool while the catalogue does not change, as
    a search engine's result window does. When the words as typed find nothing, the search forgives
    typos (`_search_clause`) and finds again."""
    if not search.terms or not is_postgres():
        return search
    found = await _match_ids(search, RANKED_MATCHES + 1)
    if not found:
        search = replace(search, forgive_typos=True)
        found = await _match_ids(search, RANKED_MATCHES + 1)
    if len(found) <= RANKED_MATCHES:
        return replace(search, found=tuple(found), matched=len(found))
    pool = found[:RANKED_MATCHES]
    if not search.forgive_typos:  # a typo'd search matches names only: one tier
        named = await _match_ids(search, RANKED_MATCHES, in_name=True)
        pool = list(dict.fromkeys([*named, *pool]))[:RANKED_MATCHES]
    # Estimated here, once for the request, rather than by the page's count and the facets' each.
    return replace(search, found=tuple(pool), matched=await _estimated_search_count(search))


async def _match_ids(search: ProductSearch, limit: int, *, in_name: bool = False) -> list[int]:
    """The first `limit` products the search finds, as its indexes find them; `in_name`, only
    those with every word in their name (the search document's weight A)."""
    where, params = _where(search, _Dialect(True))
    if in_name:
        where += f" AND {SEARCH_DOCUMENT} @@ to_tsquery('english', ?)"
        params.append(_tsquery(search.terms, "A"))
    rows = await fetch(f"SELECT p.id AS id FROM product p WHERE {where} LIMIT ?", [*params, limit])
    return [int(row["id"]) for row in rows]


def _skus(search: ProductSearch) -> tuple[str, str]:
    # SKUs are mostly upper case; a shopper types them in any case.
    return search.text, search.text.upper()


# PostgreSQL: the products of the SKUs typed (two `?`), as an array computed once per statement.
_SKU_PRODUCTS = "ARRAY(SELECT kv.product_id FROM product_variant kv WHERE kv.sku IN (?, ?))"


def _sku_score(search: ProductSearch, dialect: _Dialect) -> tuple[str, list[Any]]:
    if dialect.postgres:
        matched = f"p.id = ANY({_SKU_PRODUCTS})"
    else:
        matched = "EXISTS (SELECT 1 FROM product_variant kv WHERE kv.product_id = p.id AND kv.sku IN (?, ?))"
    return f"(CASE WHEN {matched} THEN {SKU_BONUS} ELSE 0 END)", list(_skus(search))


def _tsquery(terms: tuple[str, ...], weights: str = "") -> str:
    # Prefix matching on every word, so a search box can match as the shopper types; `weights`
    # ("A": the name) restricts the words to those parts of the search document.
    return " & ".join(f"{term}:*{weights}" for term in terms)


def _sort_columns(
    sort: ProductSort, search: ProductSearch, dialect: _Dialect
) -> tuple[list[tuple[str, bool]], list[Any]]:
    """(expression, descending) pairs ending with the id tie-break, and the expressions' parameters."""
    if sort is ProductSort.RELEVANCE and search.terms:
        # One score, so that a cursor keeps one key and the id: an exact SKU first, then relevance.
        sku, sku_params = _sku_score(search, dialect)
        if dialect.postgres:
            # Full-text rank of the stored document or, forgiving typos, how close the name comes.
            # Both are `real`: the sum is cast so that a cursor's value compares exactly.
            if search.forgive_typos:
                closeness, param = f"word_similarity(?, {TRIGRAM_TEXT})", " ".join(search.terms)
            else:
                closeness, param = f"ts_rank({SEARCH_DOCUMENT}, to_tsquery('english', ?))", _tsquery(search.terms)
            score = f"CAST({sku} + {closeness} AS double precision)"
            return [(score, True), ("p.id", False)], [*sku_params, param]
        # SQLite: a name match counts twice a description match.
        score = " + ".join(
            "(CASE WHEN p.name LIKE ? THEN 2 ELSE 0 END) + (CASE WHEN p.description LIKE ? THEN 1 ELSE 0 END)"
            for _ in search.terms
        )
        params = [f"%{t}%" for term in search.terms for t in (term, term)]
        return [(f"({sku} + {score})", True), ("p.id", False)], [*sku_params, *params]
    columns = {
        ProductSort.NAME_ASC: [("p.name", False), ("p.id", False)],
        ProductSort.NAME_DESC: [("p.name", True), ("p.id", True)],
        ProductSort.PRICE_ASC: [(dialect.price, False), ("p.id", False)],
        ProductSort.PRICE_DESC: [(dialect.price, True), ("p.id", True)],
        ProductSort.NEWEST: [("p.created_at", True), ("p.id", True)],
        ProductSort.RELEVANCE: [("p.name", False), ("p.id", False)],
    }[sort]
    return columns, []


def _json_key(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _param_key(value: Any, kind: str, dialect: _Dialect, argument: str) -> Any:
    """A cursor value as a statement parameter, refusing one of the wrong type or out of its column's
    range (`BAD_USER_INPUT`): the driver would refuse it only once the statement is sent."""
    try:
        if kind == "int":
            if isinstance(value, int) and not isinstance(value, bool):
                return value
        elif kind == "str":
            if isinstance(value, str):
                return value
        elif kind == "float":
            if isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) <= MAX_RANK:
                return value
        elif kind == "decimal":
            number = Decimal(str(value))
            if number.is_finite() and abs(number) <= MAX_PRICE:
                return number if dialect.postgres else float(number)
        elif kind == "datetime" and isinstance(value, str):
            parsed = datetime.fromisoformat(value)
            if parsed.tzinfo is not None:  # cursors carry an offset; in UTC it must still be a datetime
                in_utc = parsed.astimezone(UTC)
                return in_utc if dialect.postgres else value
    except (ArithmeticError, ValueError):  # OverflowError: past year 1 or 9999 once in UTC
        pass
    raise BadInput(f"`{argument}` is not a valid cursor.", argument)


def _key_kinds(sort: ProductSort, search: ProductSearch) -> list[str]:
    if sort in (ProductSort.PRICE_ASC, ProductSort.PRICE_DESC):
        return ["decimal", "int"]
    if sort is ProductSort.NEWEST:
        return ["datetime", "int"]
    if sort is ProductSort.RELEVANCE and search.terms:
        return ["float", "int"]
    return ["str", "int"]


async def product_page(
    search: ProductSearch, sort: ProductSort, request: PageRequest, *, with_total: bool = False
) -> tuple[Page, int | None]:
    """One statement: the page of product rows (plus one look-ahead row) with their sort keys, and
    with `with_total` the number of products matching the filter (None without it).

    The count rides along as an uncorrelated scalar subquery, which PostgreSQL and SQLite evaluate
    once: a statement of its own cost the gateway ~0.3 ms CPU per request (pool acquire, reset,
    protocol) on the 50-product listing. Only a page with no row carries no count, and then it is
    read on its own.
    """
    conn = connection()
    dialect = _Dialect(is_postgres(conn))
    columns, select_params = _sort_columns(sort, search, dialect)
    where, where_params = _where(search, dialect)
    keyset_params: list[Any] = []
    page_where, page_params = where, where_params
    if sort is ProductSort.RELEVANCE and search.found is not None and not search.found_all:
        page_where, page_params = "p.id = ANY(?)", [list(search.found)]  # the ranked pool
    if request.cursor is not None:
        kinds = _key_kinds(sort, search)
        argument = "before" if request.backward else "after"
        values = tuple(_param_key(v, kinds[i], dialect, argument) for i, v in enumerate(request.cursor))
        # Going backward reads the rows before the cursor in the reverse order.
        directed = [(expr, desc != request.backward) for expr, desc in columns]
        condition, keyset_params = keyset_condition(directed, values)
        # The sort expressions of the keyset condition carry their own parameters.
        keyset_params = _interleave_expression_params(directed, keyset_params, select_params)
        base = page_where
        page_where = f"{base} AND {condition}"
        if not select_params:
            # The OR-chain alone is a filter checked row by row from the start of the sort's index;
            # the first key's bound lets PostgreSQL start the index scan at the cursor, so a deep
            # page reads a page and not the catalogue before it.
            first, descending = directed[0]
            page_where = f"{base} AND {first} {'<=' if descending else '>='} ? AND {condition}"
            keyset_params = [values[0], *keyset_params]
    selected, order = keyset_order(columns, request.backward)
    count_params: list[Any] = []
    # A search's matches were counted (or estimated) as they were found (`with_matches`).
    counted = with_total and search.matched is not None
    to_count = with_total and not counted
    if to_count and dialect.postgres:  # exact up to a bound, estimated past it (resolvers/catalogue_counts.py)
        selected += f", {catalogue_counts.bounded_count_sql(where)} AS total_count"
        count_params = [*where_params, catalogue_counts.count_limit()]
    elif to_count:
        selected += f", (SELECT COUNT(*) FROM product p WHERE {where}) AS total_count"
        count_params = where_params
    # The row's columns first: models/rows.py reads a ProductRow from them.
    sql = f"SELECT {product_rows.columns(ProductRow, 'p')}, {selected} FROM product p WHERE {page_where} ORDER BY {order} LIMIT ?"
    rows = await fetch(sql, [*select_params, *count_params, *page_params, *keyset_params, request.size + 1], conn)
    products = product_rows.read(ProductRow, rows, dialect.postgres)
    names = [f"sort_{i}" for i in range(len(columns))]
    if any(kind in ("decimal", "datetime") for kind in _key_kinds(sort, search)):
        keys = [tuple([_json_key(row[name]) for name in names]) for row in rows]
    else:  # names, ids, ranks: already what a cursor holds
        keys = [tuple([row[name] for name in names]) for row in rows]
    total = search.matched if counted else None
    if to_count:
        total = int(rows[0]["total_count"]) if rows else await product_count(search)
        if rows and dialect.postgres and catalogue_counts.past_bound(total):
            total = await catalogue_counts.estimated_count(where, where_params)
    return make_page(request, products, keys), total


def _interleave_expression_params(
    columns: list[tuple[str, bool]], keyset_params: list[Any], expression_params: list[Any]
) -> list[Any]:
    """Insert each sort expression's own parameters before every value compared against it.

    `keyset_condition` emits `expr = ?` / `expr > ?` pairs; when `expr` itself has placeholders
    (the search rank), those must be bound at each place the expression appears.
    """
    if not expression_params:
        return keyset_params
    counts = [expr.count("?") for expr, _ in columns]
    out: list[Any] = []
    values = iter(keyset_params)
    for position in range(len(columns)):
        for earlier in range(position + 1):
            if counts[earlier]:
                out.extend(expression_params)
            out.append(next(values))
    return out


async def product_count(search: ProductSearch) -> int:
    dialect = _Dialect(is_postgres())
    where, params = _where(search, dialect)
    return await _matching_count(search, where, params, dialect)


async def _matching_count(search: ProductSearch, where: str, params: list[Any], dialect: _Dialect) -> int:
    """`totalCount`: on PostgreSQL exact up to a bound and estimated past it; on SQLite exact."""
    if search.matched is not None:  # a search's matches, counted as they were found
        return search.matched
    if not dialect.postgres:
        rows = await fetch(f"SELECT COUNT(*) AS count FROM product p WHERE {where}", params)
        return int(rows[0]["count"])
    sql = f"SELECT {catalogue_counts.bounded_count_sql(where)} AS count"
    counted = int((await fetch(sql, [*params, catalogue_counts.count_limit()]))[0]["count"])
    return await catalogue_counts.estimated_count(where, params) if catalogue_counts.past_bound(counted) else counted


async def product_facets(search: ProductSearch, *, with_attributes: bool = False) -> Facets:
    """Three statements over the same sample of matching products: categories (rolled up to
    ancestors), options, prices; `with_attributes`, three more (`attribute_facets`), run beside
    them. Exact when fewer products match than the sample holds; past it, scaled to the count."""
    dialect = _Dialect(is_postgres())
    where, params = _where(search, dialect)
    sample = _sample(search, where, params)
    attributes: list[AttributeFacet] = []
    if with_attributes:
        (facets, sampled), attributes = await asyncio.gather(
            _facets(sample, dialect), attribute_facets(sample, dialect)
        )
    else:
        facets, sampled = await _facets(sample, dialect)
    if search.found_all or sampled < catalogue_counts.FACET_SAMPLE:
        return Facets(facets.categories, facets.options, facets.prices, attributes)
    total = await _matching_count(search, where, params, dialect)

    def scaled(count: int) -> int:
        return catalogue_counts.scale(count, sampled, total)

    return Facets(
        categories=[(category, scaled(count)) for category, count in facets.categories],
        options=[(name, value, scaled(count)) for name, value, count in facets.options],
        prices=[PriceBucket(b.min, b.max, scaled(b.count)) for b in facets.prices],
        attributes=[AttributeFacet(f.attribute, [(v, scaled(n)) for v, n in f.values], f.range) for f in attributes],
    )


async def _estimated_search_count(search: ProductSearch) -> int:
    """PostgreSQL's estimate of a search's matches. It estimates a prefix (`wool:*`) as a fixed
    share of the table (3,851 of the 13,834 products "wool" finds at 200,000) but a whole word from
    its statistics of the search document: the larger of the two, the words as prefixes and whole."""
    where, params = _where(search, _Dialect(True))
    estimate = await catalogue_counts.estimated_count(where, params)
    if search.forgive_typos:
        return estimate
    prefixes, whole = _tsquery(search.terms), " & ".join(search.terms)
    as_words = [whole if param == prefixes else param for param in params]
    return max(estimate, await catalogue_counts.estimated_count(where, as_words))


def _sample(search: ProductSearch, where: str, params: list[Any]) -> tuple[str, list[Any]]:
    """The products the facets count, as a derived table `p` and its parameters: a search's found
    products (`with_matches`), else a sample of those matching (`catalogue_counts.sample_sql`)."""
    if search.found is not None:
        # Joined from the ids rather than `p.id = ANY(?)`, for which PostgreSQL walked a whole index
        # of the products (35 ms at 200,000) instead of reading the found ones.
        return "(SELECT p.* FROM unnest(CAST(? AS integer[])) AS f(id) JOIN product p ON p.id = f.id) AS p", [
            list(search.found)
        ]
    return catalogue_counts.sample_sql(where), [*params, catalogue_counts.FACET_SAMPLE]


async def _facets(sampled: tuple[str, list[Any]], dialect: _Dialect) -> tuple[Facets, int]:
    """The facets of the sample (`_sample`), and how many products it held."""
    sample, sample_params = sampled
    categories = await fetch(
        f"SELECT a.id AS id, COUNT(*) AS count FROM {sample} "
        "JOIN category c ON c.id = p.category_id JOIN category a ON c.path LIKE a.path || '%' "
        "GROUP BY a.id ORDER BY a.id",
        sample_params,
    )
    options = await fetch(
        "SELECT o.name AS name, o.value AS value, COUNT(DISTINCT p.id) AS count FROM variant_option o "
        f"JOIN product_variant v ON v.id = o.variant_id JOIN {sample} ON p.id = v.product_id "
        "GROUP BY o.name, o.value ORDER BY o.name, o.value",
        sample_params,
    )
    bounds = PRICE_BUCKETS[1:]
    case = " ".join(f"WHEN {dialect.price} < ? THEN {i}" for i, _ in enumerate(bounds))
    buckets = await fetch(
        f"SELECT CASE {case} ELSE {len(bounds)} END AS bucket, COUNT(*) AS count FROM {sample} GROUP BY bucket",
        [*(dialect.price_param(b) for b in bounds), *sample_params],
    )
    counts = {int(row["bucket"]): int(row["count"]) for row in buckets}
    prices = [
        PriceBucket(low, PRICE_BUCKETS[i + 1] if i + 1 < len(PRICE_BUCKETS) else None, counts.get(i, 0))
        for i, low in enumerate(PRICE_BUCKETS)
    ]
    facets = Facets(
        categories=[(int(r["id"]), int(r["count"])) for r in categories],
        options=[(r["name"], r["value"], int(r["count"])) for r in options],
        prices=prices,
    )
    return facets, sum(counts.values())


# Values counted, not ranged: every type but NUMBER and DATE, whose values are too many to list.
_COUNTED = tuple(kind.value for kind in AttributeType if kind not in RANGED)
_RANGED = tuple(kind.value for kind in RANGED)


async def attribute_facets(sampled: tuple[str, list[Any]], dialect: _Dialect) -> list[AttributeFacet]:
    """The filterable attributes of the matching products (their own values or their variants'),
    as the other facets count: under the whole filter, its own attribute's condition included.
    Three statements, whatever the page: the attributes, the counted values, the ranges."""
    number = "av.value_number" if dialect.postgres else "CAST(av.value_number AS REAL)"
    sample, sample_params = sampled  # the derived table's parameters come before the WHERE's
    joins = f"FROM attribute_value av JOIN attribute a ON a.id = av.attribute_id JOIN {sample} ON p.id = av.product_id"
    attributes, counted, ranged = await asyncio.gather(
        Attribute.filter(filterable=True, visible_in_storefront=True).order_by("id"),  # as `offered` says
        fetch(
            "SELECT av.attribute_id AS attribute_id, av.value_text AS value_text, av.value_bool AS value_bool, "
            f"COUNT(DISTINCT av.product_id) AS count {joins} "
            f"WHERE a.filterable = ? AND a.visible_in_storefront = ? AND a.type IN ({', '.join('?' * len(_COUNTED))}) "
            "GROUP BY av.attribute_id, av.value_text, av.value_bool "
            "ORDER BY av.attribute_id, av.value_bool, av.value_text",
            [*sample_params, True, True, *_COUNTED],
        ),
        fetch(
            f"SELECT av.attribute_id AS attribute_id, MIN({number}) AS low_number, MAX({number}) AS high_number, "
            f"MIN(av.value_date) AS low_date, MAX(av.value_date) AS high_date {joins} "
            f"WHERE a.filterable = ? AND a.visible_in_storefront = ? AND a.type IN ({', '.join('?' * len(_RANGED))}) "
            "GROUP BY av.attribute_id",
            [*sample_params, True, True, *_RANGED],
        ),
    )
    values = _counted_values(counted)
    ranges = _ranges(ranged, dialect.postgres)
    facets = []
    for attribute in attributes:
        if attribute.id in ranges:
            facets.append(AttributeFacet(attribute, range=ranges[attribute.id]))
        elif attribute.id in values:
            facets.append(AttributeFacet(attribute, values=values[attribute.id]))
    return facets


def _counted_values(rows: Sequence[Mapping[str, Any]]) -> dict[int, list[tuple[TypedValue, int]]]:
    values: dict[int, list[tuple[TypedValue, int]]] = {}
    for row in rows:
        flag = row["value_bool"]
        value: TypedValue = row["value_text"] if flag is None else bool(flag)  # SQLite: 0 or 1
        values.setdefault(int(row["attribute_id"]), []).append((value, int(row["count"])))
    return values


def _ranges(rows: Sequence[Mapping[str, Any]], postgres: bool) -> dict[int, tuple[TypedValue, TypedValue]]:
    ranges: dict[int, tuple[TypedValue, TypedValue]] = {}
    for row in rows:
        if row["low_number"] is not None:
            # SQLite compared them as REAL: back to decimals, through their shortest text.
            low, high = (v if postgres else Decimal(repr(v)) for v in (row["low_number"], row["high_number"]))
            ranges[int(row["attribute_id"])] = (low, high)
        elif row["low_date"] is not None:
            low, high = (v if postgres else date.fromisoformat(v) for v in (row["low_date"], row["high_date"]))
            ranges[int(row["attribute_id"])] = (low, high)
    return ranges


async def product_ids(search: ProductSearch, after_id: int, limit: int) -> list[int]:
    """The ids of the products matching `search` after `after_id`, in id order: a whole filtered
    catalogue read a page at a time (the product export)."""
    conn = connection()
    where, params = _where(search, _Dialect(is_postgres(conn)))
    sql = f"SELECT p.id FROM product p WHERE {where} AND p.id > ? ORDER BY p.id LIMIT ?"
    return [int(row["id"]) for row in await fetch(sql, [*params, after_id, limit], conn)]
