"""`create_local_user`: one command yields a staff user with the control permission and a working token."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token

pytestmark = pytest.mark.django_db


def _run(*args) -> str:
    out = StringIO()
    call_command("create_local_user", *args, stdout=out)
    return out.getvalue()


def test_creates_staff_user_with_control_permission_and_prints_token():
    output = _run()
    user = get_user_model().objects.get(username="local")
    token = Token.objects.get(user=user)
    assert user.is_staff and not user.is_superuser
    assert user.has_perm("api.control_orchestrator")
    assert user.has_perm("api.view_auditentry")
    assert f"Token: {token.key}" in output
    assert "Password (shown once" in output
    assert user.has_usable_password()


def test_running_twice_reuses_user_token_and_password():
    _run("--username", "alice", "--password", "a-long-local-passphrase")
    token_first = _run("--username", "alice", "--token-only").strip()
    token_second = _run("--username", "alice", "--token-only").strip()
    user = get_user_model().objects.get(username="alice")
    assert token_first == token_second == Token.objects.get(user=user).key
    assert user.check_password("a-long-local-passphrase")
    assert get_user_model().objects.filter(username="alice").count() == 1


def test_token_only_prints_just_the_token():
    assert _run("--token-only").strip() == Token.objects.get(user__username="local").key


def test_weak_password_is_refused():
    with pytest.raises(CommandError):
        _run("--password", "123")
