"""IPC `status` replies shared by every reader for a moment, asked for on background threads.

A status read wants to know whether an orchestrator is paused, which only the
orchestrator can say. Asking on every read costs each request a connection and a thread
in the orchestrator, and a wedged orchestrator (its socket accepts, nobody answers) costs
each one the whole timeout. So one probe per socket runs at a time, off the caller's
thread; its reply is shared for `ttl` seconds, and after that the last reply keeps being
answered while a fresh one is asked for. Only a reader that has no reply at all, or one
older than `patience`, waits for the probe, never longer than its timeout. An unanswered
probe is a reply too (None: unreachable), so a wedged orchestrator costs one waiting
read, then nobody. A restarted orchestrator (a new socket file) is a new entry.
"""

import logging
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Callable

from .errors import OrchestratorUnavailable
from .ipc import send_command
from .lru import BoundedLRU

logger = logging.getLogger(__name__)

Probe = Callable[[str, float], dict | None]


@dataclass(frozen=True)
class _Reply:
    reply: dict | None
    at: float


class StatusProber:
    def __init__(self, probe: Probe, *, ttl: float = 1.0, patience: float = 5.0, max_workers: int = 4,
                 maxsize: int = 256, clock: Callable[[], float] = time.monotonic):
        self._probe = probe
        self.ttl, self.patience, self.maxsize = ttl, patience, maxsize
        self._clock = clock
        self._replies: BoundedLRU[tuple, _Reply] = BoundedLRU(maxsize)
        self._pending: dict[tuple, Future] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="status-probe")

    def reply(self, socket_path: str, timeout: float) -> dict | None:
        """The orchestrator's latest `status` reply, None if it did not answer one."""
        key = _socket_key(socket_path)
        now = self._clock()
        with self._lock:
            known = self._replies.get(key)
            if known is not None and now - known.at < self.ttl:
                return known.reply
            pending = self._pending.get(key)
            if pending is None:
                pending = self._pending[key] = self._pool.submit(self._run, key, socket_path, timeout)
        if known is not None and (known.reply is None or now - known.at < self.patience):
            return known.reply
        try:
            return pending.result(timeout=timeout)
        except FutureTimeout:
            return None

    def forget(self, socket_path: str) -> None:
        """After a command changed the orchestrator's state: the next read asks again."""
        with self._lock:
            self._replies.pop(_socket_key(socket_path))

    def _run(self, key: tuple, socket_path: str, timeout: float) -> dict | None:
        reply = None
        try:
            reply = self._probe(socket_path, timeout)
        except Exception:
            logger.exception("status probe of %s failed", socket_path)
        finally:
            with self._lock:
                self._pending.pop(key, None)
                self._replies.put(key, _Reply(reply, self._clock()))
        return reply


def ipc_status(socket_path: str, timeout: float) -> dict | None:
    """The probe status reads use: the orchestrator's `status` reply over IPC, None if it gives none."""
    try:
        reply = send_command(socket_path, "status", timeout=timeout)
    except OrchestratorUnavailable:
        return None
    return None if "error" in reply else reply


def _socket_key(socket_path: str) -> tuple:
    try:
        info = os.stat(socket_path)
    except (OSError, ValueError):  # ValueError: an abstract-namespace address ("\0name") has no inode
        return (socket_path, None)
    return (socket_path, info.st_dev, info.st_ino)
