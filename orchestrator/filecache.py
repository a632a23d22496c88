"""Parses of shared files kept while each file's identity is unchanged, so that a repeated read costs one os.stat.

The three caches at the bottom are the core's only module state, and are so on purpose:
a parse is a pure function of the file's bytes, every hit is checked against the file
itself, so an entry can never be wrong and nothing (no caller, no test) ever needs to
clear or replace them; and they are per process by nature, since each process stats the
files for itself. Threading them through every reader would buy nothing.
"""

import os
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, TypeVar

from .fileio import RACY_NS
from .lru import BoundedLRU

T = TypeVar("T")

FileKey = tuple[int, int, int, int]


def file_key(st: os.stat_result) -> FileKey:
    """Everything that changes when a file is replaced (inode) or rewritten in place (mtime, size)."""
    return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)


@dataclass(frozen=True)
class _Entry:
    key: FileKey
    crc: int
    value: Any
    racy: bool  # read within RACY_NS of the file's mtime: a hit must compare the content too


class IdentityCache:
    """Values parsed from files (at most `maxsize`), each valid only while its file's identity is unchanged."""

    def __init__(self, maxsize: int = 256):
        self._entries: BoundedLRU[str, _Entry] = BoundedLRU(maxsize)

    def __len__(self) -> int:
        return len(self._entries)

    def load(self, path: Path, parse: Callable[[bytes, os.stat_result, int], T]) -> T | None:
        """The parsed file, or None if it does not exist; `parse(data, stat, crc32)` runs only on a miss."""
        name = os.fspath(path)
        try:
            st = os.stat(name)
        except (FileNotFoundError, NotADirectoryError):
            self._entries.pop(name)
            return None
        entry = self._entries.get(name)
        if entry is not None and entry.key == file_key(st) and not entry.racy:
            return entry.value
        try:
            with open(name, "rb") as handle:
                data = handle.read()
                st = os.fstat(handle.fileno())
        except (FileNotFoundError, NotADirectoryError):
            self._entries.pop(name)
            return None
        crc = zlib.crc32(data)
        if entry is not None and entry.key == file_key(st) and entry.crc == crc:
            value = entry.value
        else:
            value = parse(data, st, crc)
        self.put(path, st, crc, value)
        return value

    def put(self, path: Path, st: os.stat_result, crc: int, value: Any) -> None:
        """Remember a value for the file as `st` describes it (writers prime the cache with what they wrote)."""
        racy = time.time_ns() - st.st_mtime_ns < RACY_NS
        self._entries.put(os.fspath(path), _Entry(file_key(st), crc, value, racy))


# One per kind of shared file, sized for a repository's plans (see the module docstring for why they are global).
plan_files = IdentityCache(maxsize=512)
status_files = IdentityCache(maxsize=256)
registry_files = IdentityCache(maxsize=64)
