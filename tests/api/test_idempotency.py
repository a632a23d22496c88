"""Idempotency-Key: a repeated command gets the first answer and runs nothing again."""

import os
from datetime import timedelta

import pytest
from django.utils import timezone

from api.models import AuditEntry, IdempotencyRecord
from api.services.idempotency import PENDING, RESERVATION_TIMEOUT
from orchestrator.ipc import IPCServer
from tests.api.conftest import ScriptedOrchestrator, refused_writes
from tests.clients import make_user, token_client

pytestmark = pytest.mark.django_db

PAUSE = "/api/orchestrators/orch-1/pause"
SKIP = "/api/orchestrators/orch-1/skip-task"


def test_a_repeated_pause_is_answered_from_the_first_and_sent_once(orchestrator, control_client):
    first = control_client.post(PAUSE, HTTP_IDEMPOTENCY_KEY="k-1")
    second = control_client.post(PAUSE, HTTP_IDEMPOTENCY_KEY="k-1")

    assert first.status_code == second.status_code == 200
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true" and not first.has_header("Idempotent-Replayed")
    assert orchestrator.commands == [("pause", {})]


def test_a_repeated_skip_does_not_write_the_status_file_again(repo_root, orchestrator, control_client):
    status_file = repo_root.layout.status_file("alpha", archived=False)
    first = control_client.post(SKIP, {"task_id": "1.1", "reason": "r"}, format="json", HTTP_IDEMPOTENCY_KEY="s")
    written = status_file.read_bytes()

    second = control_client.post(SKIP, {"task_id": "1.1", "reason": "r"}, format="json", HTTP_IDEMPOTENCY_KEY="s")

    assert first.status_code == second.status_code == 200  # not 409 "already skipped"
    assert second.json() == first.json()
    assert status_file.read_bytes() == written


def test_a_refusal_is_replayed_too(orchestrator, control_client):
    orchestrator.state = "stopping"  # resume refused (a running one would ack)
    first = control_client.post("/api/orchestrators/orch-1/resume", HTTP_IDEMPOTENCY_KEY="r")
    orchestrator.state = "paused"  # would now succeed, but the key already has its answer

    second = control_client.post("/api/orchestrators/orch-1/resume", HTTP_IDEMPOTENCY_KEY="r")

    assert first.status_code == second.status_code == 409
    assert second.json() == first.json()
    assert orchestrator.state == "paused"


def test_the_same_key_with_a_different_body_is_422_and_runs_nothing(orchestrator, control_client, repo_root):
    control_client.post(SKIP, {"task_id": "1.1"}, format="json", HTTP_IDEMPOTENCY_KEY="same")
    before = repo_root.layout.status_file("alpha", archived=False).read_bytes()

    response = control_client.post(SKIP, {"task_id": "1.2"}, format="json", HTTP_IDEMPOTENCY_KEY="same")

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert repo_root.layout.status_file("alpha", archived=False).read_bytes() == before


def test_the_same_key_with_a_different_if_match_is_422(orchestrator, control_client):
    control_client.post(SKIP, {"task_id": "1.1"}, format="json", HTTP_IDEMPOTENCY_KEY="m", HTTP_IF_MATCH="*")

    response = control_client.post(SKIP, {"task_id": "1.1"}, format="json", HTTP_IDEMPOTENCY_KEY="m")

    assert response.status_code == 422


def test_a_body_that_means_the_same_is_the_same_request(orchestrator, control_client):
    control_client.post("/api/orchestrators/orch-1/shutdown", {}, format="json", HTTP_IDEMPOTENCY_KEY="d")

    again = control_client.post("/api/orchestrators/orch-1/shutdown", {"force": False}, format="json",
                                HTTP_IDEMPOTENCY_KEY="d")

    assert again.status_code == 200 and again["Idempotent-Replayed"] == "true"
    assert len(orchestrator.commands) == 1


def test_keys_are_scoped_by_path_and_by_user(orchestrator, control_client):
    control_client.post(PAUSE, HTTP_IDEMPOTENCY_KEY="shared")
    resumed = control_client.post("/api/orchestrators/orch-1/resume", HTTP_IDEMPOTENCY_KEY="shared")
    other_user = token_client(make_user("other", control=True)).post(PAUSE, HTTP_IDEMPOTENCY_KEY="shared")

    assert resumed.status_code == 200 and not resumed.has_header("Idempotent-Replayed")
    assert other_user.status_code == 200 and not other_user.has_header("Idempotent-Replayed")
    assert [command for command, _ in orchestrator.commands] == ["pause", "resume", "pause"]


