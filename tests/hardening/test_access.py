"""Security review, access: every command, read and stream refuses those it must (anonymous clients,
missing permissions, cross-origin browsers), and hostile or oversized bodies are refused before they are parsed."""

import json
import re

import pytest
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from api.models import AuditEntry
from realtime.stream.routing import websocket_urlpatterns

from .conftest import INSTANCE, assert_error_shape

SAMPLE_ARGS = {"id": INSTANCE, "instance_id": INSTANCE, "name": "alpha", "task_id": "1.2"}



# -- Route enumeration ---------------------------------------------------------------------

def _walk(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern.callback


def _concrete(route: str) -> str:
    """A URL for a route pattern, with sample values for its parameters (regex or path() syntax)."""
    route = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: SAMPLE_ARGS.get(m.group(1), "x"), route)
    route = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: SAMPLE_ARGS.get(m.group(1), "x"), route)
    return "/" + route.lstrip("^").rstrip("$").replace("/?", "")


def api_routes() -> list[tuple[str, set[str]]]:
    """(url, HTTP methods) of every route under api/ and /health, found by walking the URLconf.

    Walking, rather than listing, is the point: an endpoint added later is checked too.
    """
    routes = []
    for route, callback in _walk(get_resolver().url_patterns):
        url = _concrete(route)
        if not (url.startswith("/api/") or url == "/health") or url.startswith("/api/schema"):
            continue
        actions = getattr(callback, "actions", None)
        if actions:
            methods = set(actions)
        else:
            view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
            methods = {m for m in ("get", "post") if view_class is None and m == "get" or hasattr(view_class, m)}
        routes.append((url, methods))
    return routes


COMMAND_ROUTES = sorted(url for url, methods in api_routes() if "post" in methods)
READ_ROUTES = sorted(url for url, methods in api_routes() if "get" in methods)


def test_route_enumeration_finds_every_documented_command_and_stream():
    """Guards the guard: if the walk found nothing, every test below would pass vacuously."""
    assert {f"/api/orchestrators/{INSTANCE}/{c}" for c in ("pause", "resume", "shutdown", "skip-task", "retry-task")} \
        <= set(COMMAND_ROUTES)
    assert {"/api/plans/alpha/tasks/1.2/skip", "/api/plans/alpha/tasks/1.2/retry"} <= set(COMMAND_ROUTES)
    assert f"/api/orchestrators/{INSTANCE}/events-sse" in READ_ROUTES
    assert {"/api/plans", "/api/orchestrators", "/api/audit", "/health"} <= set(READ_ROUTES)


# -- Authentication on every command and read ----------------------------------------------

@pytest.fixture
def reader(db):
    """A logged-in user without the control permission."""
    user = get_user_model().objects.create_user("reader", password="pw-reader-123")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return api


@pytest.mark.parametrize("url", COMMAND_ROUTES)
def test_every_command_refuses_anonymous_clients(populated, anon, url):
    assert_error_shape(anon.post(url, {"task_id": "1.2", "reason": "x"}, format="json"), 401, 403)


@pytest.mark.parametrize("url", COMMAND_ROUTES)
def test_every_command_refuses_users_without_the_control_permission(populated, reader, url):
    assert_error_shape(reader.post(url, {"task_id": "1.2", "reason": "x"}, format="json"), 403)


@pytest.mark.parametrize("url", COMMAND_ROUTES)
def test_every_command_refuses_a_session_without_csrf_token(populated, controller, url):
    """A logged-in browser tricked into POSTing by another site carries the cookie but no CSRF token."""
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(controller)
    error = assert_error_shape(browser.post(url, {"task_id": "1.2", "reason": "x"}, format="json"), 403)
    assert "CSRF" in error["message"]


@pytest.mark.parametrize("url", COMMAND_ROUTES)
def test_every_command_refused_for_lack_of_rights_is_audited(populated, anon, url):
    anon.post(url, {"task_id": "1.2"}, format="json")
    assert AuditEntry.objects.filter(status_code__in=(401, 403)).count() == 1


@pytest.mark.parametrize("url", READ_ROUTES)
def test_every_read_and_stream_refuses_anonymous_clients_when_reads_need_auth(populated, anon, url):
    assert_error_shape(anon.get(url), 401, 403)


@pytest.mark.parametrize("url", [f"/api/orchestrators/{INSTANCE}/events-sse?token=not-a-token",
                                 "/api/plans?token=not-a-token"])
