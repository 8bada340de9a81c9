"""The in-process tier: stored responses in memory, bounded in bytes, least recently used out first.

Each entry keeps its tags, and the tier keeps an index from tag to keys, so an invalidation costs
what it removes. A store races with invalidations: a request that read the database before a
change committed may finish after the change was announced, and must not put the old answer back.
So every invalidation bumps a sequence number and notes it per tag; a store carries the sequence
number seen before its execution started and is refused if any of its tags (or the whole tier)
was invalidated since.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field

from gateway.cache_stats import CacheStats

ENTRY_OVERHEAD = 400  # bytes an entry costs beyond its body: objects, key, index (measured roughly)
MAX_TRACKED_TAGS = 50_000  # past this many invalidated tags, forget them all (as a clear would)


@dataclass(slots=True)
class Entry:
    """One stored response: its bytes and what the HTTP layer needs to answer with them."""

    body: bytes | memoryview  # a memoryview of Redis's reply when the entry is only passed through
    content_type: bytes
    etag: bytes  # a strong validator, quotes included
    operation: str  # the operation name, for the access log and metrics on a hit
    tags: tuple[str, ...]
    expires_at: float  # time.time() deadline, the same in every process
    size: int = field(init=False)  # what it costs the in-process tier's byte budget
    length: bytes = field(init=False)  # the Content-Length value, formatted once

    def __post_init__(self) -> None:
        self.size = len(self.body) + ENTRY_OVERHEAD + sum(len(t) for t in self.tags)
        self.length = str(len(self.body)).encode()

    def encode(self) -> bytes:
        """For Redis: a small JSON header line, a line of space-separated tags, then the body.

        The tags (hundreds for a listing) have their own line so that a hit from Redis that is
        not kept in memory (`CACHE_MAX_BYTES=0`) does not pay for decoding them.
        """
        header = {
            "ct": self.content_type.decode("latin-1"),
            "etag": self.etag.decode("latin-1"),
            "op": self.operation,
            "exp": self.expires_at,
        }
        return b"\n".join((json.dumps(header, separators=(",", ":")).encode(), " ".join(self.tags).encode(), self.body))

    @classmethod
    def decode(cls, data: bytes, with_tags: bool = True) -> Entry | None:
        # Offsets rather than partition(): each partition copied the ~50 KB body, and a hit from
        # Redis that is not kept here sends a memoryview of the reply itself, copying nothing.
        header_end = data.find(b"\n")
        tags_end = data.find(b"\n", header_end + 1)
        if header_end < 0 or tags_end < 0:
            return None
        body = data[tags_end + 1 :] if with_tags else memoryview(data)[tags_end + 1 :]
        try:
            fields = json.loads(data[:header_end])
            tags = tuple(data[header_end + 1 : tags_end].decode().split()) if with_tags else ()
            return cls(
                body,
                fields["ct"].encode("latin-1"),
                fields["etag"].encode("latin-1"),
                fields["op"],
                tags,
                float(fields["exp"]),
            )
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError):
            return None  # another version's layout, or damage: a miss


class LocalTier:
    def __init__(self, max_bytes: int, stats: CacheStats) -> None:
        self.max_bytes = max_bytes
        self.stats = stats
        self.bytes = 0
        self.seq = 0  # bumped by every invalidation and clear
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._keys_by_tag: dict[str, set[str]] = {}
        self._tag_seq: dict[str, int] = {}
        self._cleared_seq = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> Entry | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires_at <= time.time():
            self._remove(key)
            self.stats.evictions["expired"] += 1
            return None
        self._entries.move_to_end(key)
        return entry

    def stale_since(self, tags: Iterable[str], seq: int) -> bool:
        """Whether anything with these tags was invalidated after sequence number `seq`."""
        if self._cleared_seq > seq:
            return True
        tag_seq = self._tag_seq
        return any(tag_seq.get(tag, -1) > seq for tag in tags)

    def put(self, key: str, entry: Entry, seen_seq: int) -> bool:
        """Store unless too big or invalidated since `seen_seq`; evict the least recently used to fit."""
        if entry.size > self.max_bytes or self.stale_since(entry.tags, seen_seq):
            return False
        if key in self._entries:
            self._remove(key)
        while self.bytes + entry.size > self.max_bytes and self._entries:
            self._remove(next(iter(self._entries)))
            self.stats.evictions["size"] += 1
        self._entries[key] = entry
        self.bytes += entry.size
        for tag in entry.tags:
            self._keys_by_tag.setdefault(tag, set()).add(key)
        return True

    def invalidate(self, tags: Iterable[str]) -> int:
        """Remove every entry with any of the tags; returns how many."""
        self.seq += 1
        if len(self._tag_seq) > MAX_TRACKED_TAGS:
            self._tag_seq.clear()
            self._cleared_seq = self.seq  # stores in flight cannot be checked per tag any more
        removed = 0
        for tag in tags:
            self._tag_seq[tag] = self.seq
            for key in self._keys_by_tag.pop(tag, ()):
                if key in self._entries:
                    self._remove(key)
                    removed += 1
        self.stats.evictions["invalidated"] += removed
        return removed

    def clear(self) -> None:
        """Drop everything: invalidations may have been missed (Redis was unreachable)."""
        self.seq += 1
        self._cleared_seq = self.seq
        self.stats.evictions["cleared"] += len(self._entries)
        self._entries.clear()
        self._keys_by_tag.clear()
        self._tag_seq.clear()
        self.bytes = 0

    def _remove(self, key: str) -> None:
        entry = self._entries.pop(key)
        self.bytes -= entry.size
        for tag in entry.tags:
            keys = self._keys_by_tag.get(tag)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._keys_by_tag[tag]
