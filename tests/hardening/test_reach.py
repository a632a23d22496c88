"""Security review, reach: no path parameter, symlink, registry entry or socket path leads a read,
a write or a command outside the repository's docs, or to another user's socket."""

import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from orchestrator import ipc
from orchestrator.errors import OrchestratorUnavailable
from orchestrator.ipc import IPCServer, send_command

from .conftest import INSTANCE, assert_error_shape

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SECRET = "TOPSECRET-d41d8cd9"


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
def foreign_listener(helper_processes):
    """start(path) runs a socket server as another user (nobody) that prints how many bytes it got."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run a listener as another user; "
                    "test_socket_of_another_uid_is_refused_before_sending covers the check itself")
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        pytest.skip(f"{SYSTEM_PYTHON} is missing: no interpreter the `nobody` user can run")
    return lambda path: helper_processes([SYSTEM_PYTHON, "-c", FOREIGN_LISTENER, path.replace("\0", "@", 1)],
                                         "ready", user=NOBODY)


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
