"""Who may start and clear: starting needs api.start_orchestrator, clearing api.control_orchestrator; refusals
start nothing, remove nothing, and are audited."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from api.models import AuditEntry
from orchestrator.registry import Registry
from tests.clients import make_user, token_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def plan(repo_root, dead_pid, settings):
    """A plan that could be started (the agent command would fail loudly if one ever were) and a
    stopped entry that could be cleared."""
    repo_root.plan("alpha")
    repo_root.registry([repo_root.instance(id="orch-1", status="stopped", pid=dead_pid)])
    settings.ORCHESTRATOR = {**settings.ORCHESTRATOR, "AGENT_CMD": "no-such-agent {prompt}"}
    return repo_root


def untouched(repo) -> bool:
    return [i.id for i in Registry(repo.layout.registry_path).list()] == ["orch-1"] \
        and not repo.layout.logs_dir("alpha").exists()


@pytest.mark.parametrize("who, start_code, clear_code", [
    ("anonymous", 401, 401),
    ("nobody", 403, 403),           # signed in, no permission
    ("controller_only", 403, None),  # may steer and clear, not start
    ("starter_only", None, 403),     # may start, not clear
])
def test_refused_requests_change_nothing(plan, who, start_code, clear_code):
    client = APIClient() if who == "anonymous" else token_client(make_user(
        who, control=who == "controller_only", start=who == "starter_only"))
    if start_code:
        response = client.post("/api/orchestrators", {"plan": "alpha"}, format="json")
        assert response.status_code == start_code
    if clear_code:
        assert client.delete("/api/orchestrators/orch-1").status_code == clear_code
    assert untouched(plan)
    refused = AuditEntry.objects.filter(accepted=False)
    assert refused.count() == (1 if start_code else 0) + (1 if clear_code else 0)


def test_the_start_permission_is_enough_to_reach_the_start(plan):
    client = token_client(make_user("starter", start=True))
    # Past the permission check: the (deliberately missing) agent is what refuses.
    assert client.post("/api/orchestrators", {"plan": "alpha"}, format="json").status_code == 503


def test_a_session_start_needs_the_csrf_token(plan):
    user = make_user("starter", start=True)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post("/api/orchestrators", {"plan": "alpha"}, content_type="application/json")
    assert response.status_code == 403 and "CSRF" in response.json()["error"]["message"]
    assert untouched(plan)


def test_create_local_user_may_start(plan):
    call_command("create_local_user", username="local", password="a-long-test-password-1", stdout=io.StringIO())
    assert get_user_model().objects.get(username="local").has_perm("api.start_orchestrator")
