"""Security review, one test per finding: path traversal, foreign IPC sockets, authentication on every
command and stream, cross-origin WebSockets, production settings, request size limits."""

import json
import os
import re
import secrets
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from api.models import AuditEntry
from orchestrator import ipc
from orchestrator.errors import OrchestratorUnavailable
from orchestrator.ipc import IPCServer, send_command
from realtime.stream.routing import websocket_urlpatterns

from .conftest import INSTANCE, assert_error_shape

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SECRET = "TOPSECRET-d41d8cd9"
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
                                 f"/api/plans?token=not-a-token"])
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


# -- Path traversal ------------------------------------------------------------------------

HOSTILE_SEGMENTS = [
    "..", ".", "%2e%2e", "%2E%2E", ".%2e", "..%2F..%2F..%2Fetc%2Fpasswd", "%2e%2e%2f%2e%2e%2fsecret",
    "..%252F..%252Fsecret", "%2Fetc%2Fpasswd", "..%5C..%5Csecret", "....", "..%00", "alpha%00",
    "alpha%00.md", "alpha.md", ".hidden", "~root", "%7Eroot", "secret", "a" * 300, "%EF%BC%8E%EF%BC%8E",
    "alpha%0A", "alpha%20", "%C0%AE%C0%AE", "1.2%2F..%2F..",
]
PATH_TEMPLATES = [
    "/api/plans/{v}", "/api/plans/{v}/status", "/api/plans/{v}/tasks", "/api/plans/{v}/findings",
    "/api/plans/{v}/findings/1.1", "/api/plans/alpha/findings/{v}", "/api/orchestrators/{v}",
    "/api/orchestrators/{v}/status", "/api/orchestrators/{v}/events-sse", "/api/plans/{v}?archived=true",
]
COMMAND_TEMPLATES = ["/api/plans/{v}/tasks/1.2/skip", "/api/plans/alpha/tasks/{v}/retry",
                     "/api/orchestrators/{v}/pause", "/api/orchestrators/{v}/skip-task"]


@pytest.fixture
def outside(populated, tmp_path_factory):
    """Files outside docs/ holding SECRET, and symlinks to them from every place the API reads."""
    out = tmp_path_factory.mktemp("outside")
    plan = out / "secret.md"
    plan.write_text(f"# {SECRET}\n\n## Phase 1: {SECRET}\n- [ ] 1.1 {SECRET}\n")
    (out / "status.json").write_text(json.dumps({"tasks": [{"id": "1.1", "status": "failed", "description": SECRET,
                                                            "phase": SECRET}]}))
    (out / "findings").mkdir()
    (out / "findings" / "1.1.md").write_text(SECRET)
    (populated.root / "secret.md").write_text(plan.read_text())  # inside the repo, outside docs/plans
    layout = populated.layout
    os.symlink(plan, layout.plans_dir / "evil.md")
    os.symlink(out, layout.outputs_dir / "evil")
    os.symlink(plan, layout.findings_dir("alpha", archived=False) / "1.2.md")
    populated.plan("gamma")
    layout.output_dir("gamma", archived=False).mkdir()
    os.symlink(out / "findings", layout.findings_dir("gamma", archived=False))
    populated.plan("delta")
    layout.output_dir("delta", archived=False).mkdir()
    os.symlink(out / "status.json", layout.status_file("delta", archived=False))
    return out


def _assert_no_leak(response) -> None:
    assert SECRET.encode() not in response.content
    assert b"root:x:0:0" not in response.content


@pytest.mark.parametrize("template", PATH_TEMPLATES)
def test_hostile_path_parameters_get_a_json_error_and_read_nothing_outside(outside, api, template):
    for value in HOSTILE_SEGMENTS:
        response = api.get(template.format(v=value))
        _assert_no_leak(response)
        assert_error_shape(response, 400, 404)


