"""The audit trail: every command, accepted or refused, is stored and shown to staff, newest first."""

import pytest
from rest_framework.test import APIClient

from api.models import AuditEntry, IdempotencyRecord
from tests.api.conftest import refused_writes
from tests.clients import make_user, token_client

pytestmark = pytest.mark.django_db


def only_entry() -> AuditEntry:
    [entry] = AuditEntry.objects.all()
    return entry


def test_an_accepted_command_records_who_when_what_target_and_result(orchestrator, control_client, controller):
    response = control_client.post("/api/orchestrators/orch-1/pause", REMOTE_ADDR="10.0.0.7")

    entry = only_entry()
    assert (entry.user, entry.username, entry.remote_addr) == (controller, "controller", "10.0.0.7")
    assert (entry.action, entry.target_type, entry.target, entry.task_id) == ("pause", "orchestrator", "orch-1", "")
    assert entry.accepted and entry.status_code == 200
    assert entry.result == response.json()
    assert entry.created_at is not None


def test_a_task_command_records_the_task_and_the_body(orchestrator, control_client):
    control_client.post("/api/orchestrators/orch-1/skip-task", {"task_id": "2.1", "reason": "later"}, format="json")

    entry = only_entry()
    assert (entry.action, entry.task_id, entry.payload) == ("skip_task", "2.1", {"task_id": "2.1", "reason": "later"})
    assert entry.result["task"]["status"] == "skipped"


def test_a_plan_command_records_the_plan_and_the_task_from_the_path(repo_root, control_client):
    repo_root.status("alpha", states={"1.1": "failed"})

    control_client.post("/api/plans/alpha/tasks/1.1/retry")

    entry = only_entry()
    assert (entry.action, entry.target_type, entry.target, entry.task_id) == ("retry_task", "plan", "alpha", "1.1")
    assert entry.accepted


def test_an_anonymous_refusal_is_recorded(orchestrator):
    APIClient().post("/api/orchestrators/orch-1/shutdown", {"force": True}, format="json", REMOTE_ADDR="192.0.2.9")

    entry = only_entry()
    assert (entry.user, entry.username, entry.remote_addr) == (None, "", "192.0.2.9")
    assert (entry.action, entry.accepted, entry.status_code) == ("shutdown", False, 401)
    assert entry.payload == {}  # a refused client's body is never parsed
    assert entry.result["error"]["code"] == "not_authenticated"


def test_a_refusal_for_missing_permission_names_the_user(orchestrator):
    token_client(make_user("mallory")).post("/api/orchestrators/orch-1/pause")

    entry = only_entry()
    assert (entry.username, entry.accepted, entry.status_code) == ("mallory", False, 403)


@pytest.mark.parametrize("path, body, status, code", [
    ("/api/orchestrators/orch-1/skip-task", {}, 400, "invalid"),
    ("/api/orchestrators/orch-1/skip-task", {"task_id": "x"}, 400, "invalid_name"),
    ("/api/orchestrators/orch-1/retry-task", {"task_id": "1.1"}, 409, "invalid_task_state"),
    ("/api/orchestrators/orch-9/pause", {}, 404, "instance_not_found"),
    ("/api/plans/alpha/tasks/9.9/skip", {}, 404, "task_not_found"),
])
def test_validation_and_state_refusals_are_recorded(orchestrator, control_client, path, body, status, code):
    control_client.post(path, body, format="json")

    entry = only_entry()
    assert (entry.accepted, entry.status_code, entry.result["error"]["code"]) == (False, status, code)


def test_an_unreachable_orchestrator_is_recorded(repo_root, control_client, dead_pid):
    repo_root.registry([repo_root.instance(id="orch-1", pid=dead_pid)])

    control_client.post("/api/orchestrators/orch-1/pause")

    assert (only_entry().status_code, only_entry().result["error"]["code"]) == (503, "orchestrator_unavailable")


