"""Tells with one system call whether anything under the plan directories changed since the last look.

Cached read responses stay valid while the files behind them are unchanged. Checking
that with os.stat costs about 2.5 us per file on the target machines, some 400 us for
the plan list's 150 files: more than the rest of a cached request. The kernel queues an
inotify event inside the system call that changes a file, before that call returns, so
draining the queue at request time is as exact as stat-ing every file: an empty queue
means nothing changed. Linux only; elsewhere (or when the kernel refuses watches) the
feed reports None and callers simply do not cache.
"""

import ctypes
import ctypes.util
import errno
import itertools
import logging
import os
import struct
import threading
from pathlib import Path
from typing import Callable

from .layout import RepoLayout
from .lru import BoundedLRU

logger = logging.getLogger(__name__)

IN_MODIFY = 0x00000002
IN_ATTRIB = 0x00000004
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ONLYDIR = 0x01000000
IN_ISDIR = 0x40000000

# Transcripts grow by a line per agent step while a task runs, and no cached read is built
# from them (their endpoints answer fresh): watching them would throw every cached read away
# several times a second.
UNWATCHED_DIRS = frozenset({"transcripts"})

# Opening, reading and closing are not changes: readers (this server among them) must not
# invalidate their own caches.
WATCH_MASK = (IN_MODIFY | IN_ATTRIB | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE
              | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)
# Events after which the set of watched directories may be different.
RESCAN_MASK = IN_DELETE_SELF | IN_MOVE_SELF | IN_Q_OVERFLOW | IN_IGNORED

_EVENT = struct.Struct("iIII")
# Generations are unique across feeds, so a token taken from a closed feed never matches a new one.
_GENERATIONS = itertools.count(1)


class Inotify:
    """libc's three inotify calls, failures raised as OSError; `load()` is None where there is no inotify."""

    def __init__(self, libc):
        self._libc = libc

    @classmethod
    def load(cls) -> "Inotify | None":
        name = ctypes.util.find_library("c")
        if name is None:
            return None
        try:
            libc = ctypes.CDLL(name, use_errno=True)
            libc.inotify_init1, libc.inotify_add_watch, libc.inotify_rm_watch  # noqa: B018
        except (OSError, AttributeError):
            return None
        return cls(libc)

    def init(self) -> int:
        return self._checked(self._libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC))

    def add_watch(self, fd: int, path: Path, mask: int) -> int:
        return self._checked(self._libc.inotify_add_watch(fd, os.fsencode(path), mask))

    def rm_watch(self, fd: int, wd: int) -> None:
        self._libc.inotify_rm_watch(fd, wd)  # fails only for a watch the kernel already dropped

    @staticmethod
    def _checked(result: int) -> int:
        if result < 0:
            error = ctypes.get_errno()
            raise OSError(error, os.strerror(error))
        return result