@pytest.mark.parametrize("template", COMMAND_TEMPLATES)
def test_hostile_path_parameters_of_commands_get_a_json_error_and_write_nothing(outside, api, template):
    before = sorted(p.name for p in outside.rglob("*"))
    for value in HOSTILE_SEGMENTS:
        response = api.post(template.format(v=value), {"task_id": "1.1", "reason": "x"}, format="json")
        _assert_no_leak(response)
        assert_error_shape(response, 400, 404, 409, 503)
    assert sorted(p.name for p in outside.rglob("*")) == before


@pytest.mark.parametrize("task_id", ["../../secret", "1.1/../..", "1.1\x00", "/etc/passwd", "1" * 5000, 11, None,
                                     ["1.1"], {"id": "1.1"}])
@pytest.mark.parametrize("url", [f"/api/orchestrators/{INSTANCE}/skip-task", f"/api/orchestrators/{INSTANCE}/retry-task"])
def test_hostile_task_ids_in_command_bodies_are_refused(outside, api, url, task_id):
    response = api.post(url, {"task_id": task_id, "reason": "x"}, format="json")
    _assert_no_leak(response)
    assert_error_shape(response, 400)


@pytest.mark.parametrize("url", ["/api/plans/evil", "/api/plans/evil/status", "/api/plans/evil/tasks",
                                 "/api/plans/evil/findings", "/api/plans/alpha/findings/1.2",
                                 "/api/plans/gamma/findings", "/api/plans/gamma/findings/1.1",
                                 "/api/plans/delta", "/api/plans/delta/status", "/api/plans/delta/tasks", "/api/plans"])
def test_symlinks_out_of_plans_outputs_and_findings_are_not_followed(outside, api, url):
    """An agent running in the repository can plant symlinks (to ~/.ssh, say); readers must not see their targets."""
    response = api.get(url)
    _assert_no_leak(response)
    if response.status_code != 200:
        assert_error_shape(response, 400, 404)


@pytest.mark.parametrize("plan_path", ["../../../etc/passwd", "/etc/passwd", str(PROJECT_ROOT / "README.md"),
                                       "docs/plans/../../secret.md", "docs/plans/evil.md"])
def test_registry_plan_paths_never_lead_reads_or_writes_outside_docs(populated, outside, api, plan_path):
    """The registry is written by any tool of the repository: only the plan's name is taken from it."""
    watched = [p for p in outside.rglob("*") if p.is_file()] + [Path("/etc/passwd"), PROJECT_ROOT / "README.md"]
    before = {p: p.read_bytes() for p in watched}
    populated.registry([populated.instance(id=INSTANCE, plan_path=plan_path)])
    for url in (f"/api/orchestrators/{INSTANCE}", f"/api/orchestrators/{INSTANCE}/status"):
        _assert_no_leak(api.get(url))
    response = api.post(f"/api/orchestrators/{INSTANCE}/skip-task", {"task_id": "1.1", "reason": "x"}, format="json")
    _assert_no_leak(response)
    assert {p: p.read_bytes() for p in watched} == before


# -- Socket paths from the registry --------------------------------------------------------

FOREIGN_LISTENER = r"""
import socket, sys
path = sys.argv[1]
path = "\0" + path[1:] if path.startswith("@") else path  # "@name": abstract namespace (argv cannot hold NUL)
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(path)
server.listen(4)
print("ready", flush=True)
server.settimeout(10)
conn, _ = server.accept()
conn.settimeout(2)
received = b""
try:
    while chunk := conn.recv(65536):
        received += chunk
except OSError:
    pass
print(len(received), flush=True)
"""
NOBODY = 65534
SYSTEM_PYTHON = "/usr/bin/python3"  # readable by `nobody`, unlike a venv under /root


