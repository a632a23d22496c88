"""A daphne SIGKILLed while a keyed command is in flight: the key is not stuck for a day.

The red-team reproduction, with real processes: a pause hangs in a live orchestrator's IPC
handler, the server is killed, a new server on the same database is asked again with the
same key. It answers 409 while the reservation could still belong to a running request,
and runs the command once the reservation is older than RESERVATION_TIMEOUT.
"""

import json
import os
import sqlite3
import subprocess
import sys
import threading

import pytest

from api.services.idempotency import RESERVATION_TIMEOUT
from bench.ws_common import PROJECT, Server
from orchestrator.ipc import IPCServer
from tests.engine_support import short_socket_path, wait_until
from tests.factories import RepoFactory

from tests.serving.test_bodylimit import exchange

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


class HangingOrchestrator:
    """Answers pause, but the first one only once released: the request that is in flight when its server dies."""

    def __init__(self):
        self.entered = threading.Event()
        self.release = threading.Event()
        self.pauses = 0

    def __call__(self, command: str, payload: dict) -> dict:
        if command == "pause":
            self.pauses += 1
            self.entered.set()
            if self.pauses == 1:
                self.release.wait(30)
        return {"ack": True, "message": f"{command} accepted", "state": "paused"}


@pytest.fixture
def served(tmp_path):
    repo = RepoFactory(tmp_path)
    repo.plan("alpha")
    repo.status("alpha")
    handler = HangingOrchestrator()
    ipc = IPCServer(short_socket_path(), handler)
    ipc.start()
    repo.registry([repo.instance(socket_path=ipc.socket_path)])
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "orchestrator_site.settings", "DJANGO_SECRET_KEY": "test-only",
           "DATABASE_URL": f"sqlite:///{tmp_path}/server.sqlite3"}
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v", "0"], env=env, cwd=PROJECT, check=True)
    token = subprocess.run([*manage, "create_local_user", "--token-only"], env=env, cwd=PROJECT, check=True,
                           capture_output=True, text=True).stdout.split()[-1]
    yield tmp_path, handler, token
    handler.release.set()
    ipc.stop()


def start_server(root) -> Server:
    return Server(root, secret_key="test-only", database="server.sqlite3", heartbeat_s=None, log_level=None,
                  verbosity=None, extra_env={"ORCHESTRATOR_IPC_TIMEOUT": "30"})


def keyed_pause(port: int, token: str, *, timeout: float = 15.0):
    head = (f"POST /api/orchestrators/orch-1700000000000/pause HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Token {token}\r\nIdempotency-Key: crash-1\r\nContent-Length: 0\r\n"
            "Connection: close\r\n\r\n").encode()
    return exchange(port, head, timeout=timeout)


def reservations(root) -> list[int]:
    with sqlite3.connect(root / "server.sqlite3") as db:
        return [row[0] for row in db.execute("SELECT status_code FROM api_idempotencyrecord")]


def test_a_key_in_flight_when_its_server_is_killed_is_taken_over_after_the_timeout(served):
    root, handler, token = served
    first = start_server(root)
    threading.Thread(target=lambda: _ignore_errors(keyed_pause, first.port, token), daemon=True).start()
    assert handler.entered.wait(20), "the pause never reached the orchestrator"
    first.process.kill()
    first.process.wait(10)
    assert reservations(root) == [0]  # what the crash leaves behind

    second = start_server(root)
    try:
        status, _, body = keyed_pause(second.port, token)
        assert (status, json.loads(body)["error"]["code"]) == (409, "idempotency_key_in_progress")

        with sqlite3.connect(root / "server.sqlite3") as db:  # the reservation ages past the bound
            db.execute("UPDATE api_idempotencyrecord SET created_at = datetime('now', ?)",
                       (f"-{int(RESERVATION_TIMEOUT.total_seconds()) + 5} seconds",))
        status, _, body = keyed_pause(second.port, token)
        assert status == 200, body
        wait_until(lambda: reservations(root) == [200], message="the answer is stored for replays")
        assert handler.pauses == 2
    finally:
        second.stop()


def _ignore_errors(call, *args):
    try:
        call(*args)
    except (OSError, IndexError):
        pass  # its server is killed under it: the connection drops without an answer
