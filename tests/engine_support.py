"""Helpers for tests that run a real orchestrator: the scripted agent, a raw IPC client, an engine on
a thread, waiting.

The IPC client here is written from the documented frame format only (4-byte big-endian
length, then UTF-8 JSON), never with orchestrator.ipc, so the tests prove that a foreign
tool can steer our orchestrator.
"""

import json
import socket
import struct
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from orchestrator.engine import Engine
from orchestrator.errors import InvalidOrchestratorState
from orchestrator.status import read_status

PROJECT_ROOT = Path(__file__).resolve().parent.parent

AGENT_CMD = [
    sys.executable, "-m", "orchestrator.agents.scripted", "-p", "{prompt}", "--task-id", "{task_id}",
    "--findings-dir", "{findings_dir}", "--delay", "0",
]
# The agent runs inside the fixture repository, where `-m orchestrator...` needs the project on the path.
AGENT_ENV = {"PYTHONPATH": str(PROJECT_ROOT)}

THREE_PHASES = {
    "Phase 1: Survey": ["1.1 Read the entry point", "1.2 Find the config loader"],
    "Phase 2: Build": ["2.1 Add the health route", "2.2 Report the database state"],
    "Phase 3: Verify": ["3.1 Write the tests"],
}


def short_socket_path() -> str:
    """Unix socket paths are limited to ~107 bytes, which pytest's tmp_path can exceed."""
    return f"/tmp/oe-{uuid.uuid4().hex[:10]}.sock"


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed mid-frame")
        data += chunk
    return data


def raw_command(socket_path: str, command: str, payload: dict | None = None, *, timeout: float = 5.0) -> dict:
    """One request, one response, as any tool that knows only the documented protocol would send it."""
    body = json.dumps({"type": "request", "command": command, "payload": payload or {},
                       "timestamp": "2025-01-01T00:00:00.000Z"}).encode("utf-8")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(socket_path)
        sock.sendall(struct.pack(">I", len(body)) + body)
        (length,) = struct.unpack(">I", _recv_exact(sock, 4))
        reply = json.loads(_recv_exact(sock, length).decode("utf-8"))
    assert reply["type"] == "response" and reply["command"] == command, reply
    return reply["payload"]


def wait_until(predicate, *, timeout: float = 10.0, interval: float = 0.02, message: str = "condition"):
    """Poll `predicate` until it returns something truthy; tests only, where a file is the signal."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"Timed out after {timeout} s waiting for {message}.")
        time.sleep(interval)


def agent_pids(marker: str) -> list[int]:
    """Scripted agents whose command line contains `marker` (e.g. the fixture repository's path).

    The agent's module or script must be an argument of its own: an orchestrator's command line
    holds its agent command in one argument, and a guard's (orchestrator/agents/guard.py) ends in the
    agent's after a `--`; neither is an agent.
    """
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"--" in cmdline:
            continue
        if any(arg == b"orchestrator.agents.scripted" or arg.endswith(b"/scripted.py") for arg in cmdline) and any(
                marker.encode() in arg for arg in cmdline):
            pids.append(int(entry.name))
    return pids


class EventRecorder:
    """Collects every event of a bus; wait_for() blocks on a condition, not a sleep loop."""

    def __init__(self, bus):
        self.events = []
        self._cond = threading.Condition()
        bus.subscribe(self._on_event)

    def _on_event(self, event) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def of(self, event_type: str) -> list:
        with self._cond:
            return [event for event in self.events if event.type == event_type]

    def states(self) -> list[str]:
        return [event.data["state"] for event in self.of("orchestrator_state")]

    def wait_for(self, predicate, *, timeout: float = 10.0, message: str = "event"):
        with self._cond:
            found = self._cond.wait_for(lambda: next((e for e in self.events if predicate(e)), None), timeout)
        if found is None:
            raise AssertionError(f"Timed out after {timeout} s waiting for {message}.")
        return found

    def task_reached(self, task_id: str, *statuses: str, timeout: float = 10.0):
        """A file diff can merge quick transitions (pending -> completed), so callers list what will do."""
        return self.wait_for(
            lambda e: e.type == "task_changed" and e.data["task_id"] == task_id and e.data["new_status"] in statuses,
            timeout=timeout, message=f"task {task_id} {'/'.join(statuses)}")


class EngineRun:
    """An engine running in a thread, with everything it published recorded."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.recorder = EventRecorder(engine.bus)
        self.outcome: dict = {}
        self.thread = threading.Thread(target=self._run, name="engine-under-test", daemon=True)

    def _run(self) -> None:
        try:
            self.outcome["code"] = self.engine.run()
        except BaseException as exc:  # surfaced by result()
            self.outcome["error"] = exc

    def result(self, timeout: float = 15.0) -> int:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "engine did not stop"
        if "error" in self.outcome:
            raise self.outcome["error"]
        return self.outcome["code"]

    @property
    def socket(self) -> str:
        return self.engine.socket_path

    def status(self) -> dict:
        return read_status(self.engine.status_path).data

    def task(self, task_id: str) -> dict:
        return next(task for task in self.status()["tasks"] if task["id"] == task_id)


@contextmanager
def engine_thread(engine: Engine):
    """(engine, thread, outcome): `engine.run()` in a thread, its exit code in outcome["code"];
    force-stopped and joined on the way out, whatever the test left it doing."""
    outcome: dict = {}
    thread = threading.Thread(target=lambda: outcome.setdefault("code", engine.run()), daemon=True)
    thread.start()
    try:
        yield engine, thread, outcome
    finally:
        try:
            engine.request_shutdown(force=True)
        except InvalidOrchestratorState:
            pass
        thread.join(10)
