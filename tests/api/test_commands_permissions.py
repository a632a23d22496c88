"""Who may steer: every command needs a user with api.control_orchestrator; nobody else touches anything."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.clients import make_user, token_client

pytestmark = pytest.mark.django_db

COMMANDS = [
    ("/api/orchestrators/orch-1/pause", {}),
    ("/api/orchestrators/orch-1/resume", {}),
    ("/api/orchestrators/orch-1/shutdown", {"force": True}),
    ("/api/orchestrators/orch-1/skip-task", {"task_id": "1.1", "reason": "no"}),
    ("/api/orchestrators/orch-1/retry-task", {"task_id": "1.2"}),
    ("/api/plans/alpha/tasks/1.1/skip", {"reason": "no"}),
    ("/api/plans/alpha/tasks/1.2/retry", {}),
]


@pytest.fixture
def target(orchestrator, repo_root):
    """A paused orchestrator (so every IPC command could succeed) and a plan where skip and retry could too."""
    orchestrator.state = "paused"
    repo_root.status("alpha", states={"1.2": "failed"})
    status_file = repo_root.layout.status_file("alpha", archived=False)

    class Target:
        commands = orchestrator.commands

        @staticmethod
        def untouched(before: bytes) -> bool:
            return not orchestrator.commands and status_file.read_bytes() == before

        @staticmethod
        def snapshot() -> bytes:
            return status_file.read_bytes()
    return Target


@pytest.mark.parametrize("path, body", COMMANDS)
def test_anonymous_command_is_401_and_touches_nothing(target, path, body):
    before = target.snapshot()

    response = APIClient().post(path, body, format="json")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json()["error"]["code"] == "not_authenticated"
    assert target.untouched(before)


@pytest.mark.parametrize("path, body", COMMANDS)
def test_anonymous_command_is_refused_even_when_reads_are_open(target, settings, path, body):
    settings.DEBUG = True
    settings.ORCHESTRATOR = {**settings.ORCHESTRATOR, "READS_REQUIRE_AUTH": "0"}
    before = target.snapshot()

    assert APIClient().get("/api/orchestrators").status_code == 200
    assert APIClient().post(path, body, format="json").status_code == 401
    assert target.untouched(before)


def test_a_wrong_token_is_401(target):
    before = target.snapshot()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")

    response = client.post("/api/orchestrators/orch-1/pause")

    assert response.status_code == 401
    assert target.untouched(before)


@pytest.mark.parametrize("path, body", COMMANDS)
def test_user_without_the_permission_is_403_and_touches_nothing(target, path, body):
    before = target.snapshot()
    client = token_client(make_user("reader"))

    response = client.post(path, body, format="json")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert target.untouched(before)


def test_staff_alone_is_not_enough(target):
    before = target.snapshot()

    response = token_client(make_user("staffer", staff=True)).post("/api/orchestrators/orch-1/shutdown")

    assert response.status_code == 403
    assert target.untouched(before)


@pytest.mark.parametrize("path, body", COMMANDS)
def test_staff_with_the_permission_may_send_every_command(target, control_client, path, body):
    response = control_client.post(path, body, format="json")

    assert response.status_code == 200, response.json()


def test_the_permission_works_for_a_non_staff_user_too(target):
    client = token_client(make_user("operator", control=True))

    assert client.post("/api/orchestrators/orch-1/resume").status_code == 200


def test_superuser_has_the_permission_implicitly(target):
    admin = get_user_model().objects.create_superuser("root", password="pw-root-123")
    assert token_client(admin).post("/api/orchestrators/orch-1/resume").status_code == 200


# -- sessions and CSRF ---------------------------------------------------------------------------


def _csrf_token(client: Client) -> str:
    client.get("/api-auth/login/")
    return client.cookies["csrftoken"].value


def test_session_post_without_csrf_token_is_403_and_touches_nothing(target, controller):
    before = target.snapshot()
    client = Client(enforce_csrf_checks=True)
    client.force_login(controller)

    response = client.post("/api/orchestrators/orch-1/resume")

    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]["message"]
    assert target.untouched(before)


def test_session_post_with_csrf_token_is_accepted(target, controller):
    client = Client(enforce_csrf_checks=True)
    client.force_login(controller)

    response = client.post("/api/orchestrators/orch-1/resume", HTTP_X_CSRFTOKEN=_csrf_token(client))

    assert response.status_code == 200
    assert target.commands == [("resume", {})]


def test_browsable_api_login_then_command_with_csrf(target, controller):
    client = Client(enforce_csrf_checks=True)
    token = _csrf_token(client)

    login = client.post("/api-auth/login/", {"username": "controller", "password": "pw-controller-123",
                                             "csrfmiddlewaretoken": token, "next": "/api/orchestrators"})
    assert login.status_code == 302 and login["Location"] == "/api/orchestrators"

    page = client.get("/api/orchestrators/orch-1/pause", HTTP_ACCEPT="text/html")
    assert page.status_code == 405 and b"<form" in page.content  # the browsable API offers the POST form

    response = client.post("/api/orchestrators/orch-1/resume", HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
    assert response.status_code == 200


def test_token_authenticated_posts_need_no_csrf_token(target, controller):
    """A token is not sent by browsers on their own, so it cannot be forged cross-site."""
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=controller).key}")

    assert client.post("/api/orchestrators/orch-1/resume").status_code == 200
