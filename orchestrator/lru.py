"""The project's one bounded cache: every in-memory cache of parses, payloads, feeds and responses is one of these.

cachetools keeps the least-recently-used order; it is not thread-safe by itself, and
the caches are shared by gunicorn's threads and Django's executor threads, so every
operation here holds one lock. What a cached value is valid for (a file's identity, a
change-feed generation, a deadline) is the caller's business: this only bounds memory.
"""

import threading
from typing import Callable, Generic, Hashable, Iterable, TypeVar

from cachetools import Cache, LRUCache

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class _Evicting(LRUCache):
    def __init__(self, maxsize: int, on_evict: Callable[[object], None] | None):
        super().__init__(maxsize)
        self._on_evict = on_evict

    def popitem(self):
        key, value = super().popitem()  # cachetools calls this only to make room
        if self._on_evict is not None:
            self._on_evict(value)
        return key, value

    def peek_items(self) -> list:
        """(key, value) pairs without making them recent, as Mapping.items() would."""
        return [(key, Cache.__getitem__(self, key)) for key in self]


class BoundedLRU(Generic[K, V]):
    """At most `maxsize` entries; the least recently used one goes first, through `on_evict(value)` if given."""

    def __init__(self, maxsize: int, *, on_evict: Callable[[V], None] | None = None):
        self.maxsize = maxsize
        self._entries = _Evicting(maxsize, on_evict)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K) -> V | None:
        with self._lock:
            try:  # one lookup, not LRUCache.get's `in` and then `[]`: this is on every replayed read
                return self._entries[key]
            except KeyError:
                return None

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._entries[key] = value

    def get_or_create(self, key: K, create: Callable[[], V]) -> V:
        """The entry for `key`, made by `create()` (under the lock, so once) if there is none."""
        with self._lock:
            value = self._entries.get(key)
            if value is None:
                value = self._entries[key] = create()
            return value

    def pop(self, key: K) -> V | None:
        with self._lock:
            return self._entries.pop(key, None)

    def discard(self, key: K, value: V) -> None:
        """Forget `key` only while it still holds `value`: an entry stored meanwhile by another thread stays."""
        with self._lock:
            if self._entries.get(key) is value:
                del self._entries[key]

    def discard_where(self, predicate: Callable[[V], bool]) -> None:
        with self._lock:
            for key in [key for key, value in self._entries.peek_items() if predicate(value)]:
                del self._entries[key]

    def clear(self) -> Iterable[V]:
        """Forget everything; the values are returned (not passed to `on_evict`) for the caller to release."""
        with self._lock:
            values = [value for _, value in self._entries.peek_items()]
            self._entries.clear()
            return values