@pytest.fixture
def foreign_listener():
    """start(path) runs a socket server as another user (nobody) that prints how many bytes it got."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run a listener as another user; "
                    "test_socket_of_another_uid_is_refused_before_sending covers the check itself")
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        pytest.skip(f"{SYSTEM_PYTHON} is missing: no interpreter the `nobody` user can run")
    processes = []

    def start(path: str) -> subprocess.Popen:
        process = subprocess.Popen([SYSTEM_PYTHON, "-c", FOREIGN_LISTENER, path.replace("\0", "@", 1)], user=NOBODY,
                                   stdout=subprocess.PIPE, text=True)
        processes.append(process)
        assert process.stdout.readline().strip() == "ready"
        return process

    yield start
    for process in processes:
        process.kill()
        process.wait(5)


def _received(process: subprocess.Popen) -> int:
    return int(process.communicate(timeout=10)[0].strip())


def _unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def test_socket_of_another_uid_is_refused_before_sending(socket_dir, monkeypatch):
    """Runs as any user: to the check, our own listener looks foreign when our uid is not its uid."""
    served_commands = []
    with IPCServer(str(socket_dir / "o.sock"), lambda c, p: served_commands.append(c) or {"ack": True}) as server:
        monkeypatch.setattr(ipc.os, "geteuid", lambda: os.getuid() + 4242)
        with pytest.raises(OrchestratorUnavailable) as refused:
            send_command(server.socket_path, "pause", timeout=1)
    assert refused.value.details["reason"] == "untrusted_socket"
    assert served_commands == []


def test_socket_of_our_own_uid_is_used(socket_dir):
    with IPCServer(str(socket_dir / "o.sock"), lambda c, p: {"ack": True, "message": c}) as server:
        assert send_command(server.socket_path, "pause", timeout=1) == {"ack": True, "message": "pause"}


@pytest.mark.parametrize("kind", ["path", "symlink", "abstract"])
def test_registry_socket_path_to_another_users_socket_gets_503_and_not_a_byte(populated, api, foreign_listener,
                                                                                kind):
    """A registry aimed at some other service's socket (directly, through a symlink placed at the
    documented /tmp/orchestrator-<id>.sock, or in the abstract namespace) must not become a way to
    make the server talk to it."""
    if kind == "abstract":
        listen_at = registered = "\0" + _unique("hd-foreign-")
    else:
        listen_at = f"/tmp/{_unique('hd-foreign-')}.sock"
        registered = listen_at
    listener = foreign_listener(listen_at)
    try:
        if kind == "symlink":
            registered = ipc.default_socket_path(_unique("orch-"))
            os.symlink(listen_at, registered)
        populated.registry([populated.instance(id=INSTANCE, socket_path=registered)])
        error = assert_error_shape(api.post(f"/api/orchestrators/{INSTANCE}/pause"), 503)
        assert (error["code"], error["details"]["reason"]) == ("orchestrator_unavailable", "untrusted_socket")
        assert _received(listener) == 0
    finally:
        for path in {listen_at, registered}:
            if not path.startswith("\0") and os.path.lexists(path):
                os.unlink(path)


def test_status_probe_of_a_foreign_socket_reports_unreachable_not_paused(populated, api, foreign_listener):
    listen_at = f"/tmp/{_unique('hd-foreign-')}.sock"
    listener = foreign_listener(listen_at)
    try:
        populated.registry([populated.instance(id=INSTANCE, socket_path=listen_at)])
        body = api.get(f"/api/orchestrators/{INSTANCE}/status").json()
        assert (body["reachable"], body["status"]) == (False, "running")
        assert _received(listener) == 0
    finally:
        os.unlink(listen_at)


# -- Production settings ---------------------------------------------------------------------

def _django(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run `code` after django.setup() with the production settings module and exactly `env`."""
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DJANGO_SETTINGS_MODULE": "orchestrator_site.settings",
            "PYTHONPATH": str(PROJECT_ROOT)}
    script = "import django\ndjango.setup()\n" + code
    return subprocess.run([sys.executable, "-c", script], env={**base, **env}, cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=60)


