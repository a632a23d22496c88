"""GET /api/orchestrators, /{id} and /{id}/status: registry, pid liveness and the IPC status probe."""

import json
import os
import threading
import time

import pytest

from orchestrator.clock import iso, utc_now
from orchestrator.ipc import IPCServer, default_socket_path

pytestmark = pytest.mark.usefixtures("open_reads")


def get(client, path):
    response = client.get(path)
    return response, json.loads(response.content)


def status_server(socket_dir, reply: dict, *, hold: threading.Event | None = None) -> IPCServer:
    """A real IPC server answering `status` with `reply` (only once `hold` is set, if given)."""
    def handle(command, payload):
        if hold is not None:
            hold.wait(30)
        return reply if command == "status" else {"error": "read-only test server"}
    server = IPCServer(os.path.join(socket_dir, "o.sock"), handle)
    server.start()
    return server


def test_list_shows_registry_entries_with_liveness_and_staleness(client, repo, dead_pid):
    repo.registry([
        repo.instance(id="orch-1", last_heartbeat=iso(utc_now())),
        repo.instance(id="orch-2", pid=dead_pid, plan_path="/elsewhere/docs/plans/archive/beta.md"),
    ])

    response, body = get(client, "/api/orchestrators")

    assert response.status_code == 200
    first, second = body
    assert first["id"] == "orch-1" and first["plan_name"] == "alpha"
    assert (first["is_alive"], first["is_stale"]) == (True, False)
    assert (second["is_alive"], second["is_stale"], second["plan_name"]) == (False, True, "beta")
    assert set(first) == {"id", "pid", "plan_path", "plan_name", "worktree_path", "started_at", "last_heartbeat",
                          "status", "socket_path", "port", "is_alive", "is_stale"}


def test_list_without_registry_is_empty(client, repo):
    response, body = get(client, "/api/orchestrators")

    assert response.status_code == 200 and body == []


def test_corrupt_registry_is_503(client, repo):
    repo.registry(raw='{"instances": [')

    for path in ("/api/orchestrators", "/api/orchestrators/orch-1", "/api/orchestrators/orch-1/status"):
        response, body = get(client, path)
        assert response.status_code == 503, path
        assert body["error"]["code"] == "registry_unavailable"


def test_detail_and_its_failures(client, repo):
    repo.registry([repo.instance(id="orch-1")])

    assert get(client, "/api/orchestrators/orch-1")[1]["id"] == "orch-1"
    response, body = get(client, "/api/orchestrators/orch-9")
    assert (response.status_code, body["error"]["code"]) == (404, "instance_not_found")
    response, body = get(client, "/api/orchestrators/..")
    assert (response.status_code, body["error"]["code"]) == (400, "invalid_name")


def test_status_of_a_live_instance_comes_from_files_and_ipc(client, repo, socket_dir):
    repo.status("alpha", states={"1.1": "completed", "1.2": "in_progress"})
    server = status_server(socket_dir, {"instance_id": "orch-1", "paused": False, "state": "running",
                                        "iteration": 3, "max_iterations": 50, "current_task": {"id": "1.2"}})
    try:
        repo.registry([repo.instance(id="orch-1", socket_path=server.socket_path)])
        response, status = get(client, "/api/orchestrators/orch-1/status")
    finally:
        server.stop()

    assert response.status_code == 200
    assert (status["status"], status["reachable"], status["iteration"], status["max_iterations"]) == (
        "running", True, 3, 50)
    assert status["current_task"] == "1.2"
    assert (status["total_tasks"], status["completed_tasks"], status["in_progress_tasks"]) == (4, 1, 1)
    assert status["progress_percent"] == 25.0
    assert status["plan_name"] == "alpha" and status["started_at"] == "2025-01-02T03:04:05Z"
    assert [task["id"] for task in status["tasks"]] == ["1.1", "1.2", "2.1", "2.2"]
    assert [phase["phase"] for phase in status["phases"]] == ["Phase 1: Setup", "Phase 2: Build"]


def test_paused_comes_from_the_ipc_status_reply(client, repo, socket_dir):
    repo.status("alpha")
    # An older orchestrator: no `state` key, only the ecosystem's `paused` flag.
    server = status_server(socket_dir, {"instance_id": "orch-1", "paused": True, "iteration": 1})
    try:
        repo.registry([repo.instance(id="orch-1", socket_path=server.socket_path)])
        _, status = get(client, "/api/orchestrators/orch-1/status")
    finally:
        server.stop()

    assert status["status"] == "paused" and status["reachable"] is True


