"""Webhooks carry secrets and make the server send requests: only users who may steer orchestrators."""

import pytest
from rest_framework.test import APIClient

from notifications.services import webhook_create
from tests.clients import make_user, token_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def webhook():
    return webhook_create(url="http://127.0.0.1:9/hook", kinds=["task_failed"])


@pytest.mark.parametrize("method, path", [("get", "/api/webhooks"), ("post", "/api/webhooks"),
                                          ("get", "/api/webhooks/{id}"), ("delete", "/api/webhooks/{id}")])
def test_anonymous_clients_get_401_even_with_open_reads(webhook, method, path):
    response = getattr(APIClient(), method)(path.format(id=webhook.pk), {"url": "http://127.0.0.1/"}, format="json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.parametrize("method, path", [("get", "/api/webhooks"), ("post", "/api/webhooks"),
                                          ("delete", "/api/webhooks/{id}")])
def test_users_without_the_control_permission_get_403(webhook, method, path):
    client = token_client(make_user("reader", staff=True))
    response = getattr(client, method)(path.format(id=webhook.pk), {"url": "http://127.0.0.1/"}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