def test_an_unexpected_server_error_is_recorded(orchestrator, controller):
    client = token_client(controller)
    client.raise_request_exception = False

    with refused_writes("INSERT INTO", IdempotencyRecord, "disk I/O error"):  # the key cannot be reserved
        response = client.post("/api/orchestrators/orch-1/pause", HTTP_IDEMPOTENCY_KEY="k")

    assert response.status_code == 500 and orchestrator.commands == []
    assert (only_entry().status_code, only_entry().accepted) == (500, False)


def test_reads_are_not_audited(orchestrator, control_client):
    control_client.get("/api/orchestrators/orch-1")
    control_client.get("/api/orchestrators/orch-1/pause")  # 405: not a command

    assert not AuditEntry.objects.exists()


# -- GET /api/audit ------------------------------------------------------------------------------


@pytest.fixture
def trail(orchestrator, control_client):
    """Four commands, oldest first: pause and resume accepted, resume refused (409), anonymous shutdown (401)."""
    control_client.post("/api/orchestrators/orch-1/pause")
    control_client.post("/api/orchestrators/orch-1/resume")
    orchestrator.state = "stopping"
    control_client.post("/api/orchestrators/orch-1/resume")  # 409: stopping
    APIClient().post("/api/orchestrators/orch-1/shutdown")  # 401
    return AuditEntry.objects.order_by("id")


def test_audit_list_is_newest_first_and_paginated(trail, control_client):
    response = control_client.get("/api/audit", {"page_size": 3})

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 4 and body["next"] and body["previous"] is None
    assert [entry["action"] for entry in body["results"]] == ["shutdown", "resume", "resume"]
    assert body["results"][0]["status_code"] == 401 and body["results"][0]["username"] == ""
    second = control_client.get(body["next"]).json()
    assert [entry["action"] for entry in second["results"]] == ["pause"]


def test_audit_list_filters(trail, control_client):
    def actions(**query):
        return [entry["action"] for entry in control_client.get("/api/audit", query).json()["results"]]

    assert actions(action="resume") == ["resume", "resume"]
    assert actions(target="orch-1", accepted="false") == ["shutdown", "resume"]
    assert actions(target="orch-2") == []
    assert actions(username="controller", accepted="true") == ["resume", "pause"]


def test_audit_list_refuses_an_unknown_action_filter(trail, control_client):
    response = control_client.get("/api/audit", {"action": "format_disk"})

    assert response.status_code == 400


def test_audit_list_is_for_staff_only(trail):
    assert APIClient().get("/api/audit").status_code == 401
    assert token_client(make_user("operator", control=True)).get("/api/audit").status_code == 403


@pytest.mark.parametrize("audit", [False, True])
def test_the_admin_and_the_api_agree_on_who_may_read_the_trail(trail, client, audit):
    # Found in the red-team pass: staff without view_auditentry got 403 in the admin, 200 here.
    staff = make_user("staffer", staff=True, audit=audit)
    client.force_login(staff)

    expected = 200 if audit else 403
    assert client.get("/admin/api/auditentry/").status_code == expected
    assert token_client(staff).get("/api/audit").status_code == expected


def test_audit_trail_is_in_the_admin_and_read_only(trail, client):
    admin = make_user("auditor", staff=True, audit=True)
    client.force_login(admin)
    entry = trail.first()

    listing = client.get("/admin/api/auditentry/")
    detail = client.get(f"/admin/api/auditentry/{entry.pk}/change/")

    assert listing.status_code == 200 and b"controller" in listing.content
    assert detail.status_code == 200 and b"Save" not in detail.content
    assert client.get("/admin/api/auditentry/add/").status_code == 403
    assert client.post(f"/admin/api/auditentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_a_failing_audit_write_is_logged_and_does_not_hide_a_command_that_ran(orchestrator, control_client, caplog):
    with refused_writes("INSERT INTO", AuditEntry, "disk I/O error"):
        response = control_client.post("/api/orchestrators/orch-1/pause")

    assert response.status_code == 200 and orchestrator.commands == [("pause", {})]
    assert "Audit entry not stored" in caplog.text and "'target': 'orch-1'" in caplog.text
