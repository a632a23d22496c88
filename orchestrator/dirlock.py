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
# Upstream waits with up to 10 retries at most 2 s apart (about 10 s in all); the same
# bounds keep a waiter of ours from spinning, and from sleeping long past a release.
FIRST_DELAY_S = 0.01
MAX_DELAY_S = 2.0
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


class _Refresher:
    """Touches the lock directory every REFRESH_S while held, so other tools never call it stale."""

    def __init__(self, lock: Path, interval: float):
        self._lock = lock
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"lock-refresh:{self._lock.name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                os.utime(self._lock)
            except OSError:
                return  # taken from us as stale, or removed by hand: nothing left to keep fresh

    def stop(self) -> None:
        self._stop.set()


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
        refresher = _Refresher(lock, refresh_s)
        refresher.start()
        try:
            yield
        finally:
            refresher.stop()
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
