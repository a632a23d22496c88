"""Hypothesis fuzzing of the IPC framing, both ends: any process of the user can connect to an
orchestrator's socket, and the API trusts whatever answers on a registered socket path, so
neither side may crash, hang, or stop serving others because of one peer's bytes."""

import json
import os
import shutil
import socket
import struct
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.errors import FrameError, OrchestratorUnavailable
from orchestrator.ipc import COMMANDS, MAX_FRAME, IPCServer, encode_frame, make_message, read_frame, send_command

FUZZ = settings(derandomize=True, max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
READ_TIMEOUT = 0.3  # server-side total deadline per frame; short so silent peers are dropped fast
STATUS = {"instance_id": "orch-1", "progress": 0.0, "paused": False}


def handler(command, payload):
    return dict(STATUS) if command == "status" else {"ack": True, "message": command}


@pytest.fixture
def socket_dir():
    # pytest's tmp_path is too long for AF_UNIX's ~107-byte limit.
    path = Path(tempfile.mkdtemp(dir="/tmp", prefix="ipcfz-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def server(socket_dir):
    with IPCServer(str(socket_dir / "o.sock"), handler, read_timeout=READ_TIMEOUT, max_connections=8) as srv:
        yield srv


def assert_still_serving(srv) -> None:
    started = time.monotonic()
    assert send_command(srv.socket_path, "status", timeout=2.0) == STATUS
    assert time.monotonic() - started < 1.0


def raw_exchange(path: str, data: bytes, *, close_write: bool) -> bytes:
    """Send `data`, optionally half-close, and collect whatever comes back until the server closes."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(READ_TIMEOUT * 4 + 2)
        sock.connect(path)
        try:
            sock.sendall(data)
            if close_write:
                sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before reading everything: allowed
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except ConnectionResetError:
            pass
        return b"".join(chunks)


def decode_reply(reply: bytes) -> dict | None:
    """The one response frame the server sent, or None if it just closed."""
    if not reply:
        return None
    (size,) = struct.unpack(">I", reply[:4])
    assert size == len(reply) - 4, "exactly one whole frame, then close"
    message = json.loads(reply[4:])
    assert message["type"] == "response" and isinstance(message["payload"], dict), message
    return message["payload"]


def assert_reply_is_an_error_frame_or_nothing(reply: bytes) -> None:
    payload = decode_reply(reply)
    assert payload is None or "error" in payload, payload


frame_bodies = st.one_of(
    st.binary(max_size=512),
    st.text(max_size=200).map(lambda t: t.encode("utf-8")),
    st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                 lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                 max_leaves=12).map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({"type": st.sampled_from(["request", "response", 7]),
                           "command": st.sampled_from(["status", "pause", "", None, 1, "x" * 300, "shutdown\x00"]),
                           "payload": st.none() | st.integers() | st.dictionaries(st.text(max_size=5), st.integers(),
                                                                                   max_size=3)})
    .map(lambda v: json.dumps(v).encode()),
)


def test_random_frames_get_an_error_or_a_reply_and_never_stop_the_server(server):
    @FUZZ
    @given(body=frame_bodies, declared=st.none() | st.integers(0, 2**32 - 1), close_write=st.booleans())
    def run(body, declared, close_write):
        size = len(body) if declared is None else declared
        if size > len(body) and not close_write and size <= MAX_FRAME:
            close_write = True  # a half frame kept open is the slow-sender test's job (it costs READ_TIMEOUT)
        payload = decode_reply(raw_exchange(server.socket_path, struct.pack(">I", size) + body,
                                            close_write=close_write))
        if payload is not None and "error" not in payload:
            request = json.loads(body)  # only a well-formed request may get a normal answer
            assert request["command"] in COMMANDS and payload == handler(request["command"], {})

    run()
    assert_still_serving(server)


def test_raw_random_bytes_without_a_valid_prefix_never_stop_the_server(server):
    @FUZZ
    @given(st.binary(max_size=64))
    def run(data):
        assert_reply_is_an_error_frame_or_nothing(raw_exchange(server.socket_path, data, close_write=True))

    run()
    assert_still_serving(server)


@pytest.mark.parametrize("declared", [MAX_FRAME + 1, 2**31, 2**32 - 1])
def test_oversized_length_prefix_is_refused_at_once_without_reading_the_body(server, declared):
    started = time.monotonic()
    reply = raw_exchange(server.socket_path, struct.pack(">I", declared), close_write=False)
    assert time.monotonic() - started < READ_TIMEOUT, "the server must not wait for a body it will refuse"
    assert b"exceeds" in reply
    assert_still_serving(server)


@contextmanager
def silent_clients(path: str, count: int, prefix: bytes):
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(path)
            sock.sendall(prefix)
            socks.append(sock)
        yield socks
    finally:
        for sock in socks:
            sock.close()


@pytest.mark.parametrize("prefix", [b"", b"\x00\x00", struct.pack(">I", 100) + b'{"type":'])
def test_half_frames_left_open_do_not_delay_other_clients(server, prefix):
    with silent_clients(server.socket_path, 4, prefix):
        assert_still_serving(server)
    assert_still_serving(server)


def test_more_silent_clients_than_slots_get_busy_replies_then_service_resumes(server):
    with silent_clients(server.socket_path, 8, b"\x00"):
        time.sleep(0.05)  # let the accept loop hand all eight their slots
        reply = send_command(server.socket_path, "status", timeout=2.0)
        assert "busy" in reply["error"]
    time.sleep(READ_TIMEOUT + 0.2)  # the silent ones are dropped at their deadline, freeing the slots
    assert_still_serving(server)


def test_slow_sender_within_the_deadline_is_answered(server):
    frame = encode_frame(make_message("request", "status", {}))
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(3)
        sock.connect(server.socket_path)
        pause = READ_TIMEOUT / 2 / len(frame)
        for byte in frame:
            sock.sendall(bytes([byte]))
            time.sleep(pause)
        reply = read_frame(sock, timeout=2)
    assert reply["payload"] == STATUS


def test_slow_sender_past_the_deadline_is_dropped_while_others_are_served(server):
    frame = encode_frame(make_message("request", "status", {}))
    dropped_after = []

    def trickle():
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(server.socket_path)
            started = time.monotonic()
            try:
                for byte in frame:
                    sock.sendall(bytes([byte]))
                    time.sleep(0.05)
                leftover = sock.recv(1)
            except (BrokenPipeError, ConnectionResetError):
                leftover = b""
            dropped_after.append((time.monotonic() - started, leftover))

    thread = threading.Thread(target=trickle)
    thread.start()
    for _ in range(5):
        assert_still_serving(server)
        time.sleep(0.05)
    thread.join(10)
    assert not thread.is_alive()
    assert dropped_after and dropped_after[0][1] == b"", "a frame slower than the deadline gets no reply"


HOLD_OPEN_S = 5.0  # how long a fake orchestrator keeps a connection open after its reply when told to


class FakeOrchestrator:
    """A socket that answers every connection with fixed bytes: what send_command may meet on a registered path."""

    def __init__(self, path: str):
        self.path = path
        self.reply = b""
        self.hold_open = False
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(path)
        self._listener.listen(16)
        self._listener.settimeout(0.1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._answer, args=(conn, self.reply, self.hold_open), daemon=True).start()

    def _answer(self, conn, reply, hold_open):
        """Each connection on its own thread: one held open does not delay the next example's."""
        with conn:
            try:
                conn.sendall(reply)
                if hold_open:
                    self._stop.wait(HOLD_OPEN_S)
            except OSError:
                pass

    def close(self):
        self._stop.set()
        self._thread.join(5)
        self._listener.close()


@pytest.fixture
def fake(socket_dir):
    server = FakeOrchestrator(str(socket_dir / "fake.sock"))
    yield server
    server.close()


def test_send_command_turns_any_reply_bytes_into_a_payload_or_unavailable(fake):
    @FUZZ
    @given(body=frame_bodies, declared=st.none() | st.integers(0, 2**32 - 1), hold_open=st.booleans())
    def run(body, declared, hold_open):
        fake.reply = struct.pack(">I", len(body) if declared is None else declared) + body
        fake.hold_open = hold_open
        started = time.monotonic()
        try:
            payload = send_command(fake.path, "status", timeout=0.05)
        except OrchestratorUnavailable:
            pass
        else:
            assert isinstance(payload, dict)
        # Far above the 0.05 s deadline (a loaded machine), far below the peer's hold.
        assert time.monotonic() - started < HOLD_OPEN_S / 2, "send_command must respect its total deadline"

    run()


def test_read_frame_raises_only_frame_or_timeout_errors_on_any_bytes():
    @FUZZ
    @given(st.binary(max_size=300))
    def run(data):
        left, right = socket.socketpair()
        with left, right:
            left.sendall(data)
            left.shutdown(socket.SHUT_WR)
            try:
                assert isinstance(read_frame(right, timeout=0.2), dict)
            except (FrameError, TimeoutError):
                pass

    run()


def test_server_survives_a_handler_reply_that_cannot_be_encoded(socket_dir):
    """An engine bug (a reply too big, or not JSON) must cost one error reply, not the IPC thread."""
    replies = iter([{"blob": "x" * (MAX_FRAME + 10)}, {"bad": object()}, dict(STATUS)])
    with IPCServer(str(socket_dir / "h.sock"), lambda command, payload: next(replies),
                   read_timeout=READ_TIMEOUT) as srv:
        assert "cannot be encoded" in send_command(srv.socket_path, "status")["error"]
        assert "cannot be encoded" in send_command(srv.socket_path, "status")["error"]
        assert send_command(srv.socket_path, "status") == STATUS
    assert not os.path.exists(srv.socket_path)
