"""/api/webhooks: list, create, delete; bad input and refused targets get the JSON error shape."""

import pytest

from notifications.models import Webhook
from tests.clients import make_user, token_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(db):
    return token_client(make_user("controller", control=True, staff=True))


def test_create_answers_the_secret_once_and_list_never_shows_it(client):
    created = client.post("/api/webhooks", {"url": "http://127.0.0.1:9/hook", "kinds": ["task_failed"],
                                            "plan": "alpha", "name": "chat"}, format="json")
    assert created.status_code == 201
    body = created.json()
    assert len(body["secret"]) >= 32 and body["kinds"] == ["task_failed"] and body["enabled"] is True
    assert Webhook.objects.get().secret == body["secret"]
    assert Webhook.objects.get().created_by.username == "controller"

    listed = client.get("/api/webhooks")
    assert listed.status_code == 200
    [one] = listed.json()
    assert "secret" not in one and one["url"] == "http://127.0.0.1:9/hook" and one["plan"] == "alpha"
    assert client.get(f"/api/webhooks/{one['id']}").json() == one


def test_kinds_default_to_the_ones_a_person_should_hear_about(client):
    body = client.post("/api/webhooks", {"url": "https://127.0.0.1/hook"}, format="json").json()
    assert body["kinds"] == ["task_failed", "retries_exhausted", "orchestrator_crashed", "plan_completed"]


def test_delete_removes_it(client):
    webhook_id = client.post("/api/webhooks", {"url": "http://127.0.0.1:9/"}, format="json").json()["id"]
    assert client.delete(f"/api/webhooks/{webhook_id}").status_code == 204
    assert not Webhook.objects.exists()
    assert client.delete(f"/api/webhooks/{webhook_id}").json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("payload, field", [
    ({"url": "not a url"}, "url"),
    ({"url": "http://127.0.0.1/", "kinds": ["task_exploded"]}, "kinds"),
    ({"url": "http://127.0.0.1/", "kinds": []}, "kinds"),
    ({"url": "http://127.0.0.1/", "secret": "short"}, "secret"),
])
def test_bad_input_is_400_with_the_field_named(client, payload, field):
    response = client.post("/api/webhooks", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["details"]["fields"]


@pytest.mark.parametrize("url", ["ftp://example.com/hook", "file:///etc/passwd", "gopher://127.0.0.1/"])
def test_other_schemes_are_refused(client, url):
    response = client.post("/api/webhooks", {"url": url}, format="json")
    assert response.status_code == 400
    assert not Webhook.objects.exists()


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/", "http://localhost/", "http://[::1]/",
                                 "http://169.254.169.254/latest/meta-data/", "http://10.0.0.8/",
                                 "http://192.168.1.1/", "http://[::ffff:127.0.0.1]/", "http://0.0.0.0/"])
def test_private_targets_are_refused_unless_the_environment_allows_them(client, monkeypatch, url):
    monkeypatch.delenv("ORCHESTRATOR_WEBHOOK_ALLOW_PRIVATE")
    response = client.post("/api/webhooks", {"url": url}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "webhook_target_refused"
    assert "ORCHESTRATOR_WEBHOOK_ALLOW_PRIVATE=1" in response.json()["error"]["message"]
    assert not Webhook.objects.exists()


def test_adding_and_deleting_are_audited_without_the_secret_or_the_url_path(client):
    from api.models import AuditEntry

    created = client.post("/api/webhooks", {"url": "http://127.0.0.1:9/hooks/T0123/SECRETPATH",
                                            "secret": "s3cr3t-s3cr3t-s3cr3t"}, format="json").json()
    client.delete(f"/api/webhooks/{created['id']}")
    added, deleted = AuditEntry.objects.order_by("id")
    assert (added.action, added.target, added.status_code, added.accepted) == (
        "webhook_add", f"{created['id']} http://127.0.0.1", 201, True)
    assert (deleted.action, deleted.target, deleted.status_code) == ("webhook_delete", str(created["id"]), 204)
    trail = str(added.result) + str(added.payload) + added.target
    assert "s3cr3t" not in trail and "SECRETPATH" not in trail and created["secret"] not in trail