def test_first_run_without_a_key_writes_a_private_per_install_key_and_reuses_it(tmp_path):
    key_file = tmp_path / "var" / "secret_key"
    show = "from django.conf import settings\nprint(settings.DEBUG, settings.SECRET_KEY)"
    first = _django(show, {"DJANGO_SECRET_KEY_FILE": str(key_file)})
    second = _django(show, {"DJANGO_SECRET_KEY_FILE": str(key_file)})
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    debug, key = first.stdout.split()
    assert debug == "False" and len(key) >= 50 and not key.startswith("django-insecure")
    assert second.stdout == first.stdout
    assert key_file.read_text().strip() == key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert [p.name for p in key_file.parent.iterdir()] == ["secret_key"]  # no temporary left


def test_the_environment_key_wins_over_the_key_file(tmp_path):
    key_file = tmp_path / "secret_key"
    key_file.write_text("from-the-file\n")
    result = _django("from django.conf import settings\nprint(settings.SECRET_KEY)",
                     {"DJANGO_SECRET_KEY": "from-the-environment", "DJANGO_SECRET_KEY_FILE": str(key_file)})
    assert result.stdout.strip() == "from-the-environment", result.stderr


def test_settings_refuse_to_load_when_no_key_can_be_had_and_debug_is_off(tmp_path):
    unwritable = tmp_path / "not-a-dir"
    unwritable.write_text("")
    result = _django("print('loaded')", {"DJANGO_SECRET_KEY_FILE": str(unwritable / "secret_key")})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "DJANGO_SECRET_KEY" in result.stderr


def test_a_blocking_setting_is_one_clear_line_from_manage_py_not_a_traceback(tmp_path):
    unwritable = tmp_path / "not-a-dir"
    unwritable.write_text("")
    result = subprocess.run([sys.executable, "manage.py", "orchestrate", "--help"],
                            env={"PATH": os.environ.get("PATH", ""),
                                 "DJANGO_SECRET_KEY_FILE": str(unwritable / "secret_key")},
                            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "DJANGO_SECRET_KEY" in result.stderr and str(unwritable) in result.stderr


def test_debug_is_off_by_default_and_the_development_key_is_never_used_then():
    key = secrets.token_urlsafe(50)
    result = _django("from django.conf import settings\nprint(settings.DEBUG, settings.SECRET_KEY)",
                     {"DJANGO_SECRET_KEY": key})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", key]


def test_debug_server_that_cannot_write_a_key_uses_the_marked_insecure_development_key(tmp_path):
    unwritable = tmp_path / "not-a-dir"
    unwritable.write_text("")
    result = _django("from django.conf import settings\nprint(settings.SECRET_KEY)",
                     {"DJANGO_DEBUG": "1", "DJANGO_SECRET_KEY_FILE": str(unwritable / "secret_key")})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("django-insecure-")


def documented_production_env() -> dict[str, str]:
    """The KEY=value lines of the production block in docs/deployment.md, with a fresh secret key."""
    text = (PROJECT_ROOT / "docs" / "deployment.md").read_text()
    block = text.split("<!-- production-env", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    env = dict(line.split("=", 1) for line in block.strip().splitlines())
    assert env["DJANGO_SECRET_KEY"].startswith("<")  # a placeholder: real keys are never committed
    env["DJANGO_SECRET_KEY"] = secrets.token_urlsafe(50)
    return env


@pytest.mark.slow
def test_check_deploy_passes_with_the_documented_production_settings(tmp_path):
    env = {**documented_production_env(), "ORCHESTRATOR_REPO_ROOT": str(tmp_path),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            env={"PATH": os.environ.get("PATH", ""), **env}, cwd=PROJECT_ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_flags_the_bare_defaults():
    """Without the documented HTTPS settings, --deploy must complain: the test above is not vacuous."""
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            env={"PATH": os.environ.get("PATH", ""), "DJANGO_SECRET_KEY": secrets.token_urlsafe(50)},
                            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "security.W004" in result.stderr + result.stdout  # HSTS unset


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
