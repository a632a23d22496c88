"""Pause, resume and shutdown against real sockets and a real engine: successes and each failure path."""

import os
import socket
import time
from pathlib import Path

import pytest

from orchestrator.engine import EXIT_OK, Engine, EngineConfig
from orchestrator.ipc import IPCServer
from tests.engine_support import AGENT_CMD, AGENT_ENV, engine_thread, short_socket_path, wait_until

from .conftest import error_code, url

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(30)]


# -- pause, resume, shutdown -------------------------------------------------------------------


def test_pause_of_running_orchestrator_answers_ack_and_new_state(orchestrator, control_client):
    response = control_client.post(url("orch-1", "pause"))

    assert response.status_code == 200
    assert response.json() == {"ack": True, "instance_id": "orch-1", "command": "pause",
                               "message": "pause done.", "state": "paused"}
    assert orchestrator.commands == [("pause", {})]


def test_resume_of_paused_orchestrator(orchestrator, control_client):
    orchestrator.state = "paused"

    response = control_client.post(url("orch-1", "resume"))

    assert response.status_code == 200
    assert response.json()["state"] == "running"


def test_resume_of_running_orchestrator_acks_as_upstreams_does(orchestrator, control_client):
    response = control_client.post(url("orch-1", "resume"))

    assert response.status_code == 200
    assert (response.json()["message"], response.json()["state"]) == ("Already running.", "running")


def test_resume_of_stopping_orchestrator_is_409(orchestrator, control_client):
    orchestrator.state = "stopping"

    response = control_client.post(url("orch-1", "resume"))

    assert response.status_code == 409
    body = response.json()["error"]
    assert body["code"] == "invalid_orchestrator_state"
    assert body["message"] == "Cannot resume: the orchestrator is stopping."
    assert body["details"]["state"] == "stopping"


def test_pause_of_stopping_orchestrator_is_409(orchestrator, control_client):
    orchestrator.state = "stopping"

    response = control_client.post(url("orch-1", "pause"))

    assert response.status_code == 409
    assert error_code(response) == "invalid_orchestrator_state"


@pytest.mark.parametrize("body, force", [({}, False), ({"force": False}, False), ({"force": True}, True)])
def test_shutdown_forwards_force(orchestrator, control_client, body, force):
    response = control_client.post(url("orch-1", "shutdown"), body, format="json")

    assert response.status_code == 200
    assert response.json()["state"] == "stopping"
    assert orchestrator.commands == [("shutdown", {"force": force})]


def test_shutdown_with_a_force_that_is_not_a_boolean_is_400_and_sends_nothing(orchestrator, control_client):
    response = control_client.post(url("orch-1", "shutdown"), {"force": "later"}, format="json")

    assert response.status_code == 400
    assert "force" in response.json()["error"]["details"]["fields"]
    assert orchestrator.commands == []


def test_malformed_json_body_is_400(orchestrator, control_client):
    response = control_client.post(url("orch-1", "shutdown"), "{not json", content_type="application/json")

    assert response.status_code == 400
    assert orchestrator.commands == []


def test_unknown_instance_is_404(orchestrator, control_client):
    response = control_client.post(url("orch-2", "pause"))

    assert response.status_code == 404
    assert error_code(response) == "instance_not_found"


def test_missing_registry_is_404(repo_root, control_client):
    response = control_client.post(url("orch-1", "pause"))

    assert response.status_code == 404


def test_dead_process_is_503_without_waiting_on_its_socket(repo_root, control_client, dead_pid, socket_dir):
    # A socket that would hang: if the service asked it, the request would take the whole timeout.
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(os.path.join(socket_dir, "stuck.sock"))
        listener.listen(1)
        repo_root.registry([repo_root.instance(id="orch-1", pid=dead_pid, socket_path=listener.getsockname())])
        started = time.monotonic()

        response = control_client.post(url("orch-1", "pause"))

    assert response.status_code == 503
    assert time.monotonic() - started < 5  # asking the socket would take the fixture's 10 s IPC_TIMEOUT
    assert response["Retry-After"] == "1"
    assert response.json()["error"]["details"]["reason"] == "process_gone"


