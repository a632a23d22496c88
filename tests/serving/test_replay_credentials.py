"""The replay and credentials: a token or session Django accepted moments ago is replayed to, until it is revoked."""

import time

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from rest_framework.authtoken.models import Token

from api.credentials import CREDENTIAL_TTL_S
from serving.replay import ReplayASGI
from tests.clients import make_user

from .conftest import CountingASGI, asgi_call, call

# Django's request_started handler touches the database connection, in the thread the request runs in.
pytestmark = [pytest.mark.usefixtures("open_reads"), pytest.mark.django_db(transaction=True)]

ORIGIN = "http://localhost:3000"  # one of the default CORS origins


@pytest.fixture
def user_token(db):
    user = make_user("reader")
    return user, Token.objects.create(user=user).key


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return f"csrftoken={'a' * 32}; sessionid={client.cookies['sessionid'].value}"  # as a browser holds them


def test_a_token_just_accepted_is_replayed_to_until_deleted(wsgi, django_wsgi, repo, user_token):
    repo.status("alpha")
    user, key = user_token

    first = call(wsgi, "/api/plans/alpha/tasks", HTTP_AUTHORIZATION=f"Token {key}")
    second = call(wsgi, "/api/plans/alpha/tasks", HTTP_AUTHORIZATION=f"Token {key}")
    assert first == second and first[0] == 200 and django_wsgi.calls == 1

    Token.objects.filter(key=key).delete()
    assert call(wsgi, "/api/plans/alpha/tasks", HTTP_AUTHORIZATION=f"Token {key}")[0] == 401
    assert django_wsgi.calls == 2


def test_a_token_is_forgotten_when_its_user_changes(wsgi, django_wsgi, repo, user_token):
    repo.status("alpha")
    user, key = user_token
    call(wsgi, "/api/plans", HTTP_AUTHORIZATION=f"Token {key}")

    user.is_active = False
    user.save()

    assert call(wsgi, "/api/plans", HTTP_AUTHORIZATION=f"Token {key}")[0] == 401 and django_wsgi.calls == 2


def test_another_token_is_checked_by_django_before_it_shares_the_entry(wsgi, django_wsgi, repo, user_token):
    repo.status("alpha")
    _, key = user_token
    other = Token.objects.create(user=make_user("other")).key
    call(wsgi, "/api/plans", HTTP_AUTHORIZATION=f"Token {key}")

    call(wsgi, "/api/plans", HTTP_AUTHORIZATION=f"Token {other}")
    call(wsgi, "/api/plans", HTTP_AUTHORIZATION=f"Token {other}")

    assert django_wsgi.calls == 2


def test_a_token_revoked_elsewhere_is_refused_once_its_time_is_up(wsgi, django_wsgi, repo, user_token,
                                                                    monkeypatch):
    repo.status("alpha")
    _, key = user_token
    call(wsgi, "/api/plans", HTTP_AUTHORIZATION=f"Token {key}")
    tokens = Token.objects.filter(key=key)
    tokens._raw_delete(tokens.db)  # as another server process would: no signal reaches this one

    assert call(wsgi, "/api/plans", HTTP_AUTHORIZATION=f"Token {key}")[0] == 200  # still within its time
    later = time.time() + CREDENTIAL_TTL_S
    monkeypatch.setattr(time, "time", lambda: later)
    assert [call(wsgi, "/api/plans", HTTP_AUTHORIZATION=f"Token {key}")[0] for _ in range(2)] == [401, 401]
    assert django_wsgi.calls == 3


def test_asgi_rechecks_an_expired_token_with_django(repo, user_token, monkeypatch):
    repo.status("alpha")
    _, key = user_token
    django_asgi = CountingASGI()
    app = ReplayASGI(django_asgi)
    auth = {"authorization": f"Token {key}"}
    assert asgi_call(app, "/api/plans", **auth) == asgi_call(app, "/api/plans", **auth)
    assert django_asgi.calls == 1

    later = time.time() + CREDENTIAL_TTL_S
    monkeypatch.setattr(time, "time", lambda: later)
    asgi_call(app, "/api/plans", **auth)
    asgi_call(app, "/api/plans", **auth)

    assert django_asgi.calls == 2


def test_a_session_is_replayed_to_until_logout(wsgi, django_wsgi, repo, user_token):
    repo.status("alpha")
    user, _ = user_token
    cookie = session_cookie(user)

    assert call(wsgi, "/api/plans", HTTP_COOKIE=cookie)[0] == 200
    call(wsgi, "/api/plans", HTTP_COOKIE=cookie)
    assert django_wsgi.calls == 1

    session_key = cookie.rsplit("=", 1)[1]
    Session.objects.filter(session_key=session_key).delete()  # what logout and clearsessions do
    call(wsgi, "/api/plans", HTTP_COOKIE=cookie)
    assert django_wsgi.calls == 2


def test_signed_in_reads_are_replayed_where_anonymous_ones_are_refused(wsgi, django_wsgi, repo, user_token,
                                                                          settings):
    repo.status("alpha")
    settings.ORCHESTRATOR = {**settings.ORCHESTRATOR, "READS_REQUIRE_AUTH": "1"}
    _, key = user_token

    statuses = [call(wsgi, "/api/plans/alpha", HTTP_AUTHORIZATION=f"Token {key}")[0] for _ in range(2)]
    assert statuses == [200, 200] and django_wsgi.calls == 1

    assert call(wsgi, "/api/plans/alpha")[0] in (401, 403) and django_wsgi.calls == 2


def test_the_kind_of_client_and_connection_are_part_of_the_key(wsgi, django_wsgi, repo, user_token):
    repo.status("alpha")
    _, key = user_token
    for _ in range(2):
        call(wsgi, "/api/plans", REMOTE_ADDR="127.0.0.1")
        call(wsgi, "/api/plans", REMOTE_ADDR="192.0.2.7")
        call(wsgi, "/api/plans", REMOTE_ADDR="127.0.0.1", HTTP_AUTHORIZATION=f"Token {key}")

    assert django_wsgi.calls == 3


