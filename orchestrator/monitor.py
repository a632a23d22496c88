"""Turns status.json changes, whoever writes them, into status/task/phase events within milliseconds."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from pathlib import Path
from typing import Callable

from watchfiles import awatch, watch

from .clock import Clock, utc_now
from .errors import StatusFileCorrupt
from .events import Event, EventBus, EventType
from .status import read_status

logger = logging.getLogger(__name__)

# watchfiles yields once a burst of changes has been quiet for one step (after at most
# DEBOUNCE_MS of a continuous burst), so a write reaches subscribers in about two steps:
# ~2.5 ms p50 / ~3 ms p99 at 1 ms (bench/monitor_latency.py), against a 10 ms p99 target.
# The price is an idle wake-up per step, ~2% of a core; a host watching many instances
# can trade latency for CPU with step_ms (2 ms: ~1%, p99 ~7 ms).
STEP_MS = 1
DEBOUNCE_MS = 10

Change = tuple[EventType, dict]
TaskState = tuple[str, str, "str | None"]  # status, description, phase


def _index_tasks(data: dict) -> dict[str, TaskState]:
    index = {}
    for task in data.get("tasks", ()):
        if isinstance(task, dict) and isinstance(task.get("id"), str) and isinstance(task.get("status"), str):
            phase = task.get("phase")
            description = task.get("description")
            index[task["id"]] = (
                task["status"],
                description if isinstance(description, str) else "",
                phase if isinstance(phase, str) else None,
            )
    return index


def _current_phase(data: dict) -> str | None:
    phase = data.get("currentPhase")
    return phase if isinstance(phase, str) else None


class _StopProbe:
    """The stop flag as watchfiles sees it; watchfiles polls is_set() every step from inside
    its watch loop, so the first poll proves the watch is live and start() may return."""

    def __init__(self, stop: threading.Event, ready: threading.Event):
        self._stop = stop
        self._ready: threading.Event | None = ready

    def is_set(self) -> bool:
        if self._ready is not None:  # called every step: keep the common path to one check
            self._ready.set()
            self._ready = None
        return self._stop.is_set()


class StatusMonitor:
    """Watches one status.json and publishes what changed since the last good read.

    The parent directory is watched, not the file: writers replace the file atomically
    (a new inode each time) and plans get reset by delete + recreate, both of which a
    watch on the file itself would lose. A safety re-check every `poll_interval` seconds
    covers whatever the watcher cannot see (the directory itself replaced, or a change
    made while the watch was being set up); it is cheap because read_status is cached.
    """

    def __init__(
        self,
        status_path: Path,
        *,
        instance_id: str,
        bus: EventBus | None = None,
        callback: Callable[[Event], object] | None = None,
        clock: Clock = utc_now,
        poll_interval: float = 0.25,
        step_ms: int = STEP_MS,
    ):
        self.status_path = Path(status_path).absolute()  # watchfiles reports absolute paths
        self.instance_id = instance_id
        self.bus = bus if bus is not None else EventBus(clock=clock)
        self._callback = callback
        self._poll_ms = max(int(poll_interval * 1000), 1)
        self._step_ms = step_ms
        self._lock = threading.Lock()
        self._data: dict | None = None
        self._tasks: dict[str, TaskState] | None = None
        self._phase: str | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def _diff(self) -> list[Change]:
        """Compare the file with the last good read; a missing or unreadable file changes nothing,
        so a half-written file is simply re-read on the next change and a recreated file is
        diffed against the state before its deletion."""
        try:
            snapshot = read_status(self.status_path)
        except StatusFileCorrupt as exc:
            logger.debug("Skipping unreadable %s until its next change: %s", self.status_path, exc)
            return []
        if snapshot is None or snapshot.data == self._data:
            return []
        data = snapshot.data
        tasks, phase = _index_tasks(data), _current_phase(data)
        changes: list[Change] = [(EventType.STATUS_UPDATED, data)]
        if self._tasks is not None:
            if phase != self._phase:
                changes.append((EventType.PHASE_CHANGED, {"old_phase": self._phase, "new_phase": phase}))
            for task_id, (status, description, task_phase) in tasks.items():
                old = self._tasks.get(task_id)
                old_status = old[0] if old else None
                if status != old_status:
                    changes.append((EventType.TASK_CHANGED, {
                        "task_id": task_id,
                        "description": description,
                        "old_status": old_status,
                        "new_status": status,
                        "phase": task_phase,
                    }))
        self._data, self._tasks, self._phase = data, tasks, phase
        return changes

    def assume(self, data: dict) -> None:
        """Take `data` as the last good read, so the next check publishes only what changed since:
        for a watcher that resumes a file it has journaled before (the bridge, restarted)."""
        with self._lock:
            self._data, self._tasks, self._phase = data, _index_tasks(data), _current_phase(data)

    def _notify(self, event: Event) -> Event:
        if self._callback is not None:
            try:
                self._callback(event)
            except Exception:
                logger.exception("Status monitor callback failed on %s", event.type)
        return event

    def check(self) -> list[Event]:
        """Read the file now and publish whatever changed (the first read publishes status_updated only)."""
        with self._lock:
            return [self._notify(self.bus.emit(kind, self.instance_id, data)) for kind, data in self._diff()]

    async def acheck(self) -> list[Event]:
        """check() for asyncio hosts: async subscribers on this loop are awaited."""
        with self._lock:
            changes = self._diff()
        return [self._notify(await self.bus.aemit(kind, self.instance_id, data)) for kind, data in changes]

    def _is_relevant(self, _change, path: str) -> bool:
        # The directory's own deletion matters too: its watch dies with it.
        return os.path.basename(path) == self.status_path.name or path == str(self.status_path.parent)

    def _watch_lost(self, changes: set, watched: tuple[int, int]) -> bool:
        """True when the watched directory is gone or replaced (a new inode; an inode number
        reused after delete + mkdir is caught by the deletion event instead)."""
        parent = str(self.status_path.parent)
        return any(path == parent for _, path in changes) or self._parent_identity() != watched

    def _parent_identity(self) -> tuple[int, int] | None:
        try:
            info = os.stat(self.status_path.parent)
        except OSError:
            return None
        return info.st_dev, info.st_ino

    def _watch_options(self, stop_event) -> dict:
        return dict(
            watch_filter=self._is_relevant,
            debounce=DEBOUNCE_MS,
            step=self._step_ms,
            stop_event=stop_event,
            rust_timeout=self._poll_ms,
            yield_on_timeout=True,
            recursive=False,
        )

    def start(self) -> None:
        """Publish the current state, then watch in a thread; returns once the watch is live."""
        if self._thread is not None:
            raise RuntimeError("StatusMonitor already started.")
        self._stop.clear()
        self.check()
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run_thread, args=(ready,), name=f"monitor:{self.instance_id}", daemon=True
        )
        self._thread.start()
        ready.wait(timeout=self._poll_ms / 1000 + 5)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _safe_check(self) -> None:
        try:
            self.check()
        except Exception:  # the watch must outlive one bad read or a broken subscriber
            logger.exception("Status monitor check of %s failed", self.status_path)

    async def _asafe_check(self) -> None:
        try:
            await self.acheck()
        except Exception:
            logger.exception("Status monitor check of %s failed", self.status_path)

    def _run_thread(self, ready: threading.Event) -> None:
        while not self._stop.is_set():
            watched = self._parent_identity()
            if watched is None:
                ready.set()  # nothing to watch yet: polling until the directory appears
                self._stop.wait(self._poll_ms / 1000)
                self._safe_check()
                continue
            try:
                probe = _StopProbe(self._stop, ready)
                for changes in watch(self.status_path.parent, raise_interrupt=False, **self._watch_options(probe)):
                    self._safe_check()
                    if self._watch_lost(changes, watched):
                        break
            except OSError:
                logger.warning("Watching %s failed; retrying", self.status_path.parent, exc_info=True)
                self._stop.wait(self._poll_ms / 1000)

    async def run(self, stop_event: asyncio.Event) -> None:
        """The same watch for asyncio hosts; returns when `stop_event` is set."""
        await self._asafe_check()
        while not stop_event.is_set():
            watched = self._parent_identity()
            if watched is None:
                try:
                    await asyncio.wait_for(stop_event.wait(), self._poll_ms / 1000)
                except asyncio.TimeoutError:
                    pass
                await self._asafe_check()
                continue
            try:
                async for changes in awatch(self.status_path.parent, **self._watch_options(stop_event)):
                    await self._asafe_check()
                    if self._watch_lost(changes, watched):
                        break
            except OSError:
                logger.warning("Watching %s failed; retrying", self.status_path.parent, exc_info=True)
                await asyncio.sleep(self._poll_ms / 1000)