def test_without_a_registered_socket_the_default_socket_is_probed(client, repo):
    repo.status("alpha")
    instance_id = f"orch-{os.getpid()}{time.monotonic_ns()}"
    server = IPCServer(default_socket_path(instance_id), lambda command, payload: {"paused": True})
    server.start()
    try:
        repo.registry([repo.instance(id=instance_id, socket_path=None)])
        _, status = get(client, f"/api/orchestrators/{instance_id}/status")
    finally:
        server.stop()

    assert (status["status"], status["reachable"]) == ("paused", True)


def test_dead_pid_of_a_running_instance_is_crashed(client, repo, dead_pid):
    repo.status("alpha")
    repo.registry([repo.instance(id="orch-1", pid=dead_pid, status="running")])

    _, status = get(client, "/api/orchestrators/orch-1/status")

    assert (status["status"], status["is_alive"], status["reachable"]) == ("crashed", False, False)
    assert status["iteration"] is None


def test_unreachable_ipc_falls_back_to_the_registry_state(client, repo, socket_dir):
    repo.status("alpha")
    repo.registry([repo.instance(id="orch-1", socket_path=os.path.join(socket_dir, "nobody.sock"))])

    response, status = get(client, "/api/orchestrators/orch-1/status")

    assert response.status_code == 200
    assert (status["status"], status["reachable"]) == ("running", False)


def test_a_stuck_orchestrator_delays_the_status_only_by_the_short_timeout(client, repo, socket_dir, settings):
    settings.ORCHESTRATOR = {**settings.ORCHESTRATOR, "STATUS_IPC_TIMEOUT": 0.3}
    repo.status("alpha")
    answered_late = threading.Event()
    server = status_server(socket_dir, {"paused": True}, hold=answered_late)
    try:
        repo.registry([repo.instance(id="orch-1", socket_path=server.socket_path)])
        started = time.monotonic()
        response, status = get(client, "/api/orchestrators/orch-1/status")
        elapsed = time.monotonic() - started
    finally:
        answered_late.set()  # only now: a read that waited for the reply would have said "paused"
        server.stop()

    assert response.status_code == 200
    assert (status["status"], status["reachable"]) == ("running", False)
    # Not a speed figure: far above the 0.3 s deadline, far below the default 10 s and the 30 s hold.
    assert elapsed < 5


def test_stopped_instance_is_not_probed(client, repo, socket_dir):
    repo.status("alpha")
    server = status_server(socket_dir, {"state": "running"})
    try:
        repo.registry([repo.instance(id="orch-1", status="stopped", socket_path=server.socket_path)])
        _, status = get(client, "/api/orchestrators/orch-1/status")
    finally:
        server.stop()

    assert (status["status"], status["reachable"]) == ("stopped", False)


def test_status_before_the_first_run_counts_the_markdown(client, repo):
    repo.plan("alpha", {"Setup": ["[x] 1.1 Done", "1.2 Open"]})
    repo.registry([repo.instance(id="orch-1")])

    _, status = get(client, "/api/orchestrators/orch-1/status")

    assert (status["total_tasks"], status["completed_tasks"], status["pending_tasks"]) == (2, 0, 2)


def test_status_of_an_instance_whose_plan_is_gone_has_no_tasks(client, repo):
    repo.registry([repo.instance(id="orch-1", plan_path="docs/plans/vanished.md")])

    response, status = get(client, "/api/orchestrators/orch-1/status")

    assert response.status_code == 200
    assert (status["total_tasks"], status["tasks"], status["progress_percent"]) == (0, [], 0.0)


def test_archived_plan_path_reads_the_archive_status(client, repo):
    repo.status("old", archived=True, states={"1.1": "completed"})
    repo.registry([repo.instance(id="orch-1", plan_path=str(repo.root / "docs/plans/archive/old.md"))])

    _, status = get(client, "/api/orchestrators/orch-1/status")

    assert status["completed_tasks"] == 1 and status["plan_name"] == "old"


def test_corrupt_status_file_of_an_instance_is_503(client, repo):
    repo.plan("alpha")
    repo.status("alpha", raw="{")
    repo.registry([repo.instance(id="orch-1")])

    response, body = get(client, "/api/orchestrators/orch-1/status")

    assert (response.status_code, body["error"]["code"]) == (503, "status_file_corrupt")


def test_a_status_read_right_after_a_command_shows_its_outcome(orchestrator, control_client):
    # Live reads are reused briefly, and the probe's reply too; a command outdates both.
    assert control_client.get("/api/orchestrators/orch-1/status").json()["status"] == "running"

    assert control_client.post("/api/orchestrators/orch-1/pause").status_code == 200

    assert control_client.get("/api/orchestrators/orch-1/status").json()["status"] == "paused"