class ChangeFeed:
    """inotify watches on a few directory trees; `generation()` moves on whenever one of them changes.

    `trees` pairs a directory with how many levels of subdirectories to watch below it.
    A tree that does not exist yet is watched through its nearest existing ancestor, so
    its creation counts as a change and its contents are watched from then on.
    `inotify` makes the system interface (None: there is none, so the feed is unavailable).
    """

    def __init__(self, trees: list[tuple[Path, int]], *, inotify: Callable[[], Inotify | None] = Inotify.load):
        self._trees = [(Path(path), depth) for path, depth in trees]
        self._lock = threading.Lock()
        self._inotify = inotify()
        self._fd: int | None = None
        self._watches: dict[int, tuple[Path, int]] = {}
        self._generation = next(_GENERATIONS)
        if self._inotify is None:
            return
        try:
            self._fd = self._inotify.init()
        except OSError as error:
            logger.warning("inotify unavailable (%s): read responses will not be cached", error.strerror)
            return
        with self._lock:
            self._scan()

    @property
    def available(self) -> bool:
        return self._fd is not None

    def generation(self) -> int | None:
        """The current generation, or None when changes cannot be observed (then nothing may be cached)."""
        with self._lock:
            if self._fd is None:
                return None
            changed = rescan = False
            while True:
                try:
                    data = os.read(self._fd, 65536)
                except BlockingIOError:
                    break
                changed = True
                rescan = rescan or self._needs_rescan(data)
            if changed:
                self._generation = next(_GENERATIONS)
                if rescan:
                    self._scan()
            return self._generation if self._fd is not None else None

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def _needs_rescan(self, data: bytes) -> bool:
        offset, rescan = 0, False
        while offset + _EVENT.size <= len(data):
            wd, mask, _cookie, length = _EVENT.unpack_from(data, offset)
            name = data[offset + _EVENT.size: offset + _EVENT.size + length].rstrip(b"\0")
            offset += _EVENT.size + length
            if mask & RESCAN_MASK:
                rescan = True
            elif mask & (IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE):
                # A new subdirectory (or a symlink to one) inside a watched tree needs a watch of its own.
                parent = self._watches.get(wd)
                if mask & IN_ISDIR or (parent and parent[1] > 0 and os.path.isdir(parent[0] / os.fsdecode(name))):
                    rescan = True
        return rescan

    def _scan(self) -> None:
        """(Re)build the watch set from the directories as they are now; called with the lock held."""
        watches: dict[int, tuple[Path, int]] = {}
        for path, depth in self._trees:
            if not self._watch_tree(path, depth, watches):
                return
        for wd in set(self._watches) - set(watches):
            self._inotify.rm_watch(self._fd, wd)
        self._watches = watches

    def _watch_tree(self, path: Path, depth: int, watches: dict) -> bool:
        if not path.is_dir():
            anchor = next((parent for parent in path.parents if parent.is_dir()), None)
            return anchor is None or self._add(anchor, 0, watches)
        if not self._add(path, depth, watches):
            return False
        if depth > 0:
            try:
                subdirs = [Path(entry.path) for entry in os.scandir(path)
                           if entry.is_dir() and entry.name not in UNWATCHED_DIRS]
            except OSError:
                return True
            for subdir in subdirs:
                if not self._watch_tree(subdir, depth - 1, watches):
                    return False
        return True

    def _add(self, path: Path, depth: int, watches: dict) -> bool:
        try:
            wd = self._inotify.add_watch(self._fd, path, WATCH_MASK)
        except OSError as error:
            if error.errno in (errno.ENOENT, errno.ENOTDIR):  # removed since we looked; its parent's event covers it
                return True
            # Out of watches (ENOSPC) or not allowed: unobservable, so stop caching rather than serve stale data.
            logger.warning("inotify watch on %s failed (%s): read responses will not be cached", path, error.strerror)
            os.close(self._fd)
            self._fd = None
            return False
        known = watches.get(wd)
        watches[wd] = (path, max(depth, known[1]) if known else depth)
        return True


def layout_trees(layout: RepoLayout) -> list[tuple[Path, int]]:
    """Everything the read API reads from: plans (and archive/), outputs/<name>/findings (and archive/), the registry."""
    return [(layout.plans_dir.parent, 0), (layout.plans_dir, 1), (layout.outputs_dir, 3),
            (layout.registry_path.parent, 0)]


class FeedPool:
    """One feed per repository root and process (an inherited inotify fd would split events between processes)."""

    def __init__(self, maxsize: int = 4, *, inotify: Callable[[], Inotify | None] = Inotify.load):
        self._inotify = inotify
        self._feeds: BoundedLRU[tuple[Path, int], ChangeFeed] = BoundedLRU(maxsize, on_evict=ChangeFeed.close)

    def feed(self, layout: RepoLayout) -> ChangeFeed:
        return self._feeds.get_or_create((layout.root, os.getpid()),
                                         lambda: ChangeFeed(layout_trees(layout), inotify=self._inotify))

    def close(self) -> None:
        """Close every feed: a pool that is not the process's own (tests) must not keep its inotify fds."""
        for feed in self._feeds.clear():
            feed.close()
