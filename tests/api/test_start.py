"""POST /api/orchestrators starts a real orchestrator process; DELETE /api/orchestrators/{id} clears a finished one."""

import json
import os
import shlex
import signal
import threading
import time

import pytest

from api.services.launch import orchestrator_start
from orchestrator.agents import scripted
from orchestrator.errors import InvalidOrchestratorState, LockTimeout
from orchestrator.registry import Registry, is_alive
from tests.factories import RepoFactory

pytestmark = pytest.mark.django_db

WAIT_S = 30


def agent(delay: float) -> str:
    return shlex.join([*scripted.SCRIPTED_AGENT_CMD, "--delay", str(delay)])


def wait_for(condition, what: str, timeout: float = WAIT_S):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def launcher(repo_root, settings):
    """Starts go through the real `manage.py orchestrate` with the scripted agent; every process
    a test started is killed at the end, whatever the test left running."""
    repo_root.plan("alpha")
    # A real orchestrator on a busy machine may take longer than the suite's short IPC deadline to answer.
    settings.ORCHESTRATOR = {**settings.ORCHESTRATOR, "AGENT_CMD": agent(0.05), "START_TIMEOUT": WAIT_S,
                             "IPC_TIMEOUT": 5.0}
    yield repo_root
    for instance in Registry(repo_root.layout.registry_path).list():
        if instance.pid != os.getpid() and is_alive(instance):
            try:
                os.killpg(instance.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def slow(settings, delay: float = 5.0):
    settings.ORCHESTRATOR = {**settings.ORCHESTRATOR, "AGENT_CMD": agent(delay)}


def registry(repo: RepoFactory) -> Registry:
    return Registry(repo.layout.registry_path)


def test_start_answers_201_with_the_registered_instance_and_its_log(control_client, launcher):
    response = control_client.post("/api/orchestrators", {"plan": "alpha", "max_retries": 0}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert response["Location"].endswith(f"/api/orchestrators/{body['id']}")
    assert body["plan_name"] == "alpha" and body["is_alive"] and body["status"] == "running"
    entry = registry(launcher).get(body["id"])
    assert entry.pid == body["pid"]
    assert body["log_file"] == f"docs/plan-outputs/alpha/logs/{body['id']}.log"
    # It runs the plan to the end on its own, writing its output to the log.
    wait_for(lambda: registry(launcher).get(body["id"]).status == "stopped", "the run to finish")
    log = launcher.root / body["log_file"]
    wait_for(lambda: "plan complete" in log.read_text(), "the run's last words in its log")
    status = control_client.get("/api/plans/alpha/status").json()
    assert status["completed_tasks"] == status["total_tasks"] > 0


def test_the_orchestrator_runs_in_a_session_of_its_own(control_client, launcher, settings):
    slow(settings)
    body = control_client.post("/api/orchestrators", {"plan": "alpha"}, format="json").json()
    # Not in the server's process group or session: a Ctrl-C or SIGTERM to the server's group misses it.
    assert os.getsid(body["pid"]) == body["pid"] != os.getsid(0)


def test_second_start_of_a_running_plan_is_409_naming_the_live_one(control_client, launcher, settings):
    slow(settings)
    first = control_client.post("/api/orchestrators", {"plan": "alpha"}, format="json").json()
    response = control_client.post("/api/orchestrators", {"plan": "alpha"}, format="json")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "invalid_orchestrator_state"
    assert error["details"]["instance_id"] == first["id"] and first["id"] in error["message"]
    assert [i.id for i in registry(launcher).list()] == [first["id"]]


def test_of_two_simultaneous_starts_exactly_one_wins(launcher, settings):
    slow(settings)
    barrier = threading.Barrier(2)
    outcomes = []

    def start():
        barrier.wait()
        try:
            outcomes.append(orchestrator_start(layout=launcher.layout, plan="alpha", agent_cmd=agent(5.0),
                                               start_timeout=WAIT_S))
        except (InvalidOrchestratorState, LockTimeout) as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_S * 2)
    winners = [o for o in outcomes if not isinstance(o, Exception)]
    losers = [o for o in outcomes if isinstance(o, InvalidOrchestratorState)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    assert losers[0].details["instance_id"] == winners[0].id
    assert len(registry(launcher).list()) == 1


def test_dry_run_starts_nothing_and_says_what_would_run(control_client, launcher):
    response = control_client.post("/api/orchestrators", {"plan": "alpha", "dry_run": True}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["dry_run"] is True and body["exit_code"] == 0, body
    assert "Dry run" in body["output"] and "1.1" in body["output"], body
    assert registry(launcher).list() == []


@pytest.mark.parametrize("payload, field", [
    ({"plan": "alpha", "max_iterations": 0}, "max_iterations"),
    ({"plan": "alpha", "timeout": -1}, "timeout"),
    ({"plan": "alpha", "max_retries": "many"}, "max_retries"),
    ({"plan": "alpha", "dry_run": "maybe"}, "dry_run"),
    ({"plan": "alpha", "agent_cmd": "rm -rf /"}, "agent_cmd"),
    ({}, "plan"),
])
def test_bad_options_are_400_naming_the_field(control_client, launcher, payload, field):
    response = control_client.post("/api/orchestrators", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["details"]["fields"]
    assert registry(launcher).list() == []


def test_unknown_plan_is_404_and_a_malformed_name_400(control_client, launcher):
    assert control_client.post("/api/orchestrators", {"plan": "nope"}, format="json").status_code == 404
    assert control_client.post("/api/orchestrators", {"plan": "../etc"}, format="json").status_code == 400


def test_archived_plan_is_409(control_client, launcher):
    launcher.plan("old", archived=True)
    response = control_client.post("/api/orchestrators", {"plan": "old"}, format="json")
    assert response.status_code == 409 and "archived" in response.json()["error"]["message"]


def test_missing_agent_program_is_503_before_anything_starts(control_client, launcher, settings):
    settings.ORCHESTRATOR = {**settings.ORCHESTRATOR, "AGENT_CMD": "no-such-agent-program -p {prompt}"}
    response = control_client.post("/api/orchestrators", {"plan": "alpha"}, format="json")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "agent_unavailable"
    assert registry(launcher).list() == [] and not launcher.layout.logs_dir("alpha").exists()


def test_an_orchestrator_that_exits_before_registering_is_502_with_its_output(control_client, launcher):
    launcher.status("alpha", raw="{ not json")
    response = control_client.post("/api/orchestrators", {"plan": "alpha"}, format="json")
    assert response.status_code == 502, response.content
    error = response.json()["error"]
    assert error["code"] == "start_failed"
    assert error["details"]["exit_code"] != 0 and "status.json" in error["details"]["output_tail"]
    assert not os.path.isabs(error["details"]["log"])  # no server path in the answer
    assert registry(launcher).list() == []


def test_an_orchestrator_that_does_not_register_in_time_is_stopped_and_reported(control_client, launcher, settings):
    settings.ORCHESTRATOR = {**settings.ORCHESTRATOR, "START_TIMEOUT": 0.01}
    response = control_client.post("/api/orchestrators", {"plan": "alpha"}, format="json")
    assert response.status_code == 502
    assert "did not register within" in response.json()["error"]["message"]
    # Killed (and reaped) before the answer, so it cannot register later behind the client's back.
    assert all(not is_alive(i) for i in registry(launcher).list())


def test_idempotency_key_replays_the_start_without_a_second_process(control_client, launcher, settings):
    slow(settings)
    headers = {"HTTP_IDEMPOTENCY_KEY": "start-alpha-1"}
    first = control_client.post("/api/orchestrators", {"plan": "alpha"}, format="json", **headers)
    again = control_client.post("/api/orchestrators", {"plan": "alpha"}, format="json", **headers)
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert again["Location"] == first["Location"]
    assert len(registry(launcher).list()) == 1


def test_every_start_is_audited_with_its_plan(control_client, launcher, settings):
    from api.models import AuditEntry

    slow(settings)
    control_client.post("/api/orchestrators", {"plan": "alpha", "max_iterations": 3}, format="json")
    control_client.post("/api/orchestrators", {"plan": "alpha"}, format="json")
    started, refused = AuditEntry.objects.filter(action="start").order_by("id")
    assert (started.target, started.status_code, started.accepted) == ("alpha", 201, True)
    assert started.payload == {"plan": "alpha", "max_iterations": 3}
    assert (refused.status_code, refused.accepted) == (409, False)


# ---- DELETE ----------------------------------------------------------------------------------

def test_clear_removes_a_stopped_entry_and_keeps_the_others_as_written(control_client, repo_root, dead_pid):
    repo_root.plan("alpha")
    live = repo_root.instance(id="orch-2", plan_path="docs/plans/beta.md")
    extra = {"id": "odd", "note": "an entry another tool wrote"}
    repo_root.registry([repo_root.instance(id="orch-1", status="stopped", pid=dead_pid), live, extra],
                       extra={"toolVersion": 3})
    response = control_client.delete("/api/orchestrators/orch-1")
    assert response.status_code == 200 and response.json()["id"] == "orch-1"
    data = json.loads(repo_root.layout.registry_path.read_text())
    assert data["instances"] == [live, extra] and data["toolVersion"] == 3
    assert control_client.delete("/api/orchestrators/orch-1").status_code == 404


def test_clear_of_a_running_entry_whose_process_is_gone_is_allowed(control_client, repo_root, dead_pid):
    repo_root.registry([repo_root.instance(id="orch-1", status="running", pid=dead_pid)])
    assert control_client.delete("/api/orchestrators/orch-1").status_code == 200
    assert registry(repo_root).list() == []


def test_clear_of_a_live_orchestrator_is_409(control_client, orchestrator):
    response = control_client.delete("/api/orchestrators/orch-1")
    assert response.status_code == 409
    assert response.json()["error"]["details"]["state"] == "running"
    assert control_client.get("/api/orchestrators/orch-1").status_code == 200  # still registered


def test_start_follow_stop_and_clear_through_the_api(control_client, launcher, settings):
    slow(settings, 60.0)  # the run must still be going when the shutdown comes, however loaded the machine
    started = control_client.post("/api/orchestrators", {"plan": "alpha"}, format="json").json()
    url = f"/api/orchestrators/{started['id']}"
    assert control_client.delete(url).status_code == 409
    shutdown = control_client.post(f"{url}/shutdown", {"force": True}, format="json")
    assert shutdown.status_code == 200, shutdown.content
    wait_for(lambda: control_client.get(url).json()["status"] in ("stopped", "crashed"), "the shutdown")
    assert control_client.delete(url).status_code == 200
    assert control_client.get(url).status_code == 404