def test_a_server_side_failure_releases_the_key_for_a_retry(repo_root, control_client, socket_dir):
    path = os.path.join(socket_dir, "late.sock")
    repo_root.registry([repo_root.instance(id="orch-1", socket_path=path)])

    unavailable = control_client.post(PAUSE, HTTP_IDEMPOTENCY_KEY="retry-me")
    scripted = ScriptedOrchestrator(path)
    with IPCServer(path, scripted.handle):
        retried = control_client.post(PAUSE, HTTP_IDEMPOTENCY_KEY="retry-me")

    assert unavailable.status_code == 503
    assert retried.status_code == 200 and not retried.has_header("Idempotent-Replayed")
    assert scripted.commands == [("pause", {})]


def test_a_key_whose_first_request_is_still_running_is_409(orchestrator, control_client):
    control_client.post(PAUSE, HTTP_IDEMPOTENCY_KEY="busy")
    IdempotencyRecord.objects.filter(key="busy").update(status_code=0, response_body={})

    response = control_client.post(PAUSE, HTTP_IDEMPOTENCY_KEY="busy")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_in_progress"
    assert len(orchestrator.commands) == 1


def test_a_reservation_left_by_a_killed_server_is_taken_over_after_the_timeout(orchestrator, control_client):
    # Found in the red-team pass: a server SIGKILLed mid-command leaves its reservation at status 0,
    # and every retry with that key got 409 for 24 hours. This is the row such a crash leaves.
    control_client.post(PAUSE, HTTP_IDEMPOTENCY_KEY="crashed")
    IdempotencyRecord.objects.filter(key="crashed").update(
        status_code=0, response_body={}, created_at=timezone.now() - RESERVATION_TIMEOUT - timedelta(seconds=1))

    retried = control_client.post(PAUSE, HTTP_IDEMPOTENCY_KEY="crashed")
    replayed = control_client.post(PAUSE, HTTP_IDEMPOTENCY_KEY="crashed")

    assert retried.status_code == 200 and not retried.has_header("Idempotent-Replayed")
    assert replayed.status_code == 200 and replayed["Idempotent-Replayed"] == "true"
    assert len(orchestrator.commands) == 2  # the lost first request, then the retry that took over


def test_an_expired_key_may_be_used_again(orchestrator, control_client):
    control_client.post(PAUSE, HTTP_IDEMPOTENCY_KEY="old")
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=25))

    again = control_client.post(PAUSE, HTTP_IDEMPOTENCY_KEY="old")

    assert again.status_code == 200 and not again.has_header("Idempotent-Replayed")
    assert len(orchestrator.commands) == 2


@pytest.mark.parametrize("key", ["", "has space", "x" * 201, "naïve"])
def test_a_malformed_key_is_400_and_runs_nothing(orchestrator, control_client, key):
    response = control_client.post(PAUSE, HTTP_IDEMPOTENCY_KEY=key)

    assert response.status_code == 400
    assert orchestrator.commands == []


def test_validation_errors_do_not_use_up_the_key(orchestrator, control_client):
    bad = control_client.post(SKIP, {}, format="json", HTTP_IDEMPOTENCY_KEY="v")
    good = control_client.post(SKIP, {"task_id": "1.1"}, format="json", HTTP_IDEMPOTENCY_KEY="v")

    assert bad.status_code == 400 and good.status_code == 200


def test_a_replay_is_audited_but_not_as_accepted(orchestrator, control_client):
    control_client.post(PAUSE, HTTP_IDEMPOTENCY_KEY="a")
    control_client.post(PAUSE, HTTP_IDEMPOTENCY_KEY="a")

    first, replay = AuditEntry.objects.order_by("id")
    assert first.accepted and not replay.accepted
    assert replay.status_code == 200 and replay.result["idempotent_replay"] is True
    assert (str(first), str(replay)) == ("controller pause orch-1 accepted", "controller pause orch-1 replayed (200)")


# Outside a test transaction, as a server runs: a failed write there does not doom the audit row's.
@pytest.mark.django_db(transaction=True)
def test_an_answer_that_cannot_be_stored_is_still_given(repo_root, orchestrator, control_client):
    # Found in the red-team pass: skips applied under `database is locked`, answered 500, so the
    # client would retry a command that ran.
    with refused_writes("UPDATE", IdempotencyRecord, "database is locked"):
        response = control_client.post(SKIP, {"task_id": "1.1", "reason": "r"}, format="json",
                                       HTTP_IDEMPOTENCY_KEY="k")

    assert response.status_code == 200 and response.json()["task"]["status"] == "skipped"
    assert AuditEntry.objects.get().status_code == 200
    # Unanswered, the key stays reserved until a retry takes it over after RESERVATION_TIMEOUT.
    assert IdempotencyRecord.objects.get().status_code == PENDING
