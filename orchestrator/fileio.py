"""flock locks and atomic replaces, so shared files stay whole for every reader and writer."""

import errno
import fcntl
import os
import re
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import LockTimeout

# A file written twice within one timestamp tick keeps its mtime (and maybe its size), so
# whoever judges a file unchanged by its stat must re-check one whose mtime is this recent
# (longer than any filesystem's timestamp granularity).
RACY_NS = 2_000_000_000

DEFAULT_FILE_MODE = 0o644
STALE_TEMP_S = 600.0  # a temporary file of atomic_write this old belongs to a writer that died


@contextmanager
def locked(lock_path: Path, *, timeout: float) -> Iterator[None]:
    """Hold an exclusive flock on `lock_path`, waiting at most `timeout` seconds (LockTimeout).

    The lock file is never deleted: unlinking it would let a waiter lock an orphaned
    inode while a newcomer locks a fresh one. Closing the descriptor releases the lock,
    also when the process dies, so a crashed writer cannot wedge the file.
    """
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, DEFAULT_FILE_MODE)
    try:
        deadline = time.monotonic() + timeout
        delay = 0.001
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise LockTimeout(
                        f"Could not lock {Path(lock_path).name} within {timeout:g} s.",
                        path=os.fspath(lock_path),
                        timeout=timeout,
                    ) from None
                time.sleep(min(delay, remaining))
                delay = min(delay * 2, 0.05)
        yield
    finally:
        os.close(fd)


def atomic_write(path: Path, payload: bytes, *, mode: int | None = None) -> os.stat_result:
    """Replace `path` with `payload` so that readers see the old file or the new one, never a mix.

    Writes a temporary file in the same directory, fsyncs it, then os.replace()s it over
    the target. On any failure (ENOSPC, EIO ...) the old file is untouched and the
    temporary file is removed. Returns the stat of the new file, which is also what a
    later os.stat(path) reports, so callers can prime read caches without a re-read.
    """
    path = Path(path)
    remove_stale_temps(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, DEFAULT_FILE_MODE if mode is None else mode)
        view = memoryview(payload)
        while view:
            written = os.write(fd, view)
            if written <= 0:
                raise OSError(errno.EIO, "short write", tmp)
            view = view[written:]
        os.fsync(fd)
        st = os.fstat(fd)
        os.close(fd)
        fd = -1
        os.replace(tmp, path)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(path.parent)
    return st


def remove_stale_temps(path: Path, *, older_than: float = STALE_TEMP_S) -> list[Path]:
    """Delete the temporary files of atomic_write(path) that a writer killed mid-write left behind.

    Only our own names (mkstemp's `.<name>.<8 characters>.tmp`) and only old ones: every caller
    holds the file's lock, so no writer of ours is using one, and no write of ours takes
    anywhere near `older_than`.
    """
    pattern = re.compile(rf"\.{re.escape(path.name)}\.[a-z0-9_]{{8}}\.tmp")
    cutoff = time.time() - older_than
    removed = []
    try:
        candidates = [entry for entry in os.scandir(path.parent) if pattern.fullmatch(entry.name)]
    except FileNotFoundError:
        return removed
    for entry in candidates:
        try:
            if entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_mtime < cutoff:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except FileNotFoundError:
            continue
    return removed


def existing_mode(path: Path) -> int | None:
    """The permission bits to keep when replacing `path` (None if it does not exist)."""
    try:
        return os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        return None


def _fsync_dir(directory: Path) -> None:
    # The rename is only durable once the directory entry is on disk; some filesystems
    # refuse to fsync directories, and then there is nothing more we can do.
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
