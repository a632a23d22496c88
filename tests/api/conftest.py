"""Fixtures of the control API tests: users by permission, token clients, scripted orchestrators on real sockets."""

import json
import os
import shutil
import subprocess
import tempfile
import threading
from contextlib import contextmanager

import pytest
from django.db import OperationalError, connection

from orchestrator.ipc import IPCServer


@contextmanager
def refused_writes(statement: str, model, message: str):
    """The database refuses every `statement` ("INSERT INTO", "UPDATE") on `model`'s table, as a full
    disk or a lock held too long would: through Django's execute_wrapper hook on this thread's connection."""
    prefix = f'{statement} "{model._meta.db_table}"'

    def refuse(execute, sql, params, many, context):
        if sql.startswith(prefix):
            raise OperationalError(message)
        return execute(sql, params, many, context)
    with connection.execute_wrapper(refuse):
        yield


@pytest.fixture
def socket_dir():
    """Unix socket paths are limited to ~100 bytes, so sockets live in a short /tmp directory."""
    path = tempfile.mkdtemp(prefix="oc-", dir="/tmp")
    yield path
    shutil.rmtree(path, ignore_errors=True)


class ScriptedOrchestrator:
    """A real IPC server whose handler plays an orchestrator's state machine and records every command."""

    def __init__(self, socket_path: str, *, state: str = "running", delay: float = 0.0):
        self.state = state
        self.delay = delay
        self.commands: list[tuple[str, dict]] = []
        self.server = IPCServer(socket_path, self.handle)
        self._lock = threading.Lock()

    def handle(self, command: str, payload: dict) -> dict:
        if self.delay:
            threading.Event().wait(self.delay)
        with self._lock:
            self.commands.append((command, payload))
            if command == "resume" and self.state == "running":
                return {"ack": True, "message": "Already running.", "state": "running"}  # as upstream's acks
            allowed = {"pause": ("running", "paused"), "resume": ("paused",), "shutdown": ("running", "paused")}
            if command in allowed and self.state not in allowed[command]:
                return {"error": f"Cannot {command}: the orchestrator is {self.state}.",
                        "code": "invalid_orchestrator_state", "state": self.state}
            self.state = {"pause": "paused", "resume": "running", "shutdown": "stopping"}.get(command, self.state)
            return {"ack": True, "message": f"{command} done.", "state": self.state}


@pytest.fixture
def orchestrator(repo_root, socket_dir):
    """A registered, live (this test process's pid) orchestrator of plan alpha behind a scripted IPC server."""
    repo_root.plan("alpha")
    repo_root.status("alpha")
    scripted = ScriptedOrchestrator(os.path.join(socket_dir, "o.sock"))
    scripted.server.start()
    repo_root.registry([repo_root.instance(id="orch-1", socket_path=scripted.server.socket_path)])
    yield scripted
    scripted.server.stop()


@pytest.fixture
def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


# Helpers of the command tests.

def url(instance_id: str, command: str) -> str:
    return f"/api/orchestrators/{instance_id}/{command}"


def plan_url(name: str, task_id: str, command: str) -> str:
    return f"/api/plans/{name}/tasks/{task_id}/{command}"


def error_code(response) -> str:
    return response.json()["error"]["code"]


def stored_task(repo, task_id: str, plan: str = "alpha") -> dict:
    data = json.loads(repo.layout.status_file(plan, archived=False).read_text())
    return next(task for task in data["tasks"] if task["id"] == task_id)
