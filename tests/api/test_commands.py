"""Every command endpoint against real sockets and real status files: successes and each failure path."""

import json
import os
import socket
import time
from pathlib import Path

import pytest

from orchestrator.engine import EXIT_OK, Engine, EngineConfig
from orchestrator.ipc import IPCServer
from orchestrator.status import read_status
from tests.engine_support import AGENT_CMD, AGENT_ENV, engine_thread, short_socket_path, wait_until

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(30)]


def url(instance_id: str, command: str) -> str:
    return f"/api/orchestrators/{instance_id}/{command}"


def plan_url(name: str, task_id: str, command: str) -> str:
    return f"/api/plans/{name}/tasks/{task_id}/{command}"


def error_code(response) -> str:
    return response.json()["error"]["code"]


def stored_task(repo, task_id: str, plan: str = "alpha") -> dict:
    data = json.loads(repo.layout.status_file(plan, archived=False).read_text())
    return next(task for task in data["tasks"] if task["id"] == task_id)


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


# -- skip-task, retry-task on an orchestrator's plan ---------------------------------------------


def test_skip_task_writes_skipped_with_reason_keeps_unknown_keys_and_recomputes_summary(repo_root, orchestrator,
                                                                                         control_client):
    repo_root.status("alpha", states={"1.1": "completed"}, extra={"customKey": {"kept": True}})

    response = control_client.post(url("orch-1", "skip-task"), {"task_id": "1.2", "reason": "Not needed."},
                                   format="json")

    assert response.status_code == 200
    body = response.json()
    assert body["plan_name"] == "alpha"
    assert body["task"]["status"] == "skipped" and body["task"]["skip_reason"] == "Not needed."
    assert stored_task(repo_root, "1.2")["skipReason"] == "Not needed."
    data = json.loads(repo_root.layout.status_file("alpha", archived=False).read_text())
    assert data["customKey"] == {"kept": True}
    assert data["summary"] == body["summary"]
    assert data["summary"]["skipped"] == 1 and data["summary"]["completed"] == 1 and data["summary"]["pending"] == 2
    assert response["ETag"] == body["status_etag"] == read_status(repo_root.layout.status_file("alpha",
                                                                                               archived=False)).etag
    assert orchestrator.commands == []  # written to the file; the engine reads it before its next task


def test_skip_task_without_reason_records_a_default_reason(orchestrator, control_client, repo_root):
    response = control_client.post(url("orch-1", "skip-task"), {"task_id": "2.1"}, format="json")

    assert response.status_code == 200
    assert stored_task(repo_root, "2.1")["skipReason"] == "Skipped through the API."


def test_retry_task_resets_a_failed_task_clears_its_error_and_counts_the_retry(repo_root, orchestrator,
                                                                                control_client):
    repo_root.status("alpha", states={"1.1": {"status": "failed", "lastError": "boom", "error": "boom",
                                              "retryCount": 2}})

    response = control_client.post(url("orch-1", "retry-task"), {"task_id": "1.1"}, format="json")

    assert response.status_code == 200
    task = stored_task(repo_root, "1.1")
    assert task["status"] == "pending" and task["retryCount"] == 3
    assert not {"lastError", "error", "startedAt", "completedAt"} & task.keys()
    assert response.json()["task"] == {"id": "1.1", "description": task["description"], "phase": task["phase"],
                                       "status": "pending", "retry_count": 3, "last_error": None,
                                       "skip_reason": None, "started_at": None, "completed_at": None,
                                       "usage": None}


def test_retry_task_of_a_skipped_task(repo_root, orchestrator, control_client):
    repo_root.status("alpha", states={"2.2": {"status": "skipped", "skipReason": "later"}})

    response = control_client.post(url("orch-1", "retry-task"), {"task_id": "2.2"}, format="json")

    assert response.status_code == 200
    assert stored_task(repo_root, "2.2")["status"] == "pending"
    assert "skipReason" not in stored_task(repo_root, "2.2")


@pytest.mark.parametrize("command, state", [
    ("skip-task", "completed"), ("skip-task", "skipped"), ("skip-task", "in_progress"),
    ("retry-task", "pending"), ("retry-task", "completed"), ("retry-task", "in_progress"),
])
def test_task_command_in_a_state_that_forbids_it_is_409_and_changes_nothing(repo_root, orchestrator,
                                                                            control_client, command, state):
    repo_root.status("alpha", states={"1.2": state})
    before = repo_root.layout.status_file("alpha", archived=False).read_bytes()

    response = control_client.post(url("orch-1", command), {"task_id": "1.2"}, format="json")

    assert response.status_code == 409
    assert error_code(response) == "invalid_task_state"
    assert response.json()["error"]["details"]["status"] == state
    assert repo_root.layout.status_file("alpha", archived=False).read_bytes() == before


@pytest.mark.parametrize("command", ["skip-task", "retry-task"])
def test_unknown_task_is_404(orchestrator, control_client, command):
    response = control_client.post(url("orch-1", command), {"task_id": "9.9"}, format="json")

    assert response.status_code == 404
    assert error_code(response) == "task_not_found"


@pytest.mark.parametrize("task_id", ["1", "1.x", "../1.1", "1.2.3.4", ""])
def test_malformed_task_id_is_400(orchestrator, control_client, task_id):
    response = control_client.post(url("orch-1", "skip-task"), {"task_id": task_id}, format="json")

    assert response.status_code == 400


def test_missing_task_id_is_400(orchestrator, control_client):
    response = control_client.post(url("orch-1", "retry-task"), {}, format="json")

    assert response.status_code == 400
    assert "task_id" in response.json()["error"]["details"]["fields"]


