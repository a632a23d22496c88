"""Skip and retry, per orchestrator and per plan, on real status files: successes, If-Match and each failure path."""

import json

import pytest

from orchestrator.status import read_status

from .conftest import error_code, plan_url, stored_task, url

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(30)]


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
