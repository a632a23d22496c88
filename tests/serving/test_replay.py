"""ReplayWSGI / ReplayASGI (serving/replay.py): Django's own answers to repeated reads, replayed until a file changes."""

import asyncio
import json
import time

import pytest

from api.readcache import LIVE_TTL_S
from serving.replay import ReplayASGI

from .conftest import CountingASGI, asgi_call, asgi_request, call

# Django's request_started handler touches the database connection, in the thread the request runs in.
pytestmark = [pytest.mark.usefixtures("open_reads"), pytest.mark.django_db(transaction=True)]

ORIGIN = "http://localhost:3000"  # one of the default CORS origins


def test_a_repeated_read_is_answered_without_django(wsgi, django_wsgi, repo):
    repo.status("alpha")

    first = call(wsgi, "/api/plans/alpha/status")
    second = call(wsgi, "/api/plans/alpha/status")

    assert django_wsgi.calls == 1
    assert first[0] == second[0] == 200
    assert second == first  # every header included (security, Vary, ETag ...)
    assert json.loads(second[2])["name"] == "alpha"


def test_a_changed_file_sends_the_next_read_to_django(wsgi, django_wsgi, repo):
    repo.status("alpha")
    call(wsgi, "/api/plans")

    repo.status("alpha", states={"1.1": "completed"})
    status, _, body = call(wsgi, "/api/plans")

    assert django_wsgi.calls == 2
    assert json.loads(body)[0]["completed_tasks"] == 1
    call(wsgi, "/api/plans")
    assert django_wsgi.calls == 2


def test_if_none_match_gets_304_from_the_replay(wsgi, django_wsgi, repo):
    repo.status("alpha")
    _, headers, _ = call(wsgi, "/api/plans/alpha/tasks", HTTP_ORIGIN=ORIGIN)

    status, not_modified, body = call(wsgi, "/api/plans/alpha/tasks", HTTP_ORIGIN=ORIGIN,
                                      HTTP_IF_NONE_MATCH=f'W/{headers["etag"]}, "x"')

    assert (status, body, django_wsgi.calls) == (304, b"", 1)
    assert not_modified["etag"] == headers["etag"]
    assert not_modified["access-control-allow-origin"] == ORIGIN
    assert "content-type" not in not_modified
    assert call(wsgi, "/api/plans/alpha/tasks", HTTP_ORIGIN=ORIGIN,
                HTTP_IF_MODIFIED_SINCE=headers["last-modified"])[0] == 304


def test_query_accept_and_origin_are_part_of_the_key(wsgi, django_wsgi, repo):
    repo.status("alpha")
    repo.plan("old", archived=True)

    assert len(json.loads(call(wsgi, "/api/plans")[2])) == 2
    assert len(json.loads(call(wsgi, "/api/plans?archived=true")[2])) == 1
    _, with_origin, _ = call(wsgi, "/api/plans", HTTP_ORIGIN=ORIGIN)
    _, without_origin, _ = call(wsgi, "/api/plans")

    assert with_origin["access-control-allow-origin"] == ORIGIN
    assert "access-control-allow-origin" not in without_origin
    assert django_wsgi.calls == 3


def test_html_unknown_credentials_preconditions_and_other_methods_always_reach_django(wsgi, django_wsgi, repo):
    repo.status("alpha")
    requests = [
        {"HTTP_ACCEPT": "text/html"},
        {"HTTP_COOKIE": "sessionid=abc"},       # no such session: Django answers as to anyone anonymous
        {"HTTP_AUTHORIZATION": "Token abc"},    # no such token: 401
        {"HTTP_AUTHORIZATION": "Basic YTpi"},   # not a scheme the replay knows
        {"HTTP_IF_MATCH": '"stale"'},
        {"method": "HEAD"},
    ]
    for headers in requests:
        for _ in range(2):
            call(wsgi, "/api/plans/alpha", **headers)

    assert django_wsgi.calls == 2 * len(requests)


def test_the_replay_never_answers_the_browsable_api_with_the_json_validator(wsgi, django_wsgi, repo):
    repo.status("alpha")
    _, as_json, _ = call(wsgi, "/api/plans/alpha")
    assert "Accept" in as_json["vary"]

    for _ in range(2):
        status, as_html, body = call(wsgi, "/api/plans/alpha", HTTP_ACCEPT="text/html",
                                     HTTP_IF_NONE_MATCH=as_json["etag"])
        assert status == 200 and b"<html" in body
    assert as_html["etag"] != as_json["etag"] and "Accept" in as_html["vary"]
    assert call(wsgi, "/api/plans/alpha", HTTP_IF_NONE_MATCH=as_json["etag"])[0] == 304


@pytest.mark.parametrize("path", ["/api/plans/nope", "/api/plans/%2e%2e", "/api/orchestrators/orch-9"])
def test_errors_are_never_replayed(wsgi, django_wsgi, repo, path):
    repo.status("alpha")

    call(wsgi, path)
    call(wsgi, path)

    assert django_wsgi.calls == 2