def test_socket_nobody_listens_on_is_503(repo_root, control_client, socket_dir):
    path = os.path.join(socket_dir, "orphan.sock")
    orphan = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    orphan.bind(path)
    orphan.close()  # the file stays, every connect is refused
    repo_root.registry([repo_root.instance(id="orch-1", socket_path=path)])

    response = control_client.post(url("orch-1", "pause"))

    assert response.status_code == 503
    assert error_code(response) == "orchestrator_unavailable"


def test_missing_socket_file_is_503(repo_root, control_client, socket_dir):
    repo_root.registry([repo_root.instance(id="orch-1", socket_path=os.path.join(socket_dir, "gone.sock"))])

    assert control_client.post(url("orch-1", "resume")).status_code == 503


def test_stuck_socket_is_503_within_the_ipc_timeout(repo_root, control_client, socket_dir, settings):
    settings.ORCHESTRATOR = {**settings.ORCHESTRATOR, "IPC_TIMEOUT": 0.3}
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(os.path.join(socket_dir, "stuck.sock"))
        listener.listen(1)  # accepts connections into the backlog, never reads or answers
        repo_root.registry([repo_root.instance(id="orch-1", socket_path=listener.getsockname())])
        started = time.monotonic()

        response = control_client.post(url("orch-1", "shutdown"), {"force": True}, format="json")

    elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert 0.25 <= elapsed < 5  # the 0.3 s deadline, not the fixture's 10 s
    assert "did not answer within 0.3 s" in response.json()["error"]["message"]


def test_an_error_reply_without_a_state_code_is_503(repo_root, control_client, socket_dir):
    with IPCServer(os.path.join(socket_dir, "busy.sock"), lambda command, payload: {"error": "busy"}) as server:
        repo_root.registry([repo_root.instance(id="orch-1", socket_path=server.socket_path)])

        response = control_client.post(url("orch-1", "pause"))

    assert response.status_code == 503
    assert "could not pause: busy" in response.json()["error"]["message"]


# -- a real engine -------------------------------------------------------------------------------


@pytest.fixture
def engine(repo_root, settings):
    """A real orchestrator (scripted agent, slow enough to be caught mid-plan) running in a thread."""
    # Its IPC thread shares this process's CPU with the agent and the test: allow a loaded machine.
    settings.ORCHESTRATOR = {**settings.ORCHESTRATOR, "IPC_TIMEOUT": 5.0}
    repo_root.plan("long", {"Work": [f"1.{n} Step {n}" for n in range(1, 6)]})
    config = EngineConfig(repo_root=repo_root.root, plan_path=Path("docs/plans/long.md"),
                          agent_cmd=[*AGENT_CMD[:-1], "0.3"], agent_env=AGENT_ENV, timeout=10,
                          socket_path=short_socket_path())
    with engine_thread(Engine(config)) as running:
        wait_until(lambda: running[0].state == "running", message="engine start")
        yield running


def test_pause_resume_and_shutdown_steer_a_real_engine(engine, control_client):
    engine, thread, outcome = engine

    paused = control_client.post(url(engine.instance_id, "pause"))
    again = control_client.post(url(engine.instance_id, "pause"))
    resumed = control_client.post(url(engine.instance_id, "resume"))
    resumed_twice = control_client.post(url(engine.instance_id, "resume"))
    stopped = control_client.post(url(engine.instance_id, "shutdown"), {"force": True}, format="json")
    thread.join(10)

    assert (paused.status_code, paused.json()["state"]) == (200, "paused")
    assert (again.status_code, again.json()["message"]) == (200, "Already paused.")
    assert (resumed.status_code, resumed.json()["state"]) == (200, "running")
    assert (resumed_twice.status_code, resumed_twice.json()["message"]) == (200, "Already running.")
    assert (stopped.status_code, stopped.json()["state"]) == (200, "stopping")
    assert not thread.is_alive() and outcome["code"] == EXIT_OK
    after = control_client.post(url(engine.instance_id, "pause"))
    assert after.status_code == 503  # the socket is gone with the engine
