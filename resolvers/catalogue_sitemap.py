"""What the sitemap lists (sitemaps.org protocol): the storefront page of every active product and
of every category, with when it last changed, in pages of at most `PAGE_SIZE` URLs.

A page holds the objects whose ids fall in one block of `PAGE_SIZE` ids (page 1: ids 1 to 50,000):
reading one is a range scan of the primary key, however deep the page (no OFFSET over 200,000
rows), and a page's URL names the same objects whatever is added or removed before it. Blocks
holding none are left out of the index. Categories have no status: every category the storefront
can open (`category(slug:)` finds any) is listed.

Where a page lives on the storefront is configured: STOREFRONT_PRODUCT_URL and
STOREFRONT_CATEGORY_URL, templates with `{slug}` (the slug is URL-quoted; slugs are plain
lowercase words already); left unset, `/products/{slug}` and `/categories/{slug}` under the first
of STOREFRONT_URLS.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from models import Category, Product
from models.meta import table_of
from models.sql import fetch

PAGE_SIZE = 50_000  # the protocol's limit of URLs per sitemap
SLUG = "{slug}"
Kind = Literal["products", "categories"]
KINDS: tuple[Kind, ...] = ("products", "categories")
# Which rows each kind lists: the storefront shows active products only, every category.
_TABLES: dict[Kind, tuple[str, str]] = {
    "products": (table_of(Product), "status = 'ACTIVE'"),
    "categories": (table_of(Category), "1 = 1"),
}


@dataclass(frozen=True)
class Page:
    """One page of the index: its number (from 1) and when the newest of its objects changed."""

    kind: Kind
    number: int
    lastmod: datetime | None


@dataclass(frozen=True)
class Url:
    slug: str
    lastmod: datetime | None


def url_template(value: str) -> str:
    """STOREFRONT_PRODUCT_URL / STOREFRONT_CATEGORY_URL: an http(s) URL with a host holding `{slug}`
    once; "" (the default under the first storefront). Raises ValueError saying what is wrong."""
    if not value:
        return value
    parts = urlsplit(value.replace(SLUG, "slug"))
    if value.count(SLUG) != 1 or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an http(s) URL holding {SLUG} once, such as https://shop.example.com/p/{SLUG}")
    if "{" in value.replace(SLUG, "") or "}" in value.replace(SLUG, ""):
        raise ValueError(f"only {SLUG} may stand in braces, got {value!r}")
    return value


def default_template(storefronts: tuple[str, ...], kind: Kind) -> str:
    return f"{storefronts[0].rstrip('/')}/{kind}/{SLUG}"


def storefront_url(template: str, slug: str) -> str:
    return template.replace(SLUG, quote(slug, safe=""))


async def pages(kind: Kind) -> list[Page]:
    """The index's pages of `kind`: the id blocks holding something listed, in order."""
    table, condition = _TABLES[kind]
    rows = await fetch(
        f'SELECT (id - 1) / {PAGE_SIZE} AS block, MAX(updated_at) AS lastmod FROM "{table}" '
        f"WHERE {condition} GROUP BY (id - 1) / {PAGE_SIZE} ORDER BY block",
        [],
    )
    return [Page(kind, int(row["block"]) + 1, _moment(row["lastmod"])) for row in rows]


async def urls(kind: Kind, number: int) -> list[Url]:
    """The objects of page `number` of `kind`, by id: one range of the primary key."""
    table, condition = _TABLES[kind]
    if number < 1:
        return []
    first = (number - 1) * PAGE_SIZE + 1
    rows = await fetch(
        f'SELECT slug, updated_at FROM "{table}" WHERE id BETWEEN ? AND ? AND {condition} ORDER BY id',
        [first, first + PAGE_SIZE - 1],
    )
    return [Url(row["slug"], _moment(row["updated_at"])) for row in rows]


def _moment(value: Any) -> datetime | None:
    """A timestamp as the driver gave it: asyncpg's datetime, SQLite's ISO text, or NULL."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))
