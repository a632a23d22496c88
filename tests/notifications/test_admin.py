"""The admin: the local user adds a webhook, and reads each delivery's attempts."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from notifications.models import Delivery, Webhook
from notifications.sender import Outcome
from notifications.services import attempt_record, deliveries_enqueue, webhook_create

from .helpers import task_failed

pytestmark = pytest.mark.django_db


@pytest.fixture
def local_admin():
    call_command("create_local_user", "--password", "a-long-local-password", "--token-only", stdout=io.StringIO())
    client = Client()
    client.force_login(get_user_model().objects.get(username="local"))
    return client


def test_the_local_user_adds_a_webhook_in_the_admin(local_admin):
    page = local_admin.get("/admin/notifications/webhook/add/")
    assert page.status_code == 200 and b"Task failed" in page.content
    response = local_admin.post("/admin/notifications/webhook/add/", {
        "name": "team chat", "url": "http://127.0.0.1:9/hook", "kinds": ["task_failed", "orchestrator_crashed"],
        "plan": "", "enabled": "on", "secret": "s" * 40})
    assert response.status_code == 302, response.content
    webhook = Webhook.objects.get()
    assert webhook.kinds == ["task_failed", "orchestrator_crashed"] and webhook.created_by.username == "local"


def test_the_admin_refuses_a_private_target_without_the_environment_switch(local_admin, monkeypatch):
    monkeypatch.delenv("ORCHESTRATOR_WEBHOOK_ALLOW_PRIVATE")
    response = local_admin.post("/admin/notifications/webhook/add/", {
        "url": "http://127.0.0.1:9/hook", "kinds": ["task_failed"], "enabled": "on", "secret": "s" * 40})
    assert response.status_code == 200 and b"loopback address" in response.content
    assert not Webhook.objects.exists()


def test_switching_a_disabled_webhook_on_again_clears_its_reason(local_admin):
    webhook = webhook_create(url="http://127.0.0.1:9/hook", kinds=["task_failed"], enabled=False)
    Webhook.objects.filter(pk=webhook.pk).update(disabled_reason="Switched off after 5 ...", failing_streak=5)
    response = local_admin.post(f"/admin/notifications/webhook/{webhook.pk}/change/", {
        "url": webhook.url, "kinds": ["task_failed"], "enabled": "on", "secret": webhook.secret})
    assert response.status_code == 302
    webhook.refresh_from_db()
    assert (webhook.enabled, webhook.disabled_reason, webhook.failing_streak) == (True, "", 0)


def test_the_delivery_log_shows_every_attempt(local_admin):
    webhook_create(url="http://127.0.0.1:9/hook", kinds=["task_failed"])
    deliveries_enqueue(event=task_failed(), plan="alpha", now=timezone.now())
    delivery = Delivery.objects.get()
    for outcome in (Outcome(500, 12.5, "HTTP 500", retryable=True), Outcome(200, 8.25)):
        attempt_record(delivery_id=delivery.pk, outcome=outcome, started_at=timezone.now(), now=timezone.now())

    listing = local_admin.get("/admin/notifications/delivery/")
    assert listing.status_code == 200 and b"delivered" in listing.content
    page = local_admin.get(f"/admin/notifications/delivery/{delivery.pk}/change/")
    assert page.status_code == 200
    assert b"HTTP 500" in page.content and b"12.5 ms" in page.content and b"8.2 ms" in page.content
    assert local_admin.get("/admin/notifications/webhook/").status_code == 200
