"""An orchestrator's state (running, paused, stopping, stopped, crashed) and the commands that move it.

Commands arrive on any thread (IPC handlers, signal handlers); the engine's loop consults the
state between tasks. Every change is announced (an orchestrator_state event) under the lock,
so that the events come out in the order of the changes.
"""

import threading
from typing import Callable

from .errors import InvalidOrchestratorState
from .events import FINISHED_STATES


class RunState:
    """running -> paused -> running ..., then stopping -> stopped, or crashed; stopped before and
    after a run. Pause and shutdown take effect between tasks.

    Locking: `lock` is taken before the bus lock (changes are announced under it), so bus
    subscribers must not send commands. Each attribute read is atomic: readers that only
    look (a status probe, a display redraw) need no lock.
    """

    def __init__(self, announce: Callable[[str, str | None], None]):
        self._announce = announce
        self.lock = threading.RLock()
        self.state = "stopped"
        self.resumed = threading.Event()  # set unless paused: the loop waits on it between tasks
        self.resumed.set()
        self.shutdown_requested = False
        self.force = False
        self.forced = threading.Event()  # also ends a wait for the status file
        self.current_task: dict | None = None
        self.task_done = threading.Event()

    def set(self, state: str, reason: str | None) -> None:
        """Callers hold `lock`, so state changes and their events keep one order."""
        self.state = state
        self._announce(state, reason)

    def pause(self) -> str:
        with self.lock:
            if self.state == "stopping" or self.state in FINISHED_STATES:
                raise InvalidOrchestratorState(f"Cannot pause: the orchestrator is {self.state}.", state=self.state)
            if self.state == "paused":
                return "Already paused."
            self.resumed.clear()
            task = self.current_task
            self.set("paused", f"pause requested; task {task['id']} finishes first" if task else "pause requested")
            return f"Paused; task {task['id']} will finish first." if task else "Paused."

    def resume(self) -> str:
        with self.lock:
            if self.state == "running":
                return "Already running."  # an ack, as upstream's orchestrator answers: nothing to undo
            if self.state != "paused":
                raise InvalidOrchestratorState(f"Cannot resume: the orchestrator is {self.state}, not paused.",
                                               state=self.state)
            self.set("running", "resumed")
            self.resumed.set()
            return "Resumed."

    def shutdown(self, *, force: bool, reason: str) -> tuple[bool, dict | None]:
        """(whether this request changed anything, the task running now)."""
        with self.lock:
            if self.state in FINISHED_STATES:
                raise InvalidOrchestratorState(f"Cannot shut down: the orchestrator is {self.state}.",
                                               state=self.state)
            if self.state == "stopping" and (self.force or not force):
                return False, self.current_task
            self.shutdown_requested = True
            self.force = self.force or force
            if force:
                self.forced.set()
            self.set("stopping", f"{reason} (forced)" if force else reason)
            self.resumed.set()
            return True, self.current_task