@pytest.mark.parametrize("path", ["/health", "/api/orchestrators", "/api/orchestrators/orch-1700000000000",
                                  "/api/orchestrators/orch-1700000000000/status"])
def test_live_answers_are_replayed_only_while_young(wsgi, django_wsgi, repo, path, monkeypatch):
    repo.status("alpha")
    repo.registry([repo.instance(status="stopped")])

    assert call(wsgi, path) == call(wsgi, path)
    assert django_wsgi.calls == 1

    later = time.monotonic() + LIVE_TTL_S
    monkeypatch.setattr(time, "monotonic", lambda: later)
    call(wsgi, path)
    call(wsgi, path)
    assert django_wsgi.calls == 2


def test_a_registry_change_sends_the_next_live_read_to_django(wsgi, django_wsgi, repo):
    repo.registry([])
    assert json.loads(call(wsgi, "/api/orchestrators")[2]) == []

    repo.registry([repo.instance(status="stopped")])

    assert len(json.loads(call(wsgi, "/api/orchestrators")[2])) == 1 and django_wsgi.calls == 2


def test_behind_a_proxy_the_forwarded_scheme_is_part_of_the_key(behind_a_proxy, wsgi, django_wsgi, repo):
    repo.status("alpha")
    status, headers, _ = call(wsgi, "/api/plans", HTTP_X_FORWARDED_PROTO="https")
    assert status == 200 and "strict-transport-security" in headers
    call(wsgi, "/api/plans", HTTP_X_FORWARDED_PROTO="https")

    assert call(wsgi, "/api/plans", HTTP_X_FORWARDED_PROTO="http")[0] == 301  # Django's redirect, not the copy
    assert django_wsgi.calls == 2


def test_nothing_is_replayed_when_reads_need_a_login(wsgi, django_wsgi, repo, settings):
    repo.status("alpha")
    settings.ORCHESTRATOR = {**settings.ORCHESTRATOR, "READS_REQUIRE_AUTH": "1"}

    statuses = [call(wsgi, "/api/plans")[0] for _ in range(2)]

    assert statuses[0] in (401, 403) and django_wsgi.calls == 2


def test_another_repository_root_is_another_entry(wsgi, django_wsgi, repo, settings, tmp_path_factory):
    repo.status("alpha")
    call(wsgi, "/api/plans")
    other = tmp_path_factory.mktemp("other")
    (other / "docs" / "plans").mkdir(parents=True)
    settings.ORCHESTRATOR = {**settings.ORCHESTRATOR, "REPO_ROOT": str(other)}

    assert json.loads(call(wsgi, "/api/plans")[2]) == []
    assert django_wsgi.calls == 2


def test_asgi_replays_until_a_file_changes(repo):
    repo.status("alpha")
    django_asgi = CountingASGI()
    app = ReplayASGI(django_asgi)

    first = asgi_call(app, "/api/plans/alpha/status")
    second = asgi_call(app, "/api/plans/alpha/status")
    assert first == second and first[0] == 200 and django_asgi.calls == 1

    status, headers, body = asgi_call(app, "/api/plans/alpha/status", **{"if-none-match": first[1]["etag"]})
    assert (status, body, headers["etag"]) == (304, b"", first[1]["etag"])

    repo.status("alpha", states={"1.2": "failed"})
    status, _, body = asgi_call(app, "/api/plans/alpha/status")
    assert json.loads(body)["failed_tasks"] == 1 and django_asgi.calls == 2


def test_asgi_keys_on_the_forwarded_scheme_behind_a_proxy(behind_a_proxy, repo):
    repo.status("alpha")
    django_asgi = CountingASGI()
    app = ReplayASGI(django_asgi)

    assert asgi_call(app, "/api/plans", **{"x-forwarded-proto": "https"})[0] == 200
    assert asgi_call(app, "/api/plans", **{"x-forwarded-proto": "https"})[0] == 200
    assert asgi_call(app, "/api/plans", **{"x-forwarded-proto": "http"})[0] == 301
    assert django_asgi.calls == 2


def test_asgi_passes_errors_and_credentials_through(repo):
    repo.status("alpha")
    django_asgi = CountingASGI()
    app = ReplayASGI(django_asgi)

    for _ in range(2):
        assert asgi_call(app, "/api/plans/nope")[0] == 404
        assert asgi_call(app, "/api/plans/alpha", authorization="Token nope")[0] in (401, 403)

    assert django_asgi.calls == 4


def test_asgi_requests_after_a_change_wait_for_one_trip_to_django(repo):
    repo.status("alpha")
    django_asgi = CountingASGI()
    app = ReplayASGI(django_asgi)
    asgi_call(app, "/api/plans/alpha/tasks")
    repo.status("alpha", states={"1.1": "completed"})

    async def many():
        return await asyncio.gather(*(asgi_request(app, "/api/plans/alpha/tasks") for _ in range(5)))
    answers = asyncio.run(many())

    assert django_asgi.calls == 2
    assert len({body for _, _, body in answers}) == 1 and answers[0][0] == 200
    assert json.loads(answers[0][2])[0]["status"] == "completed"
