"""Append-only per-instance event journal: replay after a reconnect, and the path events take between processes."""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import BinaryIO, Iterator

from .events import Event, EventBus, Subscription

logger = logging.getLogger(__name__)

_BLOCK = 64 * 1024


def _parse(line: bytes) -> Event | None:
    """A torn line (crash mid-write) or a foreign one is skipped, never fatal to a reader."""
    try:
        return Event.from_dict(json.loads(line))
    except ValueError:  # JSONDecodeError and UnicodeDecodeError are ValueErrors too
        logger.debug("Skipping unreadable journal line: %r", line[:120])
        return None


def _reverse_lines(f: BinaryIO) -> Iterator[bytes]:
    """Complete lines, last first, reading blocks from the end so the cost follows what is asked for.

    Bytes after the final newline belong to a line still being written (or torn) and are skipped.
    """
    pos = f.seek(0, os.SEEK_END)
    buffer = b""
    terminated = False
    while pos > 0:
        size = min(_BLOCK, pos)
        pos -= size
        f.seek(pos)
        buffer = f.read(size) + buffer
        parts = buffer.split(b"\n")
        buffer = parts[0]
        tail = parts[1:]
        if not terminated and tail:
            tail, terminated = tail[:-1], True
        for part in reversed(tail):
            if part:
                yield part
    if terminated and buffer:
        yield buffer


def _forward_lines(f: BinaryIO) -> Iterator[bytes]:
    for line in f:
        if line.endswith(b"\n") and line.strip():
            yield line


def _after_last_newline(f: BinaryIO) -> int:
    end = f.seek(0, os.SEEK_END)
    while end > 0:
        start = max(0, end - _BLOCK)
        f.seek(start)
        found = f.read(end - start).rfind(b"\n")
        if found >= 0:
            return start + found + 1
        end = start
    return 0


class Journal:
    """One JSON line per event, flushed per event, one rotated generation ("<path>.1") kept.

    Only one process (the orchestrator that owns the instance) appends; any number read.
    """

    def __init__(self, path: Path, *, max_bytes: int = 5_000_000):
        self.path = Path(path)
        self.rotated_path = self.path.with_name(self.path.name + ".1")
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._file: BinaryIO | None = None

    def append(self, event: Event) -> None:
        line = (json.dumps(event.to_dict(), ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        with self._lock:
            f = self._open_for_append()
            size = f.tell()
            if size and size + len(line) > self.max_bytes:
                # Rotate before writing so the current file is never left empty: last_id() stays cheap.
                f.close()
                self._file = None
                os.replace(self.path, self.rotated_path)
                f = self._open_for_append()
            f.write(line)
            f.flush()

    def _open_for_append(self) -> BinaryIO:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            f = open(self.path, "a+b")
            size = f.tell()
            if size and os.pread(f.fileno(), 1, size - 1) != b"\n":
                # A crash tore the last line: end it, so the next event does not glue onto it.
                f.write(b"\n")
            self._file = f
        return self._file

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def _open_generations(self) -> list[BinaryIO]:
        """Current file first, then the rotated one; opened in that order so a rotation in
        between shows up as the same file twice (dropped) rather than as a shuffled sequence."""
        files: list[BinaryIO] = []
        for path in (self.path, self.rotated_path):
            try:
                files.append(open(path, "rb"))
            except FileNotFoundError:
                continue
        if len(files) == 2:
            first, second = (os.fstat(f.fileno()) for f in files)
            if (first.st_dev, first.st_ino) == (second.st_dev, second.st_ino):
                files.pop().close()
        return files

    def _newest_first(self) -> Iterator[Event]:
        files = self._open_generations()
        try:
            for f in files:
                for line in _reverse_lines(f):
                    event = _parse(line)
                    if event is not None:
                        yield event
        finally:
            for f in files:
                f.close()

    def last_id(self) -> int:
        for event in self._newest_first():
            return event.id
        return 0

    def last_of(self, event_type: str, *, within: int = 1000) -> Event | None:
        """The newest event of one type among the last `within` events (bounded: no full scan)."""
        for count, event in enumerate(self._newest_first()):
            if count >= within:
                break
            if event.type == event_type:
                return event
        return None

    def oldest_id(self) -> int | None:
        files = self._open_generations()
        try:
            for f in reversed(files):
                for line in _forward_lines(f):
                    event = _parse(line)
                    if event is not None:
                        return event.id
        finally:
            for f in files:
                f.close()
        return None

    def read_since(self, since_id: int) -> tuple[list[Event], bool]:
        """Kept events with id > since_id, oldest first, and whether the caller must reset.

        reset is True when events after since_id may have been rotated away (since_id is
        older than the oldest kept event - 1), or when since_id is ahead of this journal (a
        cursor from another sequence); in both cases every kept event is returned.
        """
        if since_id < 0:
            raise ValueError("since_id must be >= 0.")
        newer: list[Event] = []
        for event in self._newest_first():
            if event.id <= since_id:
                if not newer and event.id < since_id:
                    return self.read_since(0)[0], True
                newer.reverse()
                return newer, False
            newer.append(event)
        newer.reverse()
        reset = since_id < newer[0].id - 1 if newer else since_id > 0
        return newer, reset


def attach_journal(bus: EventBus, journal: Journal, instance_id: str) -> Subscription:
    """Journal every event of one instance, continuing the journal's id sequence on the bus."""
    try:
        bus.set_next_id(instance_id, journal.last_id() + 1)
    except ValueError:
        pass  # the bus is already past the journal: its ids stay increasing either way
    return bus.subscribe(journal.append, instance_id=instance_id)


class JournalReader:
    """Tails a journal that another process appends to, across rotation, deletion and truncation.

    Keeps the file open: after a rename the old descriptor still reads the rotated file to
    its end, so no event is lost at a rotation (the writer never appends after renaming).
    """

    def __init__(self, path: Path, *, from_end: bool = False):
        self.path = Path(path)
        self._file: BinaryIO | None = None
        self._pending = b""
        self._open(at_end=from_end)

    def _open(self, *, at_end: bool) -> None:
        try:
            f = open(self.path, "rb", buffering=0)
        except FileNotFoundError:
            return
        if at_end:
            # Start after the last complete line, so a line being written is read whole later.
            f.seek(_after_last_newline(f))
        self._file = f
        self._pending = b""

    def _drain(self) -> list[Event]:
        chunks = [self._pending]
        while chunk := self._file.read(_BLOCK):
            chunks.append(chunk)
        lines = b"".join(chunks).split(b"\n")
        self._pending = lines.pop()
        return [event for event in map(_parse, lines) if event is not None]

    def read_new(self) -> list[Event]:
        """Events appended since the previous call, in file order."""
        if self._file is None:
            self._open(at_end=False)
            if self._file is None:
                return []
        events = self._drain()
        try:
            current = os.stat(self.path)
        except FileNotFoundError:
            return events  # rotated or deleted, successor not created yet
        mine = os.fstat(self._file.fileno())
        if (current.st_dev, current.st_ino) != (mine.st_dev, mine.st_ino):
            events += self._drain()
            self._file.close()
            self._file = None
            self._open(at_end=False)
            if self._file is not None:
                events += self._drain()
        elif mine.st_size < self._file.tell():
            self._file.seek(0)
            self._pending = b""
            events += self._drain()
        return events

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
