import json
import os
import shutil
import socket
import stat
import struct
import tempfile
import threading
import time
from pathlib import Path

import pytest

from orchestrator.errors import FrameError, OrchestratorUnavailable
from orchestrator.ipc import (
    MAX_FRAME,
    IPCServer,
    default_socket_path,
    encode_frame,
    make_message,
    read_frame,
    send_command,
)
from tests.engine_support import wait_until

STATUS_REPLY = {
    "instance_id": "orch-1",
    "plan_path": "docs/plans/p.md",
    "progress": 50.0,
    "completed": 1,
    "total": 2,
    "iteration": 3,
    "paused": False,
    "shutdown_requested": False,
}


@pytest.fixture
def socket_dir():
    # pytest's tmp_path is too long for AF_UNIX's ~107-byte limit.
    path = Path(tempfile.mkdtemp(dir="/tmp", prefix="ipc-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


class Orchestrator:
    """A handler standing in for the engine: remembers commands and answers like it."""

    def __init__(self):
        self.calls = []
        self.paused = False

    def __call__(self, command, payload):
        self.calls.append((command, payload))
        if command == "status":
            return {**STATUS_REPLY, "paused": self.paused}
        if command == "pause":
            self.paused = True
            return {"ack": True, "message": "paused"}
        if command == "shutdown":
            raise RuntimeError("engine exploded")
        return {"ack": True, "message": command}


@pytest.fixture
def server(socket_dir):
    handler = Orchestrator()
    srv = IPCServer(str(socket_dir / "o.sock"), handler, read_timeout=0.5)
    srv.handler = handler
    srv.start()
    yield srv
    srv.stop()


def raw_connect(path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(3)
    sock.connect(path)
    return sock


def assert_closed(sock, timeout=2):
    sock.settimeout(timeout)
    try:
        assert sock.recv(1) == b""
    except ConnectionResetError:
        pass  # closing with unread bytes resets the connection: closed all the same


def test_default_socket_path_is_the_ecosystem_one():
    assert default_socket_path("orch-1700000000000") == "/tmp/orchestrator-orch-1700000000000.sock"


def test_frame_is_big_endian_length_then_json():
    message = make_message("request", "status", None)
    frame = encode_frame(message)
    (size,) = struct.unpack(">I", frame[:4])
    assert size == len(frame) - 4
    decoded = json.loads(frame[4:])
    assert decoded["type"] == "request" and decoded["command"] == "status" and decoded["payload"] == {}
    assert decoded["timestamp"].endswith("Z")


def test_encode_refuses_frames_over_the_limit():
    with pytest.raises(FrameError):
        encode_frame(make_message("request", "status", {"x": "y" * MAX_FRAME}))


def test_status_round_trip(server):
    assert send_command(server.socket_path, "status") == STATUS_REPLY


def test_pause_then_status_reports_paused(server):
    assert send_command(server.socket_path, "pause", {}) == {"ack": True, "message": "paused"}
    assert send_command(server.socket_path, "status")["paused"] is True
    assert server.handler.calls == [("pause", {}), ("status", {})]


def test_socket_file_is_private(server):
    mode = os.stat(server.socket_path).st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600


def test_unknown_command_gets_an_error_and_never_reaches_the_handler(server):
    assert "unknown command" in send_command(server.socket_path, "dance")["error"]
    assert server.handler.calls == []


def test_failing_handler_is_answered_with_an_error(server):
    reply = send_command(server.socket_path, "shutdown", {"force": True})
    assert reply == {"error": "shutdown failed: engine exploded"}
    assert send_command(server.socket_path, "status")["instance_id"] == "orch-1"


def test_oversize_frame_is_answered_with_an_error_and_closed(server):
    with raw_connect(server.socket_path) as sock:
        sock.sendall(struct.pack(">I", MAX_FRAME + 1) + b"{" * 100)
        reply = read_frame(sock, timeout=2)
        assert "exceeds" in reply["payload"]["error"]
        assert_closed(sock)
    assert send_command(server.socket_path, "status")["total"] == 2


def test_garbage_frame_is_answered_with_an_error(server):
    with raw_connect(server.socket_path) as sock:
        sock.sendall(struct.pack(">I", 9) + b"not json!")
        assert "JSON" in read_frame(sock, timeout=2)["payload"]["error"]
    with raw_connect(server.socket_path) as sock:
        sock.sendall(encode_frame(["a", "list"]))
        assert "object" in read_frame(sock, timeout=2)["payload"]["error"]


def test_half_frame_then_silence_does_not_block_other_clients(socket_dir):
    # The client's deadline is shorter than the server's read timeout: a server that waited out
    # the stalled frame before serving the next client could not answer in time.
    with IPCServer(str(socket_dir / "o.sock"), Orchestrator(), read_timeout=2.0) as srv:
        stalled = raw_connect(srv.socket_path)
        stalled.sendall(struct.pack(">I", 100) + b'{"type": "req')
        assert send_command(srv.socket_path, "status", timeout=1.5)["total"] == 2
        assert_closed(stalled, timeout=5)  # dropped after the server's read timeout
        stalled.close()


def test_missing_socket_is_unavailable(socket_dir):
    with pytest.raises(OrchestratorUnavailable) as info:
        send_command(str(socket_dir / "nobody.sock"), "status")
    assert info.value.code == "orchestrator_unavailable"


def test_socket_file_without_listener_is_unavailable(socket_dir):
    path = str(socket_dir / "dead.sock")
    leftover = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    leftover.bind(path)
    leftover.close()
    with pytest.raises(OrchestratorUnavailable):
        send_command(path, "status")


def test_silent_server_times_out_within_the_deadline(socket_dir):
    path = str(socket_dir / "mute.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)
    accepted = []
    thread = threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True)
    thread.start()
    started = time.monotonic()
    with pytest.raises(OrchestratorUnavailable, match="did not answer"):
        send_command(path, "status", timeout=0.3)
    assert time.monotonic() - started < 5  # the mute peer never answers: only the deadline ends the wait
    thread.join(timeout=2)
    for conn, _ in accepted:
        conn.close()
    listener.close()


@pytest.mark.parametrize(
    "reply",
    [b"\x00\x00\x00\x05hello", struct.pack(">I", MAX_FRAME + 1), b"\x00\x00", encode_frame({"type": "response"})],
)
def test_malformed_reply_is_unavailable(socket_dir, reply):
    path = str(socket_dir / "bad.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)

    def answer():
        conn, _ = listener.accept()
        with conn:
            read_frame(conn, timeout=2)
            conn.sendall(reply)

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    with pytest.raises(OrchestratorUnavailable):
        send_command(path, "status", timeout=1)
    thread.join(timeout=2)
    listener.close()


def test_start_replaces_a_stale_socket_but_not_a_live_one(socket_dir, server):
    stale = str(socket_dir / "stale.sock")
    leftover = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    leftover.bind(stale)
    leftover.close()
    with IPCServer(stale, Orchestrator()) as replacement:
        assert send_command(replacement.socket_path, "status")["total"] == 2
    assert not os.path.exists(stale)
    with pytest.raises(FileExistsError):
        IPCServer(server.socket_path, Orchestrator()).start()
    assert send_command(server.socket_path, "status")["total"] == 2


def test_stop_removes_the_socket_and_later_calls_are_unavailable(socket_dir):
    srv = IPCServer(str(socket_dir / "o.sock"), Orchestrator())
    srv.start()
    srv.stop()
    srv.stop()
    assert not os.path.exists(srv.socket_path)
    with pytest.raises(OrchestratorUnavailable):
        send_command(srv.socket_path, "status")


def test_concurrent_clients_are_all_answered(server):
    results = []

    def client():
        results.append(send_command(server.socket_path, "status", timeout=3)["total"])

    threads = [threading.Thread(target=client) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=5)
    assert results == [2] * 12


def test_connections_beyond_the_limit_are_told_the_server_is_busy(socket_dir):
    with IPCServer(str(socket_dir / "o.sock"), Orchestrator(), read_timeout=1, max_connections=1) as srv:
        stalled = raw_connect(srv.socket_path)
        stalled.sendall(b"\x00")
        # Answered normally until the server has handed the stalled connection to its thread, then busy.
        wait_until(lambda: "busy" in send_command(srv.socket_path, "status").get("error", ""),
                   message="a busy answer")
        stalled.close()
