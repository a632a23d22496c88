"""Rendered JSON of read endpoints, reused until a file under the plan directories changes.

A read costs a few stats and parses when the core's caches are warm, but serializing
81 plans through DRF serializers and the JSON renderer costs milliseconds; so the bytes
are kept, with a strong ETag hashed from them (equal across worker processes and
restarts) and the files' newest mtime as Last-Modified.

Live reads (health, orchestrators) also depend on the clock, on pids and on what an
orchestrator says over IPC, none of which a file change tells: their payloads are
reused for at most `ttl` seconds (LIVE_TTL_S), and still only while the files are unchanged.
"""

import hashlib
import itertools
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable

from rest_framework.renderers import JSONRenderer

from orchestrator.layout import RepoLayout

from .changefeed import FeedPool, feeds

Compute = Callable[[], tuple[Any, float | None]]

# How old a live read may be: a pid that died, a heartbeat that went stale or a pause shows
# this much later. Once per LIVE_TTL_S the endpoint runs in full; every other read is a copy.
LIVE_TTL_S = 0.5

CURRENT, EXPIRED, OUTDATED = "current", "expired", "outdated"

# Bumped when this process changed live state (a command to an orchestrator): live payloads
# taken before are outdated at once rather than answered for the rest of their time.
_live_epoch = itertools.count()
_current_live_epoch = next(_live_epoch)


def outdate_live() -> None:
    global _current_live_epoch
    _current_live_epoch = next(_live_epoch)


@dataclass(frozen=True)
class Payload:
    body: bytes                   # exactly what DRF's JSONRenderer makes of the data
    etag: str                     # strong, quoted
    last_modified: float | None   # newest mtime (epoch seconds) of the files read
    feed: Any                     # the ChangeFeed `generation` belongs to
    generation: int | None        # feed state the body was computed at; None: do not reuse
    expires: float | None = None  # time.monotonic() after which a live payload is too old; None: files only
    live_epoch: int | None = None

    def state(self, generation: int | None = None) -> str:
        """CURRENT; EXPIRED (files unchanged, but a live payload past its time); OUTDATED (files changed)."""
        if generation is None:
            generation = self.feed.generation() if self.feed is not None else None
        if self.generation is None or generation != self.generation:
            return OUTDATED
        if self.expires is not None:
            if self.live_epoch != _current_live_epoch:
                return OUTDATED
            if time.monotonic() >= self.expires:
                return EXPIRED
        return CURRENT


def render(data: Any, last_modified: float | None, *, feed=None, generation: int | None = None,
           expires: float | None = None, live_epoch: int | None = None) -> Payload:
    body = JSONRenderer().render(data)
    etag = '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'
    return Payload(body, etag, last_modified, feed, generation, expires, live_epoch)


class PayloadCache:
    """Bounded LRU of payloads per (repository root, endpoint key), validated by the root's ChangeFeed.

    Every hit is checked against the feed, so nothing is ever served stale and nobody has
    to clear the cache; without a working feed every call computes afresh.
    """

    def __init__(self, *, pool: FeedPool, maxsize: int = 128):
        self._pool = pool
        self.maxsize = maxsize
        self._entries: OrderedDict[tuple, Payload] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, *, layout: RepoLayout, key: tuple, compute: Compute, ttl: float | None = None) -> Payload:
        """The cached payload for `key`, or `compute()` -> (data, last_modified) rendered and kept.

        With `ttl` (a live read) a payload is also recomputed once it is that many seconds old.
        """
        feed = self._pool.feed(layout)
        # Taken before computing: a change made while we read bumps the generation, so
        # the entry stored below is already outdated rather than wrongly current.
        generation = feed.generation()
        started, epoch = time.monotonic(), _current_live_epoch  # a command during compute() outdates it
        full_key = (layout.root, *key)
        if generation is not None:
            with self._lock:
                entry = self._entries.get(full_key)
                if entry is not None and entry.state(generation) == CURRENT:
                    self._entries.move_to_end(full_key)
                    return entry
        data, last_modified = compute()
        payload = render(data, last_modified, feed=feed, generation=generation,
                         expires=None if ttl is None else started + ttl, live_epoch=epoch)
        if generation is not None:
            with self._lock:
                self._entries[full_key] = payload
                self._entries.move_to_end(full_key)
                while len(self._entries) > self.maxsize:
                    self._entries.popitem(last=False)
        return payload


payloads = PayloadCache(pool=feeds)
