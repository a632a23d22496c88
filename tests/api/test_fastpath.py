"""ReplayWSGI / ReplayASGI: Django's own answers to repeated anonymous reads, replayed until a file changes."""

import asyncio
import io
import json

import pytest
from django.core.asgi import get_asgi_application
from django.core.wsgi import get_wsgi_application

from api.fastpath import ReplayASGI, ReplayWSGI

# Django's request_started handler touches the database connection, in the thread the request runs in.
pytestmark = [pytest.mark.usefixtures("open_reads"), pytest.mark.django_db(transaction=True)]

ORIGIN = "http://localhost:3000"  # one of the default CORS origins


class CountingWSGI:
    def __init__(self):
        self.app = get_wsgi_application()
        self.calls = 0

    def __call__(self, environ, start_response):
        self.calls += 1
        return self.app(environ, start_response)


@pytest.fixture
def django_wsgi():
    return CountingWSGI()


@pytest.fixture
def wsgi(django_wsgi):
    return ReplayWSGI(django_wsgi)


def call(app, path, *, method="GET", **headers):
    """(status code, headers by lower-case name, body) of one WSGI request."""
    path, _, query = path.partition("?")
    environ = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query, "SERVER_NAME": "localhost",
        "SERVER_PORT": "80", "HTTP_HOST": "localhost", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(),
        "SERVER_PROTOCOL": "HTTP/1.1", **headers,
    }
    seen = {}

    def start_response(status, response_headers, exc_info=None):
        seen["status"] = int(status.split()[0])
        seen["headers"] = {name.lower(): value for name, value in response_headers}
    result = app(environ, start_response)
    body = b"".join(result)
    if hasattr(result, "close"):
        result.close()
    return seen["status"], seen["headers"], body


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


def test_html_credentials_preconditions_and_other_methods_always_reach_django(wsgi, django_wsgi, repo):
    repo.status("alpha")
    requests = [
        {"HTTP_ACCEPT": "text/html"},
        {"HTTP_COOKIE": "sessionid=abc"},
        {"HTTP_AUTHORIZATION": "Token abc"},
        {"HTTP_IF_MATCH": '"stale"'},
        {"method": "HEAD"},
    ]
    for headers in requests:
        for _ in range(2):
            call(wsgi, "/api/plans/alpha", **headers)

    assert django_wsgi.calls == 2 * len(requests)


@pytest.mark.parametrize("path", ["/api/plans/nope", "/health", "/api/orchestrators", "/api/plans/%2e%2e"])
def test_errors_and_answers_that_depend_on_more_than_files_are_never_replayed(wsgi, django_wsgi, repo, path):
    repo.status("alpha")

    call(wsgi, path)
    call(wsgi, path)

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


class CountingASGI:
    def __init__(self):
        self.app = get_asgi_application()
        self.calls = 0

    async def __call__(self, scope, receive, send):
        self.calls += 1
        await self.app(scope, receive, send)


def asgi_call(app, path, **headers):
    """(status, headers by lower-case name, body) of one ASGI HTTP request."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"localhost"), *((k.encode(), v.encode()) for k, v in headers.items())],
             "client": ("127.0.0.1", 1234), "server": ("localhost", 80)}
    messages = []

    async def run():
        requested = asyncio.Event()

        async def receive():
            if not requested.is_set():
                requested.set()
                return {"type": "http.request", "body": b"", "more_body": False}
            await asyncio.sleep(3600)

        async def send(message):
            messages.append(message)
        await asyncio.wait_for(app(scope, receive, send), timeout=10)
    asyncio.run(run())
    start = messages[0]
    return (start["status"], {bytes(k).decode().lower(): bytes(v).decode() for k, v in start["headers"]},
            b"".join(m.get("body", b"") for m in messages[1:]))


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


def test_asgi_passes_errors_and_credentials_through(repo):
    repo.status("alpha")
    django_asgi = CountingASGI()
    app = ReplayASGI(django_asgi)

    for _ in range(2):
        assert asgi_call(app, "/api/plans/nope")[0] == 404
        assert asgi_call(app, "/api/plans/alpha", authorization="Token nope")[0] in (401, 403)

    assert django_asgi.calls == 4
