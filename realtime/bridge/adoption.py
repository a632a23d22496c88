"""Makes an orchestrator that keeps no journal (another tool's) look like one of ours.

Its status.json is diffed by the core's StatusMonitor on a bus of the bridge's own, the
watching done by the bridge's one StatusWatch thread for all adopted files, and the events
are journaled in `.claude/orchestrator-events/bridged/<id>.jsonl`, so
replay works for it as for any instance. One bridge at a time adopts an instance: the
adopter holds an flock on the bridged journal's `.lock` file, and a second bridge (a
second server with an embedded bridge, say) only tails what the first one writes.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from orchestrator.events import Event, EventBus
from orchestrator.journal import Journal, attach_journal
from orchestrator.layout import RepoLayout
from orchestrator.monitor import StatusMonitor
from orchestrator.registry import Instance

from ..journals import bridged_journal_path
from .status_watch import StatusWatch

logger = logging.getLogger(__name__)


def _try_flock(journal: Path) -> int | None:
    """The writer's lock of a bridged journal, taken without waiting: its fd, or None if held."""
    journal.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(journal.with_name(journal.name + ".lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


@contextmanager
def writer_lock(journal: Path, *, free: bool) -> Iterator[bool]:
    """While held, the bridge may write `journal`; yields False when an adopter holds it.

    Only bridged journals (`free`: no process of their own writes them) have this lock; the
    journal of one of ours has a single writer anyway, its orchestrator.
    """
    if not free:
        yield True
        return
    fd = _try_flock(journal)
    try:
        yield fd is not None
    finally:
        if fd is not None:
            os.close(fd)


class Adoption:
    def __init__(self, layout: RepoLayout, instance: Instance, *, on_event: Callable[[Event], None]):
        self.instance_id = instance.id
        self.path = bridged_journal_path(layout, instance.id)
        self._status_path = layout.instance_plan(instance).status_path  # as the REST reads find it
        self._on_event = on_event
        self._lock_fd: int | None = None
        self._journal: Journal | None = None
        self._monitor: StatusMonitor | None = None
        self._watch: StatusWatch | None = None
        self.bus: EventBus | None = None

    def try_acquire(self) -> bool:
        """Take the writer's lock without waiting; False if another bridge holds it."""
        if self._lock_fd is None:
            self._lock_fd = _try_flock(self.path)
        return self._lock_fd is not None

    @property
    def owned(self) -> bool:
        return self._lock_fd is not None

    def start(self, watch: StatusWatch) -> None:
        """Journal and watch; the caller holds the lock (try_acquire). Returns at once: the
        first read of the file happens in the watch thread, and `on_event` is called from it."""
        self.bus = EventBus()
        self._journal = Journal(self.path)
        attach_journal(self.bus, self._journal, self.instance_id)
        self.bus.subscribe(self._on_event)
        self._monitor = StatusMonitor(self._status_path, instance_id=self.instance_id, bus=self.bus)
        self._watch = watch
        watch.add(self._monitor, prepare=self._resume)

    def _resume(self) -> None:
        """Start from the status this journal last recorded, so a restarted bridge journals what
        changed meanwhile (task_changed and one status_updated), or nothing, not a copy per restart."""
        last = self._journal.last_of("status_updated") if self._journal is not None else None
        if last is not None and isinstance(last.data, dict):
            self._monitor.assume(last.data)

    def emit_state(self, data: dict) -> None:
        if self.bus is not None:
            self.bus.emit("orchestrator_state", self.instance_id, data)

    async def close(self) -> None:
        if self._monitor is not None:
            await asyncio.to_thread(self._watch.remove, self._monitor)
            self._monitor = None
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
