"""Search suggestions for an input box: product names completing what a shopper has typed.

One statement, index-backed on PostgreSQL (the trigram index of migrations/0026 serves both the
`ILIKE` prefix patterns and the typo-tolerant `<%`), so it answers within the listing's latency.
"""

from __future__ import annotations

from models import ProductStatus
from models import rows as product_rows
from models.rows import ProductRow
from models.sql import connection, fetch, is_postgres
from resolvers.catalogue_listing import TRIGRAM_TEXT, search_terms
from resolvers.errors import BadInput

MAX_SUGGESTIONS = 20
MAX_PREFIX_LENGTH = 100


def _like_prefix(text: str) -> str:
    """`text` as the literal start of a LIKE pattern (`\\` escapes the wildcards)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def product_suggestions(prefix: str, first: int) -> list[ProductRow]:
    """Active products whose name starts with `prefix`, then those with a word starting with it,
    then (PostgreSQL only) those whose name comes close to it despite a typo, closest first."""
    if not 1 <= first <= MAX_SUGGESTIONS:
        raise BadInput(f"`first` must be between 1 and {MAX_SUGGESTIONS}, got {first}.", "first")
    if len(prefix) > MAX_PREFIX_LENGTH:
        raise BadInput(f"`prefix` may have at most {MAX_PREFIX_LENGTH} characters, got {len(prefix)}.", "prefix")
    text = " ".join(prefix.split())
    words = search_terms(text)
    if not words:  # nothing a name could start with: an empty box suggests nothing
        return []
    conn = connection()
    postgres = is_postgres(conn)
    like = "ILIKE" if postgres else "LIKE"  # SQLite's LIKE ignores ASCII case already
    start, word_start = f"{_like_prefix(text)}%", f"% {_like_prefix(text)}%"
    starts = f"CASE WHEN p.name {like} ? ESCAPE '\\' THEN 2 WHEN p.name {like} ? ESCAPE '\\' THEN 1 ELSE 0 END"
    matches = f"p.name {like} ? ESCAPE '\\' OR p.name {like} ? ESCAPE '\\'"
    params: list[object] = [start, word_start]
    closeness = "0"
    if postgres:
        closeness = f"word_similarity(?, {TRIGRAM_TEXT})"
        params.append(" ".join(words))
    params += [ProductStatus.ACTIVE.value, start, word_start]
    if postgres:
        matches += f" OR ? <% {TRIGRAM_TEXT}"
        params.append(" ".join(words))
    params.append(first)
    sql = (
        f"SELECT {product_rows.columns(ProductRow, 'p')}, {starts} AS starts, {closeness} AS closeness "
        f"FROM product p WHERE p.status = ? AND ({matches}) "
        "ORDER BY starts DESC, closeness DESC, p.name, p.id LIMIT ?"
    )
    rows = await fetch(sql, list(params), conn)
    return product_rows.read(ProductRow, rows, postgres)
