"""The fields and commands of upstream's tools come through: lastError/skipReason, ?force=true, paused, progress."""

import io
import json
import os
from pathlib import Path

import pytest
from django.core.management import call_command

from orchestrator.engine import EXIT_OK, FORCED_KILL_ERROR, Engine, EngineConfig
from orchestrator.ipc import IPCServer
from orchestrator.status import read_status
from tests.engine_support import AGENT_CMD, AGENT_ENV, EventRecorder, engine_thread, short_socket_path

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(40)]


def tasks_of(client, plan="alpha") -> dict:
    response = client.get(f"/api/plans/{plan}/tasks")
    assert response.status_code == 200
    return {task["id"]: task for task in response.json()}


def test_last_error_and_skip_reason_are_read_from_upstreams_keys_then_older_ones(repo_root, control_client):
    repo_root.status("alpha", states={
        "1.1": {"status": "failed", "lastError": "upstream's", "error": "older"},
        "1.2": {"status": "failed", "error": "only the older key"},
        "2.1": {"status": "skipped", "skipReason": "library's"},
        "2.2": {"status": "skipped", "reason": "status-cli mark-skipped --reason"},
    })

    tasks = tasks_of(control_client)

    assert [tasks[i]["last_error"] for i in ("1.1", "1.2")] == ["upstream's", "only the older key"]
    assert [tasks[i]["skip_reason"] for i in ("2.1", "2.2")] == ["library's", "status-cli mark-skipped --reason"]


def test_retry_leaves_no_error_of_either_spelling_behind(repo_root, control_client):
    repo_root.status("alpha", states={"1.1": {"status": "failed", "lastError": "boom", "error": "boom"}})

    response = control_client.post("/api/plans/alpha/tasks/1.1/retry")

    assert response.status_code == 200 and response.json()["task"]["last_error"] is None
    stored = read_status(repo_root.layout.status_file("alpha", archived=False)).tasks[0]
    assert stored["status"] == "pending" and not {"lastError", "error"} & stored.keys()


def test_progress_is_completed_over_total_and_skipped_has_its_own_count(repo_root, control_client):
    repo_root.plan("alpha")
    repo_root.status("alpha", states={"1.1": "completed", "1.2": "skipped"}, tasks=[
        {"id": f"1.{n}", "phase": "Phase 1: A", "description": "d", "status": "pending"} for n in (1, 2, 3)])

    status = control_client.get("/api/plans/alpha/status").json()

    assert (status["progress_percent"], status["completed_tasks"], status["skipped_tasks"]) == (33.3, 1, 1)
    assert status["phases"][0]["progress_percent"] == 33.3


@pytest.fixture
def hanging_engine(repo_root, settings):
    """A real orchestrator whose agent never finishes task 1.1 by itself."""
    settings.ORCHESTRATOR = {**settings.ORCHESTRATOR, "IPC_TIMEOUT": 5.0}
    repo_root.plan("long", {"Work": ["1.1 Hang", "1.2 Next"]})
    engine = Engine(EngineConfig(repo_root=repo_root.root, plan_path=Path("docs/plans/long.md"),
                                 agent_cmd=list(AGENT_CMD), agent_env={**AGENT_ENV, "SCRIPTED_AGENT_HANG_TASKS": "1.1"},
                                 timeout=60, socket_path=short_socket_path()))
    recorder = EventRecorder(engine.bus)
    with engine_thread(engine) as running:
        recorder.wait_for(lambda e: e.type == "tool_started", message="the agent to start")
        yield running


def test_force_in_the_query_string_kills_a_busy_agent_at_once(hanging_engine, control_client):
    engine, thread, outcome = hanging_engine

    response = control_client.post(f"/api/orchestrators/{engine.instance_id}/shutdown?force=true")

    assert response.status_code == 200, response.content
    assert response.json()["message"] == "Stopping now; killing the agent on task 1.1."
    thread.join(20)  # the agent would hang for ever: only the kill ends this run
    assert not thread.is_alive() and outcome["code"] == EXIT_OK
    task = read_status(engine.status_path).tasks[0]
    assert (task["status"], task["lastError"]) == ("failed", FORCED_KILL_ERROR)


def test_malformed_force_in_the_query_string_is_a_400(orchestrator, control_client):
    response = control_client.post("/api/orchestrators/orch-1/shutdown?force=perhaps")

    assert response.status_code == 400
    assert "force" in response.json()["error"]["details"]["fields"]
    assert orchestrator.commands == []


def test_an_upstream_orchestrator_shows_as_paused_in_the_list_command_and_the_api(repo_root, socket_dir,
                                                                                   control_client):
    """Upstream's `status` reply has no `state`, only `paused` (and `shutdown_requested`)."""
    reply = {"instance_id": "orch-7", "plan_path": "docs/plans/alpha.md", "progress": 25.0, "completed": 1,
             "total": 4, "iteration": 3, "paused": True, "shutdown_requested": False}
    repo_root.plan("alpha")
    with IPCServer(os.path.join(socket_dir, "up.sock"), lambda command, payload: reply) as server:
        repo_root.registry([repo_root.instance(id="orch-7", socket_path=server.socket_path)])
        out = io.StringIO()
        call_command("orchestrators", "--repo-root", str(repo_root.root), "list", "--json", stdout=out)
        api = control_client.get("/api/orchestrators/orch-7/status").json()

    [row] = json.loads(out.getvalue())
    assert row["state"] == "paused"
    assert api["status"] == "paused"