def test_task_command_on_unknown_instance_is_404(orchestrator, control_client):
    response = control_client.post(url("orch-9", "skip-task"), {"task_id": "1.1"}, format="json")

    assert response.status_code == 404
    assert error_code(response) == "instance_not_found"


def test_task_commands_work_while_the_orchestrator_process_is_gone(repo_root, control_client, dead_pid):
    """The file is the truth: a crashed orchestrator's plan can still be fixed up for its next run."""
    repo_root.status("alpha", states={"1.1": "failed"})
    repo_root.registry([repo_root.instance(id="orch-1", pid=dead_pid, status="crashed")])

    response = control_client.post(url("orch-1", "retry-task"), {"task_id": "1.1"}, format="json")

    assert response.status_code == 200


# -- If-Match ------------------------------------------------------------------------------------


def test_if_match_with_the_current_etag_is_accepted_and_answers_the_next_one(repo_root, orchestrator,
                                                                             control_client):
    etag = read_status(repo_root.layout.status_file("alpha", archived=False)).etag

    first = control_client.post(url("orch-1", "skip-task"), {"task_id": "1.1"}, format="json", HTTP_IF_MATCH=etag)
    second = control_client.post(url("orch-1", "retry-task"), {"task_id": "1.1"}, format="json",
                                 HTTP_IF_MATCH=first["ETag"])

    assert first.status_code == 200 and second.status_code == 200
    assert first["ETag"] != etag and second["ETag"] != first["ETag"]


def test_if_match_with_a_stale_etag_is_412_and_changes_nothing(repo_root, orchestrator, control_client):
    stale = read_status(repo_root.layout.status_file("alpha", archived=False)).etag
    control_client.post(url("orch-1", "skip-task"), {"task_id": "1.1"}, format="json")
    before = repo_root.layout.status_file("alpha", archived=False).read_bytes()

    response = control_client.post(url("orch-1", "skip-task"), {"task_id": "1.2"}, format="json",
                                   HTTP_IF_MATCH=stale)

    assert response.status_code == 412
    assert error_code(response) == "precondition_failed"
    assert repo_root.layout.status_file("alpha", archived=False).read_bytes() == before


def test_if_match_takes_the_status_etag_the_plan_status_endpoint_sends(repo_root, control_client):
    repo_root.status("alpha")
    status = control_client.get("/api/plans/alpha/status")
    etag = status.json()["status_etag"]

    response = control_client.post(plan_url("alpha", "1.1", "skip"), {}, format="json", HTTP_IF_MATCH=etag)

    assert response.status_code == 200
    assert control_client.get("/api/plans/alpha/status").json()["status_etag"] == response["ETag"]


def test_if_match_takes_the_status_etag_the_orchestrator_status_endpoint_sends(orchestrator, control_client):
    etag = control_client.get("/api/orchestrators/orch-1/status").json()["status_etag"]

    first = control_client.post(url("orch-1", "skip-task"), {"task_id": "1.1"}, format="json", HTTP_IF_MATCH=etag)
    stale = control_client.post(url("orch-1", "skip-task"), {"task_id": "1.2"}, format="json", HTTP_IF_MATCH=etag)

    assert (first.status_code, stale.status_code) == (200, 412)
    assert control_client.get("/api/orchestrators/orch-1/status").json()["status_etag"] == first["ETag"]


# -- per-plan skip and retry ---------------------------------------------------------------------


def test_plan_task_skip_and_retry_without_any_orchestrator(repo_root, control_client):
    repo_root.status("alpha", states={"2.1": {"status": "failed", "error": "flaky"}})

    skipped = control_client.post(plan_url("alpha", "1.2", "skip"), {"reason": "Done by hand."}, format="json")
    retried = control_client.post(plan_url("alpha", "2.1", "retry"))

    assert skipped.status_code == 200 and retried.status_code == 200
    assert stored_task(repo_root, "1.2")["skipReason"] == "Done by hand."
    assert stored_task(repo_root, "2.1")["status"] == "pending"
    assert stored_task(repo_root, "2.1")["retryCount"] == 1


def test_plan_never_run_gets_its_status_file_created_first(repo_root, control_client):
    repo_root.plan("fresh", {"Only": ["1.1 First", "[x] 1.2 Done already", "1.3 Third"]})

    response = control_client.post(plan_url("fresh", "1.3", "skip"), {}, format="json")

    assert response.status_code == 200
    data = json.loads(repo_root.layout.status_file("fresh", archived=False).read_text())
    assert [task["status"] for task in data["tasks"]] == ["pending", "pending", "skipped"]  # "[x]" is prose: status.json says what is done
    assert data["planPath"] == "docs/plans/fresh.md"


def test_plan_task_command_on_unknown_plan_is_404(repo_root, control_client):
    response = control_client.post(plan_url("nope", "1.1", "skip"), {}, format="json")

    assert response.status_code == 404
    assert error_code(response) == "plan_not_found"


def test_plan_task_command_with_malformed_task_id_is_400(repo_root, control_client):
    repo_root.status("alpha")

    response = control_client.post(plan_url("alpha", "1.x", "retry"))

    assert response.status_code == 400
    assert error_code(response) == "invalid_name"


def test_plan_task_retry_of_a_pending_task_is_409(repo_root, control_client):
    repo_root.status("alpha")

    response = control_client.post(plan_url("alpha", "1.1", "retry"))

    assert response.status_code == 409


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
