"""One thread that watches the status files of every adopted instance (realtime.bridge.adoption).

The core's StatusMonitor.start() runs a thread of its own per file, which is right for an
orchestrator watching its one plan and wrong for a bridge: any process may write the
registry, and a thread, its wake-ups and a blocking start per entry let a large registry
freeze the server. Here one watchfiles watch covers the parent directories of all adopted
status files; a change is handed to that file's StatusMonitor (its diff, not its thread),
and every `poll_interval` each monitor re-checks what the watch cannot see (a directory
replaced or not there yet), which costs one os.stat per unchanged file (read_status is
cached). A monitor's first check (reading the file, journaling its state), and whatever
prepares it, runs in this thread too, never on the event loop.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Callable

from watchfiles import watch

from orchestrator.monitor import DEBOUNCE_MS, STEP_MS, StatusMonitor

logger = logging.getLogger(__name__)


class _Probe:
    """watchfiles' stop_event: polled every step, it ends the watch to stop or to re-arm it."""

    def __init__(self, *events: threading.Event):
        self._events = events

    def is_set(self) -> bool:
        return any(event.is_set() for event in self._events)


class StatusWatch:
    def __init__(self, *, poll_interval: float = 0.25, step_ms: int = STEP_MS):
        self._poll_ms = max(int(poll_interval * 1000), 1)
        self._step_ms = step_ms
        self._lock = threading.Lock()  # guards the two collections below, held briefly
        self._monitors: dict[str, list[StatusMonitor]] = {}  # by status file path
        self._pending: list[tuple[StatusMonitor, Callable[[], None] | None]] = []
        # Held while a monitor checks, so remove() returns only once no check can touch it.
        self._checking = threading.Lock()
        self._rearm = threading.Event()
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None

    def __len__(self) -> int:
        with self._lock:
            return sum(len(monitors) for monitors in self._monitors.values())

    def add(self, monitor: StatusMonitor, *, prepare: Callable[[], None] | None = None) -> None:
        """Watch one more file; `prepare`, then its first check, happen in the watch thread, soon."""
        with self._lock:
            self._monitors.setdefault(str(monitor.status_path), []).append(monitor)
            self._pending.append((monitor, prepare))
        self._rearm.set()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="bridge-status-watch", daemon=True)
            self._thread.start()

    def remove(self, monitor: StatusMonitor) -> None:
        """Stop checking `monitor`; blocks until a check in progress is over (call it off the loop)."""
        with self._lock:
            key = str(monitor.status_path)
            monitors = [m for m in self._monitors.get(key, ()) if m is not monitor]
            if monitors:
                self._monitors[key] = monitors
            else:
                self._monitors.pop(key, None)
            self._pending = [p for p in self._pending if p[0] is not monitor]
        self._rearm.set()
        with self._checking:
            pass

    def stop(self) -> None:
        self._halt.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    # -- the watch thread --------------------------------------------------------------------

    def _check(self, monitors, prepares=None) -> None:
        with self._checking:
            for monitor, prepare in zip(monitors, prepares or [None] * len(monitors)):
                if monitor in self._monitors.get(str(monitor.status_path), ()):  # not removed meanwhile
                    try:
                        if prepare is not None:
                            prepare()
                        monitor.check()
                    except Exception:  # one bad file or subscriber must not end the watch of the others
                        logger.exception("Status check of %s failed", monitor.status_path)

    def _check_pending(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        self._check([monitor for monitor, _ in pending], [prepare for _, prepare in pending])

    def _all(self) -> list[StatusMonitor]:
        with self._lock:
            return [m for monitors in self._monitors.values() for m in monitors]

    def _armed_dirs(self) -> dict[str, tuple[int, int]]:
        """The parent directories that exist now, with their identity (a replaced one needs a new watch)."""
        with self._lock:
            parents = {os.path.dirname(path) for path in self._monitors}
        dirs = {}
        for parent in parents:
            try:
                info = os.stat(parent)
            except OSError:
                continue
            dirs[parent] = (info.st_dev, info.st_ino)
        return dirs

    def _run(self) -> None:
        while not self._halt.is_set():
            self._rearm.clear()
            self._check_pending()
            dirs = self._armed_dirs()
            if not dirs:
                if self._rearm.wait(self._poll_ms / 1000) or self._halt.is_set():
                    continue
                self._check(self._all())
                continue
            try:
                self._watch(dirs)
            except OSError:
                logger.warning("Watching status directories failed; retrying", exc_info=True)
                self._halt.wait(self._poll_ms / 1000)

    def _watch(self, dirs: dict[str, tuple[int, int]]) -> None:
        def relevant(_change, path: str) -> bool:
            return path in self._monitors or path in dirs

        for changes in watch(*sorted(dirs), watch_filter=relevant, stop_event=_Probe(self._halt, self._rearm),
                             debounce=DEBOUNCE_MS, step=self._step_ms, rust_timeout=self._poll_ms,
                             yield_on_timeout=True, recursive=False, raise_interrupt=False):
            if not changes:  # the poll interval passed quietly: the safety re-check
                self._check(self._all())
                if self._armed_dirs() != dirs:
                    return  # a directory appeared or was replaced
                continue
            paths = {path for _, path in changes}
            with self._lock:
                changed = [m for path in paths for m in self._monitors.get(path, ())]
            self._check(changed)
            if paths & set(dirs):
                return  # a watched directory itself was deleted or moved: its watch is gone
