"""Oversized request bodies are refused on arrival, by daphne and by the WSGI route, with the JSON error shape;
daphne listens ready for bursts of connections.

Against real servers (a daphne process, a gunicorn process), over raw sockets, because the
defect lived below Django: Twisted buffered and form-parsed the whole body first.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

from serving.daphne_endpoint import LISTEN_BACKLOG
from bench.ws_common import PROJECT, Server, free_port
from tests.factories import RepoFactory

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

LIMIT = 64 * 1024  # DATA_UPLOAD_MAX_MEMORY_SIZE in orchestrator_site/settings.py
COMMAND = "/api/orchestrators/orch-1700000000000/pause"


def migrated(root) -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "orchestrator_site.settings", "DJANGO_SECRET_KEY": "test-only",
           "DATABASE_URL": f"sqlite:///{root}/server.sqlite3"}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], env=env, cwd=PROJECT, check=True)


@pytest.fixture(scope="module")
def served_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("bodylimit")
    RepoFactory(root).plan("alpha")
    migrated(root)
    return root


@pytest.fixture(scope="module")
def daphne(served_root):
    server = Server(served_root, secret_key="test-only", database="server.sqlite3", heartbeat_s=None,
                    log_level=None, verbosity=None, daphne_args=("--access-log", str(served_root / "access.log")))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def gunicorn(served_root):
    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "orchestrator_site.settings", "DJANGO_SECRET_KEY": "test-only",
           "DATABASE_URL": f"sqlite:///{served_root}/server.sqlite3", "ORCHESTRATOR_REPO_ROOT": str(served_root)}
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "orchestrator_site.wsgi", "-w", "1", "-b",
                                f"127.0.0.1:{port}"], cwd=PROJECT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    # Up once it answers at all: /health is closed to anonymous clients here (401), and waiting for
    # a 200 spent the whole deadline on every run.
    deadline = time.monotonic() + 60
    while True:
        try:
            exchange(port, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"gunicorn did not answer on port {port} (exit code {process.poll()})")
            time.sleep(0.1)
    yield port
    process.terminate()
    process.wait(10)


def exchange(port: int, head: bytes, body_chunks=(), *, timeout: float = 15.0) -> tuple[int, dict, bytes]:
    """Send a request (headers, then body chunks while the server reads), return (status, headers, body).

    Sending stops quietly once the server has answered and closed: that is the refusal under test.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head)
        for chunk in body_chunks:
            try:
                sock.sendall(chunk)
            except OSError:
                break
        data = b""
        while b"\r\n\r\n" not in data or len(data) < _expected(data):
            received = sock.recv(65536)
            if not received:
                break
            data += received
    head_part, _, body = data.partition(b"\r\n\r\n")
    lines = head_part.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


def _expected(data: bytes) -> int:
    head, _, _ = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(head) + 4 + int(line.split(b":")[1])
    return len(data) + 1  # no length yet: keep reading until the server closes


def post_head(content_type: str, *, length: int | None, path: str = COMMAND) -> bytes:
    framing = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n{framing}\r\n"
            "Connection: close\r\n\r\n").encode()


def assert_json_error(status: int, headers: dict, body: bytes, expected: int) -> dict:
    assert status == expected, (status, body[:300])
    assert headers["content-type"].startswith("application/json")
    error = json.loads(body)["error"]
    assert set(error) == {"code", "message", "details"}
    return error


def chunked(total: int, piece: int = 16 * 1024):
    for _ in range(total // piece):
        yield b"%x\r\n%s\r\n" % (piece, b"a" * piece)
    yield b"0\r\n\r\n"


@pytest.fixture(params=["daphne", "gunicorn"])
def port(request):
    return request.getfixturevalue("daphne").port if request.param == "daphne" else request.getfixturevalue("gunicorn")


def test_a_declared_100_mb_form_is_refused_before_a_byte_of_it_is_sent(port):
    # Found in the red-team pass: daphne read and form-parsed all of it first (1.77 GB peak RSS).
    # No body is sent at all: an answer proves the server did not wait for one.
    answer = exchange(port, post_head("application/x-www-form-urlencoded", length=100 * 1024 * 1024))

    assert assert_json_error(*answer, 413)["code"] == "request_too_large"


def test_a_chunked_body_over_the_limit_is_refused_once_it_passes_it(port):
    answer = exchange(port, post_head("application/x-www-form-urlencoded", length=None), chunked(4 * LIMIT))

    assert assert_json_error(*answer, 413)["details"] == {"limit": LIMIT}


def test_a_body_under_the_limit_reaches_the_api(port):
    body = b"reason=" + b"x" * (LIMIT - 100)
    answer = exchange(port, post_head("application/x-www-form-urlencoded", length=len(body)), [body])

    assert assert_json_error(*answer, 401)["code"] == "not_authenticated"


def test_a_malformed_multipart_body_gets_the_json_error_shape(port):
    # Found in the red-team pass: Twisted's own multipart parser answered a bare 400, no body.
    body = b"--nope\r\nthis is not a part\r\n"
    answer = exchange(port, post_head("multipart/form-data; boundary=xyz", length=len(body)), [body])

    assert_json_error(*answer, 401)


def test_the_server_answers_others_after_a_refusal(daphne):
    exchange(daphne.port, post_head("application/x-www-form-urlencoded", length=None), chunked(4 * LIMIT))

    assert daphne.get("/health")[0] == 200


def test_sse_tokens_never_reach_daphnes_access_log(daphne, served_root):
    # Found in the red-team pass: `?token=` (how EventSource authenticates) was logged verbatim.
    secret = "0123456789abcdef0123456789abcdef01234567"
    path = f"/api/orchestrators/orch-1700000000000/events-sse?since=0&token={secret}"
    status, _, _ = exchange(daphne.port, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
    assert status == 401

    lines = access_log_lines(served_root, until="events-sse", matching="events-sse")
    assert lines and all(secret not in line for line in lines), lines
    assert "since=0&token=[redacted]" in lines[-1]


def access_log_lines(root, *, until: str, matching: str) -> list[str]:
    """daphne's access-log lines containing `matching`, once a line with `until` was written (10 s at most)."""
    log = root / "access.log"
    deadline = time.monotonic() + 10
    while until not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    return [line for line in log.read_text().splitlines() if matching in line]


def test_websocket_tokens_never_reach_daphnes_access_log(daphne, served_root):
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    secret = "fedcba9876543210fedcba9876543210fedcba98"
    with connect(f"ws://127.0.0.1:{daphne.port}/api/events?token={secret}", origin="http://127.0.0.1",
                 open_timeout=10) as ws:
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=10)  # an unknown token: closed with 4401, after the handshake was logged

    lines = access_log_lines(served_root, until="WSCONNECTING /api/events", matching="/api/events")
    assert lines and all(secret not in line for line in lines), lines


@pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2) to read a listening socket's backlog")
def test_serve_listens_with_a_backlog_for_bursts_of_connections(served_root):
    # Found with bench/command_load.py: Twisted's default backlog of 50 dropped connections of a
    # 600-client burst that the clients already took for open.
    server = Server(served_root, secret_key="test-only", database="server.sqlite3", heartbeat_s=None,
                    log_level=None, verbosity=None, via_serve=True)
    try:
        listening = subprocess.run(["ss", "-Hltn", f"sport = :{server.port}"], capture_output=True, text=True,
                                   check=True).stdout.split()
    finally:
        server.stop()
    assert listening[2] == str(LISTEN_BACKLOG), listening  # State Recv-Q Send-Q(backlog) Local Peer
