"""What search engines are told about a product or category page: its title and its description.

Staff may write them (`seoTitle`, `seoDescription` on the create and update inputs); left unset,
the name and the description stand in, as plain text on one line, cut on a word boundary to fit the
same bounds staff's own words are held to (models.catalogue: 70 and 300 characters, Saleor's).
An empty string given on update clears staff's words, so the fallback shows again.
"""

from __future__ import annotations

from models.catalogue import SEO_DESCRIPTION_LENGTH, SEO_TITLE_LENGTH
from resolvers.errors import DomainError, ErrorCode

ELLIPSIS = "…"


def shorten(text: str, limit: int) -> str:
    """`text` on one line (runs of whitespace made one space), at most `limit` characters: when it
    is longer, cut after the last whole word that fits with an ellipsis (mid-word only when a single
    word is longer than the limit)."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    room = flat[: limit - len(ELLIPSIS) + 1]  # one more: a space right after the cut ends a word
    cut = room.rfind(" ")
    kept = room[:cut] if cut > 0 else room[: limit - len(ELLIPSIS)]
    return kept.rstrip(" ,;:.-–—") + ELLIPSIS


def title(seo_title: str | None, name: str) -> str:
    return seo_title if seo_title else shorten(name, SEO_TITLE_LENGTH)


def description(seo_description: str | None, text: str) -> str:
    return seo_description if seo_description else shorten(text, SEO_DESCRIPTION_LENGTH)


def validate(value: str | None, field_name: str, length: int) -> str | None:
    """Staff's words as stored: trimmed, on one line, at most `length` characters; "" stores null
    (the fallback); None (left out) is returned as None too, for the caller to tell apart."""
    if value is None:
        return None
    flat = " ".join(value.split())
    if "\x00" in flat or len(flat) > length:
        raise DomainError(
            ErrorCode.TOO_LONG if len(flat) > length else ErrorCode.INVALID,
            f"`{field_name}` must be at most {length} characters of text.",
            [field_name],
        )
    return flat


def validate_title(value: str | None) -> str | None:
    return validate(value, "seoTitle", SEO_TITLE_LENGTH)


def validate_description(value: str | None) -> str | None:
    return validate(value, "seoDescription", SEO_DESCRIPTION_LENGTH)
