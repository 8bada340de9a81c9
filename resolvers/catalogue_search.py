"""Search suggestions for an input box: product names completing what a shopper has typed.

Suggested in tiers: names starting with what was typed (alphabetically), then names with a later
word starting with it (by that word, then name), then (PostgreSQL) names close to it despite a
typo. On PostgreSQL each tier reads at most what it can show, through an index, so a suggestion
costs the same at 200,000 products as at 10,000 and answers within the listing's latency: the first
tier is a range of the index of active names in lower case, the second a range of the index of
their words (`product_name_word`, both migrations/0029), and the typo tier, a statement of its own
asked only when the others leave room, ranks a bounded pool of the names the trigram index of
migrations/0026 finds similar.
Ranking every match instead grew with the catalogue: ~360 ms for "wool" at 200,000 products.
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
# How many of the names close to a typo'd prefix are ranked by their closeness.
TYPO_POOL = 200
# The highest code point: a prefix followed by it is past every text starting with the prefix
# (the index compares in code point order: `COLLATE "C"` on UTF-8).
_LAST_CHARACTER = "\U0010ffff"
_NAME_KEY = 'lower(p.name) COLLATE "C"'  # must match migrations/0029's product_name_prefix_idx


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
    if not is_postgres(conn):
        return await _sqlite_suggestions(text, first)
    columns = product_rows.columns(ProductRow, "p")
    active = ProductStatus.ACTIVE.value
    # Names starting with the prefix, then (a prefix of one word) names with a word starting with
    # it, each as far as it can fill the box, in one statement. The words include a name's first,
    # so the second tier reads `first` more than the box holds.
    sql = (
        f"SELECT * FROM (SELECT {columns}, 0 AS tier FROM product p WHERE p.status = ? "
        f"AND {_NAME_KEY} >= lower(?) AND {_NAME_KEY} < lower(?) || ? ORDER BY {_NAME_KEY}, p.id LIMIT ?) AS starts"
    )
    params: list[object] = [active, text, text, _LAST_CHARACTER, first]
    if len(words) == 1:
        sql += (
            f" UNION ALL SELECT * FROM (SELECT {columns}, 1 AS tier FROM product_name_word w "
            "JOIN product p ON p.id = w.product_id WHERE w.word >= ? AND w.word < ? AND p.status = ? "
            "ORDER BY w.word, w.name, w.product_id LIMIT ?) AS word_starts"
        )
        params += [words[0], words[0] + _LAST_CHARACTER, active, 2 * first]
    rows = await fetch(sql, params, conn)
    # Each product once, in its first tier; in tier order (UNION ALL promises none), then the
    # order each tier's index read them in.
    ranked = sorted(zip(rows, product_rows.read(ProductRow, rows, True), strict=True), key=lambda pair: pair[0]["tier"])
    suggested: list[ProductRow] = []
    for _, product in ranked:
        if all(product.id != known.id for known in suggested):
            suggested.append(product)
    if len(suggested) < first:
        suggested += await _close_names(" ".join(words), [row.id for row in suggested], first - len(suggested))
    return suggested[:first]


async def _close_names(words: str, known: list[int], first: int) -> list[ProductRow]:
    """PostgreSQL: up to `first` active products whose name comes close to `words` (pg_trgm's `<%`),
    closest first, among the first TYPO_POOL the trigram index finds; none of `known`."""
    rows = await fetch(
        f"SELECT {product_rows.columns(ProductRow, 'p')} FROM (SELECT * FROM product p WHERE p.status = ? "
        f"AND ? <% {TRIGRAM_TEXT} AND NOT p.id = ANY(?) LIMIT ?) AS p "
        f"ORDER BY word_similarity(?, {TRIGRAM_TEXT}) DESC, p.name, p.id LIMIT ?",
        [ProductStatus.ACTIVE.value, words, known, TYPO_POOL, words, first],
    )
    return product_rows.read(ProductRow, rows, True)


async def _sqlite_suggestions(text: str, first: int) -> list[ProductRow]:
    """SQLite: names starting with `text`, then names with a word starting with it, by name."""
    start, word_start = f"{_like_prefix(text)}%", f"% {_like_prefix(text)}%"
    rows = await fetch(
        f"SELECT {product_rows.columns(ProductRow, 'p')}, "
        "CASE WHEN p.name LIKE ? ESCAPE '\\' THEN 1 ELSE 0 END AS starts FROM product p "
        "WHERE p.status = ? AND (p.name LIKE ? ESCAPE '\\' OR p.name LIKE ? ESCAPE '\\') "
        "ORDER BY starts DESC, p.name, p.id LIMIT ?",
        [start, ProductStatus.ACTIVE.value, start, word_start, first],
    )
    return product_rows.read(ProductRow, rows, False)
