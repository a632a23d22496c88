"""Rendered JSON of read endpoints, reused until a file under the plan directories changes.

A read costs a few stats and parses when the core's caches are warm, but serializing
81 plans through DRF serializers and the JSON renderer costs milliseconds; so the bytes
are kept, with a strong ETag hashed from them (equal across worker processes and
restarts) and the files' newest mtime as Last-Modified.

Live reads (health, orchestrators) also depend on the clock, on pids and on what an
orchestrator says over IPC, none of which a file change tells: their payloads are
reused for at most `ttl` seconds (LIVE_TTL_S), and still only while the files are unchanged.

Every cache of the read path lives in one ReadCaches object per process, made by
ApiConfig.ready() (`read_caches()`); the replay in front of Django (serving/replay.py)
keeps its stored responses itself and checks them against the same feeds.
"""

import hashlib
import itertools
import time
from dataclasses import dataclass
from typing import Any, Callable

from django.apps import apps
from rest_framework.renderers import JSONRenderer

from orchestrator.changefeed import FeedPool
from orchestrator.layout import RepoLayout
from orchestrator.lru import BoundedLRU
from orchestrator.probes import StatusProber, ipc_status

from .credentials import AcceptedCredentials

Compute = Callable[[], tuple[Any, float | None]]

# How old a live read may be: a pid that died, a heartbeat that went stale or a pause shows
# this much later. Once per LIVE_TTL_S the endpoint runs in full; every other read is a copy.
LIVE_TTL_S = 0.5

CURRENT, EXPIRED, OUTDATED = "current", "expired", "outdated"


class LiveEpoch:
    """Moves on when this process changed live state (a command to an orchestrator): live payloads
    taken before are outdated at once rather than answered for the rest of their time."""

    def __init__(self):
        self._counter = itertools.count()
        self.current = next(self._counter)

    def bump(self) -> None:
        self.current = next(self._counter)


@dataclass(frozen=True)
class Payload:
    body: bytes                   # exactly what DRF's JSONRenderer makes of the data
    etag: str                     # strong, quoted
    last_modified: float | None   # newest mtime (epoch seconds) of the files read
    feed: Any                     # the ChangeFeed `generation` belongs to
    generation: int | None        # feed state the body was computed at; None: do not reuse
    expires: float | None = None  # time.monotonic() after which a live payload is too old; None: files only
    epoch: LiveEpoch | None = None  # a live payload's, and its value when the payload was computed
    live_epoch: int | None = None

    def state(self, generation: int | None = None) -> str:
        """CURRENT; EXPIRED (files unchanged, but a live payload past its time); OUTDATED (files changed)."""
        if generation is None:
            generation = self.feed.generation() if self.feed is not None else None
        if self.generation is None or generation != self.generation:
            return OUTDATED
        if self.expires is not None:
            if self.epoch is not None and self.live_epoch != self.epoch.current:
                return OUTDATED
            if time.monotonic() >= self.expires:
                return EXPIRED
        return CURRENT


def render(data: Any, last_modified: float | None, *, feed=None, generation: int | None = None,
           expires: float | None = None, epoch: LiveEpoch | None = None, live_epoch: int | None = None) -> Payload:
    body = JSONRenderer().render(data)
    etag = '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'
    return Payload(body, etag, last_modified, feed, generation, expires, epoch, live_epoch)


class PayloadCache:
    """Payloads per (repository root, read key: api/views/reads.read_key), validated by the root's ChangeFeed.

    Every hit is checked against the feed, so nothing is ever served stale and nobody has
    to clear the cache; without a working feed every call computes afresh.
    """

    def __init__(self, *, pool: FeedPool, maxsize: int = 128):
        self._pool = pool
        self._entries: BoundedLRU[tuple, Payload] = BoundedLRU(maxsize)
        self.live = LiveEpoch()

    def get(self, *, layout: RepoLayout, key: tuple, compute: Compute, ttl: float | None = None) -> Payload:
        """The cached payload for `key`, or `compute()` -> (data, last_modified) rendered and kept.

        With `ttl` (a live read) a payload is also recomputed once it is that many seconds old.
        """
        feed = self._pool.feed(layout)
        # Taken before computing: a change made while we read bumps the generation, so
        # the entry stored below is already outdated rather than wrongly current.
        generation = feed.generation()
        started, epoch = time.monotonic(), self.live.current  # a command during compute() outdates it
        full_key = (layout.root, *key)
        if generation is not None:
            entry = self._entries.get(full_key)
            if entry is not None and entry.state(generation) == CURRENT:
                return entry
        data, last_modified = compute()
        payload = render(data, last_modified, feed=feed, generation=generation,
                         expires=None if ttl is None else started + ttl, epoch=self.live, live_epoch=epoch)
        if generation is not None:
            self._entries.put(full_key, payload)
        return payload


class ReadCaches:
    """What the read path of this process keeps between requests: one change feed per repository,
    the rendered payloads validated by them, the credentials Django accepted moments ago, and
    the orchestrators' latest IPC status replies (orchestrator/probes.py)."""

    def __init__(self):
        self.feeds = FeedPool()
        self.payloads = PayloadCache(pool=self.feeds)
        self.credentials = AcceptedCredentials()
        self.probes = StatusProber(ipc_status)


def read_caches() -> ReadCaches:
    """The process's ReadCaches, made once by ApiConfig.ready()."""
    return apps.get_app_config("api").read_caches


def outdate_live() -> None:
    """This process just changed live state (a command): live payloads computed before are not answered again."""
    read_caches().payloads.live.bump()
