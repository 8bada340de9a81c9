"""`GET /sitemap.xml` and its pages, for search engines (sitemaps.org protocol 0.9).

`/sitemap.xml` is a sitemap index naming `/sitemap-products-N.xml` and `/sitemap-categories-N.xml`,
each a `urlset` of at most 50,000 storefront URLs with their `<lastmod>` (what is listed, and where:
resolvers/catalogue_sitemap.py). Every answer is `application/xml`, cached like the catalogue's
GraphQL answers and evicted by the same changes (gateway/cache_http.py `cached_document`): the
index and the product pages with the `products` tag, the index and the category pages with
`categories` (resolvers/catalogue_changes.py).

The index's own URLs are absolute, as the protocol requires: built from the scheme and Host the
gateway received (a proxy in front must pass the public Host through). The host is part of the
index's cache key, so one host's index never names another's pages.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from xml.sax.saxutils import escape

from starlette.requests import Request
from starlette.responses import Response

from gateway.cache import ResponseCache
from gateway.cache_http import cached_document
from resolvers import catalogue_sitemap as sitemap
from resolvers.catalogue_changes import CATEGORIES, PRODUCTS

XML = b"application/xml"
NAMESPACE = "http://www.sitemaps.org/schemas/sitemap/0.9"
TAGS: dict[sitemap.Kind, str] = {"products": PRODUCTS, "categories": CATEGORIES}
Handler = Callable[[Request], Awaitable[Response]]


def _lastmod(moment: datetime | None) -> str:
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return f"<lastmod>{moment.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}</lastmod>"


def render_index(base: str, pages: list[sitemap.Page]) -> bytes:
    entries = "".join(
        f"<sitemap><loc>{escape(f'{base}/sitemap-{page.kind}-{page.number}.xml')}</loc>{_lastmod(page.lastmod)}</sitemap>"
        for page in pages
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex xmlns="{NAMESPACE}">{entries}</sitemapindex>\n'
    ).encode()


def render_urls(template: str, urls: list[sitemap.Url]) -> bytes:
    entries = "".join(
        f"<url><loc>{escape(sitemap.storefront_url(template, url.slug))}</loc>{_lastmod(url.lastmod)}</url>"
        for url in urls
    )
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="{NAMESPACE}">{entries}</urlset>\n'.encode()


def _base(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def sitemap_index(cache: ResponseCache | None, max_age: int) -> Handler:
    async def answer(request: Request) -> Response:
        base = _base(request)

        async def produce() -> bytes:
            found = [page for kind in sitemap.KINDS for page in await sitemap.pages(kind)]
            return render_index(base, found)

        # The base is part of what is cached: one host's index must not name another's pages.
        return await cached_document(cache, f"{base}/sitemap.xml", XML, tuple(TAGS.values()), produce, max_age)

    return answer


def sitemap_page(kind: sitemap.Kind, template: str, cache: ResponseCache | None, max_age: int) -> Handler:
    async def answer(request: Request) -> Response:
        number: int = request.path_params["number"]

        async def produce() -> bytes | None:
            found = await sitemap.urls(kind, number)
            return render_urls(template, found) if found else None

        return await cached_document(cache, request.url.path, XML, (TAGS[kind],), produce, max_age)

    return answer