def test_bad_token_in_the_query_string_is_refused(populated, anon, url):
    assert_error_shape(anon.get(url), 401, 403)


# -- WebSockets: authentication and origin -------------------------------------------------

WS_PATHS = [_concrete(str(pattern.pattern)) for pattern in websocket_urlpatterns]


@pytest.fixture
def ws_layer(settings, populated):
    """A fresh in-memory channel layer: its queues belong to the event loop of the test that made them."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    return populated


async def _close_code(path: str, *, origin: bytes | None, token: str | None = None) -> int | None:
    from orchestrator_site.asgi import application

    headers = [(b"origin", origin)] if origin else []
    subprotocols = [f"token.{token}"] if token else None
    comm = WebsocketCommunicator(application, path, headers=headers, subprotocols=subprotocols)
    connected, code = await comm.connect(timeout=3)
    if not connected:
        return code
    output = await comm.receive_output(3)
    if output["type"] != "websocket.close":  # a snapshot frame: the stream was accepted
        await comm.disconnect()
        return None
    return output["code"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", WS_PATHS)
async def test_every_websocket_refuses_anonymous_clients_when_reads_need_auth(ws_layer, path):
    assert await _close_code(path, origin=b"http://localhost:3000") == 4401


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("origin", [b"http://evil.example", b"null", b"http://localhost.evil.example",
                                    b"https://127.0.0.1.evil.example:3000", b"\xff\xfe"])
@pytest.mark.parametrize("path", WS_PATHS)
async def test_every_websocket_refuses_cross_origin_browsers_even_with_a_valid_token(ws_layer, path, origin):
    """Cross-site WebSocket hijacking: a page elsewhere must not ride a logged-in user's credentials."""
    from asgiref.sync import sync_to_async

    user = await sync_to_async(get_user_model().objects.create_user)("ws", password="pw-ws-12345")
    token = (await sync_to_async(Token.objects.create)(user=user)).key
    assert await _close_code(path, origin=origin, token=token) == 4403


# -- Request size limits ----------------------------------------------------------------------

@pytest.mark.parametrize("url", [f"/api/orchestrators/{INSTANCE}/skip-task", f"/api/orchestrators/{INSTANCE}/retry-task",
                                 "/api/plans/alpha/tasks/1.2/skip", f"/api/orchestrators/{INSTANCE}/shutdown"])
def test_one_megabyte_body_is_refused_with_413_json_and_audited(populated, api, url):
    """Every command that reads a body; the others (pause, resume, plan-level retry) never parse one."""
    # Found in review: Django's generic 400 page answered it, and the command was audited as a 500.
    status_before = populated.layout.status_file("alpha", archived=False).read_bytes()
    body = json.dumps({"task_id": "1.2", "reason": "x" * 1_000_000, "force": False})
    error = assert_error_shape(api.post(url, data=body, content_type="application/json"), 413)
    assert error["code"] == "request_too_large"
    assert populated.layout.status_file("alpha", archived=False).read_bytes() == status_before
    assert list(AuditEntry.objects.values_list("status_code", flat=True)) == [413]


def test_body_just_under_the_limit_is_parsed(populated, api):
    response = api.post("/api/plans/alpha/tasks/1.2/skip", {"reason": "by hand", "padding": "x" * (60 * 1024)},
                        format="json")
    assert response.status_code == 200, response.content[:300]


# -- Hostile bodies ----------------------------------------------------------------------------

NESTED_JSON = "[" * 60_000


@pytest.mark.parametrize("url", COMMAND_ROUTES)
def test_deeply_nested_json_from_an_anonymous_client_is_refused_unparsed(populated, anon, url):
    # Found in the red-team pass: RecursionError while auditing the refusal, a 500 audited as 500.
    assert_error_shape(anon.post(url, data=NESTED_JSON, content_type="application/json"), 401)
    assert all(row == (401, {}) for row in AuditEntry.objects.values_list("status_code", "payload"))


@pytest.mark.parametrize("url", COMMAND_ROUTES)
def test_deeply_nested_json_from_a_controller_is_a_400_not_a_500(populated, api, url):
    response = api.post(url, data=NESTED_JSON, content_type="application/json")
    if response.status_code < 300:  # pause, resume and plan-level retry never read a body
        assert url.rsplit("/", 1)[-1] in {"pause", "resume", "retry"}
    else:
        assert_error_shape(response, 400, 409, 503)
    assert set(AuditEntry.objects.values_list("status_code", flat=True)) <= {response.status_code} - {500}
