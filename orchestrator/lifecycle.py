"""How a running orchestrator shows itself to other processes: registry entry, heartbeat, IPC socket."""

import logging
import signal
import threading
from typing import Callable

from .clock import iso_now
from .errors import InvalidOrchestratorState, OrchestratorError
from .ipc import IPCServer
from .registry import ACTIVE_STATUSES, Instance, Registry, is_alive

logger = logging.getLogger(__name__)

HEARTBEAT_S = 10.0  # registry readers call an instance stale after 60 s without one


def claim_plan(registry: Registry, plan_path: str) -> None:
    """Refuse a plan that a live orchestrator runs (two would fight over its status file);
    entries of dead ones are marked crashed on the way."""
    registry.cleanup_dead()
    for other in registry.list():
        if other.plan_path == plan_path and other.status in ACTIVE_STATUSES and is_alive(other):
            raise InvalidOrchestratorState(f"{other.id} (pid {other.pid}) is already running {plan_path}.",
                                           instance_id=other.id)


class Heartbeat:
    """Refreshes `last_heartbeat` on a thread that waits on an Event, so stop() is immediate."""

    def __init__(self, registry: Registry, instance_id: str, *, interval: float = HEARTBEAT_S):
        self._registry = registry
        self._instance_id = instance_id
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{instance_id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5.0)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._registry.heartbeat(self._instance_id)
            except (OrchestratorError, OSError) as exc:
                # A missed beat is harmless (readers allow six); dying here would stop all later ones.
                logger.warning("Heartbeat of %s failed: %s", self._instance_id, exc)


class Presence:
    """The registry entry, heartbeat and IPC server of one instance, started and stopped together.

    The socket is served before the entry is registered and the entry is marked stopped
    before the socket goes away, so a reader that finds a running entry can always reach it
    (or sees a dead pid after a crash).
    """

    def __init__(self, *, registry: Registry, instance: Instance, handler: Callable[[str, dict], dict],
                 heartbeat_s: float = HEARTBEAT_S):
        self.registry = registry
        self.instance = instance
        self._server = IPCServer(instance.socket_path, handler)
        self._heartbeat = Heartbeat(registry, instance.id, interval=heartbeat_s)
        self._started = False

    def start(self) -> None:
        self._server.start()
        try:
            self.registry.register(self.instance)
        except BaseException:
            self._server.stop()
            raise
        self._heartbeat.start()
        self._started = True

    def set_status(self, status: str) -> None:
        """running | stopping | stopped | crashed, as other tools read it; also a sign of life."""
        try:
            self.registry.update(self.instance.id, status=status, last_heartbeat=iso_now(self.registry.clock))
        except (OrchestratorError, OSError) as exc:
            logger.warning("Could not mark %s %s in the registry: %s", self.instance.id, status, exc)

    def stop(self, *, status: str = "stopped") -> None:
        if not self._started:
            return
        self._started = False
        self._heartbeat.stop()
        self.set_status(status)
        self._server.stop()


def install_shutdown_signals(on_signal: Callable[[str], None]) -> Callable[[], None]:
    """Route SIGTERM and SIGINT to `on_signal(name)` on a fresh thread; returns a function that restores.

    Python delivers signals to the main thread only, so elsewhere (tests, an embedding server)
    nothing is installed and the host keeps its handlers. The handler interrupts the main
    thread anywhere, possibly inside a lock it holds, so the work runs on a thread of its own.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

    def handler(signum, _frame):
        name = signal.Signals(signum).name
        threading.Thread(target=on_signal, args=(name,), name=f"on-{name}", daemon=True).start()

    for sig in previous:
        signal.signal(sig, handler)

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)
    return restore
