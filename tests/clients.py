"""Users by permission and token clients, for every test that talks to the API as somebody."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


def make_user(username: str, *, control: bool = False, staff: bool = False, audit: bool = False,
              start: bool = False):
    user = get_user_model().objects.create_user(username, password=f"pw-{username}-123", is_staff=staff)
    wanted = (("control_orchestrator", control), ("view_auditentry", audit), ("start_orchestrator", start))
    codenames = [name for name, granted in wanted if granted]
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="api", codename__in=codenames))
    return user


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client
