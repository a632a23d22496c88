"""The ecosystem's file lock: a `<file>.lock` directory, as the npm package proper-lockfile makes it.

Upstream's status-cli.js and orchestrator lock status.json this way, so every writer of ours
must too, or the two sides write over each other. The protocol: the lock is taken by an
atomic mkdir and released by rmdir; its holder refreshes the directory's mtime while it
holds it; a lock whose mtime is older than STALE_S belongs to a holder that died, and is
taken over. A regular file at that path is what older versions of this project left
(they flocked it and never removed it): it is removed once nobody flocks it any more.
"""

import errno
import fcntl
import logging
import os
import threading
import time
import weakref
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import LockTimeout

logger = logging.getLogger(__name__)

STALE_S = 60.0  # proper-lockfile's `stale: 60000` as upstream configures it
REFRESH_S = STALE_S / 2  # proper-lockfile's default `update`: half the staleness
# Upstream waits up to about 10 s (10 retries, at most 2 s apart); so do we, in all. Our
# retries are closer (an lstat each): with 2 s apart, a write waiting out a 3 s hold
# landed 1.6 s after the release; with 0.25 s it lands within a quarter second
# (bench/status_lock.py).
FIRST_DELAY_S = 0.01
MAX_DELAY_S = 0.25
DEFAULT_TIMEOUT_S = 10.0

# Threads of one process queue here first, so they hand the lock on at once instead of
# each polling the directory; entries vanish with their last user.
_THREAD_LOCKS: "weakref.WeakValueDictionary[str, threading.Lock]" = weakref.WeakValueDictionary()
_THREAD_LOCKS_GUARD = threading.Lock()


def lock_dir_for(path: Path) -> Path:
    """Where proper-lockfile puts the lock of `path` (its default `lockfilePath`)."""
    path = Path(path)
    return path.with_name(path.name + ".lock")


def _thread_lock(name: str) -> threading.Lock:
    with _THREAD_LOCKS_GUARD:
        lock = _THREAD_LOCKS.get(name)
        if lock is None:
            lock = _THREAD_LOCKS[name] = threading.Lock()
        return lock


def _remove_legacy_file(lock: Path) -> bool:
    """Remove a regular lock file of older versions unless one of them still flocks it."""
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    try:
        if not os.path.samestat(os.fstat(fd), os.lstat(lock)):
            return False
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.unlink(lock)  # under the flock, so no older writer is between open and lock on it
        return True
    except BlockingIOError:
        return False
    except FileNotFoundError:
        return True
    finally:
        os.close(fd)


def _try_take(lock: Path, *, stale_s: float) -> bool:
    try:
        os.mkdir(lock, 0o755)
        return True
    except FileExistsError:
        pass
    try:
        st = os.lstat(lock)
    except FileNotFoundError:
        return False  # released between our mkdir and lstat: the next try may win
    if not os.path.isdir(lock) or os.path.islink(lock):
        _remove_legacy_file(lock)
        return False
    if time.time() - st.st_mtime > stale_s:
        # The holder stopped refreshing it a minute ago: it died. proper-lockfile removes
        # such a lock and retries at once; whoever's mkdir then wins holds it.
        try:
            os.rmdir(lock)
        except OSError as exc:
            if exc.errno not in (errno.ENOENT, errno.ENOTEMPTY, errno.EEXIST):
                raise
    return False


class _Keeper:
    """Touches every lock directory this process holds each refresh interval, so no tool calls it stale.

    One thread for the whole process, started at the first lock and asleep while nothing is
    held: a thread per lock taken cost more than the write it guarded (bench/status_lock.py).
    Removal happens under the same condition as the touching, so a released lock (and a
    directory someone else made since at that path) is never touched.
    """

    def __init__(self):
        self._held: dict[Path, float] = {}
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def add(self, lock: Path, refresh_s: float) -> None:
        with self._cond:
            self._held[lock] = refresh_s
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="lock-keeper", daemon=True)
                self._thread.start()
            self._cond.notify()

    def remove(self, lock: Path) -> None:
        with self._cond:
            self._held.pop(lock, None)

    def _run(self) -> None:
        with self._cond:
            while True:
                if not self._held:
                    self._cond.wait()
                    continue
                self._cond.wait(min(self._held.values()))
                for lock in list(self._held):
                    try:
                        os.utime(lock)
                    except OSError:
                        pass  # taken from us as stale, or removed by hand: nothing left to keep fresh


_KEEPER = _Keeper()


@contextmanager
def dir_locked(
    path: Path, *, timeout: float = DEFAULT_TIMEOUT_S, stale_s: float = STALE_S, refresh_s: float = REFRESH_S
) -> Iterator[None]:
    """Hold the proper-lockfile lock of `path`, waiting at most `timeout` seconds (then LockTimeout).

    Nothing is left behind: the directory is removed on release, also when the body raises.
    A process killed while holding it leaves the directory, which others take over once it
    is `stale_s` old, as upstream's tools do.
    """
    lock = lock_dir_for(path)
    deadline = time.monotonic() + timeout
    local = _thread_lock(os.fspath(lock))
    if not local.acquire(timeout=max(timeout, 0.0)):
        raise _timeout(lock, timeout)
    try:
        delay = FIRST_DELAY_S
        while not _try_take(lock, stale_s=stale_s):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _timeout(lock, timeout)
            if delay == FIRST_DELAY_S:
                logger.info("%s is held by another writer; waiting up to %g s", lock.name, remaining)
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, MAX_DELAY_S)
        _KEEPER.add(lock, refresh_s)
        try:
            yield
        finally:
            _KEEPER.remove(lock)
            try:
                os.rmdir(lock)
            except FileNotFoundError:
                pass
    finally:
        local.release()


def _timeout(lock: Path, timeout: float) -> LockTimeout:
    return LockTimeout(
        f"{lock.name} is held by another writer; gave up after {timeout:g} s. Try again.",
        path=os.fspath(lock),
        timeout=timeout,
        retryable=True,
    )
