"""Unix-socket request/response protocol, wire-compatible with the existing orchestrator tools."""

from __future__ import annotations

import json
import logging
import os
import selectors
import socket
import stat
import struct
import threading
import time
from typing import Callable

from .clock import Clock, iso_now, utc_now
from .errors import FrameError, OrchestratorUnavailable
from .layout import check_instance_id

logger = logging.getLogger(__name__)

MAX_FRAME = 65536  # bytes of JSON after the length prefix; the existing tools refuse more
COMMANDS = ("status", "pause", "resume", "shutdown")
_HEADER = struct.Struct(">I")
_PEERCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid

Handler = Callable[[str, dict], dict]


def default_socket_path(instance_id: str) -> str:
    return f"/tmp/orchestrator-{check_instance_id(instance_id)}.sock"


def make_message(type_: str, command: str, payload: dict | None, *, clock: Clock = utc_now) -> dict:
    return {"type": type_, "command": command, "payload": payload or {}, "timestamp": iso_now(clock)}


def encode_frame(message: dict) -> bytes:
    body = json.dumps(message, separators=(",", ":")).encode("utf-8")
    if len(body) > MAX_FRAME:
        raise FrameError(f"Frame of {len(body)} bytes exceeds {MAX_FRAME}.", size=len(body))
    return _HEADER.pack(len(body)) + body


def _recv_exact(sock: socket.socket, size: int, deadline: float) -> bytes:
    chunks, got = [], 0
    while got < size:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("Timed out reading a frame.")
        sock.settimeout(remaining)
        chunk = sock.recv(min(size - got, 65536))
        if not chunk:
            raise FrameError(f"Connection closed after {got} of {size} bytes.", reason="short")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def read_frame(sock: socket.socket, *, timeout: float) -> dict:
    """Read one frame within `timeout` seconds in total (TimeoutError), or raise FrameError."""
    deadline = time.monotonic() + timeout
    (size,) = _HEADER.unpack(_recv_exact(sock, _HEADER.size, deadline))
    if size > MAX_FRAME:
        raise FrameError(f"Frame of {size} bytes exceeds {MAX_FRAME}.", reason="oversize", size=size)
    body = _recv_exact(sock, size, deadline)
    try:
        message = json.loads(body.decode("utf-8"))
    except ValueError:
        raise FrameError("Frame is not UTF-8 JSON.", reason="garbage") from None
    if not isinstance(message, dict):
        raise FrameError("Frame is not a JSON object.", reason="garbage")
    return message


def peer_uid(sock: socket.socket, socket_path: str) -> int:
    """The uid of the process listening on the other end of a connected Unix socket.

    Linux reports the listener's credentials (SO_PEERCRED), which no file trickery can
    fake; elsewhere the owner of the socket file is the best available answer.
    """
    if hasattr(socket, "SO_PEERCRED"):
        _pid, uid, _gid = _PEERCRED.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size))
        return uid
    return os.stat(socket_path).st_uid


def send_command(socket_path: str, command: str, payload: dict | None = None, *, timeout: float = 2.0) -> dict:
    """Send one request and return the reply's payload ({"ack": ...} or {"error": ...}).

    `timeout` bounds connect, send and receive together, so a wedged orchestrator costs a
    caller (an HTTP request) at most that long; every failure is OrchestratorUnavailable.

    Socket paths come from the registry, a file any tool of the repository may write, so
    nothing is sent until the listener is known to run as our own user: a path aimed at
    some other service's socket (another user's, an abstract one, a symlink to one) gets
    OrchestratorUnavailable(reason="untrusted_socket") and never sees a byte.
    """
    deadline = time.monotonic() + timeout
    frame = encode_frame(make_message("request", command, payload))

    def unavailable(reason: str) -> OrchestratorUnavailable:
        return OrchestratorUnavailable(f"Orchestrator at {socket_path} {reason}.", reason=reason)

    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(socket_path)
            if peer_uid(sock, socket_path) != os.geteuid():
                raise OrchestratorUnavailable(
                    f"Refused {socket_path}: its listener does not run as this server's user.",
                    reason="untrusted_socket")
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
            try:
                sock.sendall(frame)
            except (BrokenPipeError, ConnectionResetError):
                pass  # a server that answers before reading (busy) has closed: its reply says why
            reply = read_frame(sock, timeout=deadline - time.monotonic())
    except (FileNotFoundError, ConnectionRefusedError):
        raise unavailable("is not listening") from None
    except TimeoutError:
        raise unavailable(f"did not answer within {timeout:g} s") from None
    except FrameError as exc:
        raise unavailable(f"sent a malformed reply ({exc.message})") from None
    except OSError as exc:
        raise unavailable(f"cannot be reached ({exc.strerror or exc})") from None
    if not isinstance(reply.get("payload"), dict):
        raise unavailable("sent a reply without a payload object")
    return reply["payload"]


class IPCServer:
    """Serves one instance's socket: one request, one response, then close.

    Each connection gets its own thread and a total read deadline, so a client that sends
    half a frame and goes silent delays nobody else; at most `max_connections` are served
    at once and the rest are told the server is busy.
    """

    def __init__(
        self,
        socket_path: str,
        handler: Handler,
        *,
        read_timeout: float = 2.0,
        max_connections: int = 16,
        clock: Clock = utc_now,
    ):
        self.socket_path = socket_path
        self._handler = handler
        self._read_timeout = read_timeout
        self._slots = threading.BoundedSemaphore(max_connections)
        self._clock = clock
        self._listener: socket.socket | None = None
        self._identity: tuple[int, int] | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake: tuple[socket.socket, socket.socket] | None = None

    def start(self) -> None:
        self._remove_stale_socket()
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(self.socket_path)
            # Before listen() every connect is refused, so there is no window with looser modes.
            os.chmod(self.socket_path, 0o600)
            listener.listen(32)
        except OSError:
            listener.close()
            raise
        info = os.stat(self.socket_path)
        self._identity = (info.st_dev, info.st_ino)
        listener.setblocking(False)
        self._listener = listener
        self._wake = socket.socketpair()  # lets stop() interrupt select() at once, without polling
        self._thread = threading.Thread(target=self._serve, name=f"ipc:{self.socket_path}", daemon=True)
        self._thread.start()

    def _remove_stale_socket(self) -> None:
        try:
            info = os.lstat(self.socket_path)
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(info.st_mode):
            raise FileExistsError(f"{self.socket_path} exists and is not a socket.")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.settimeout(0.5)
            try:
                probe.connect(self.socket_path)
            except OSError:
                os.unlink(self.socket_path)  # nobody listens: left behind by a dead process
                return
        raise FileExistsError(f"Another process is listening on {self.socket_path}.")

    def stop(self) -> None:
        if self._listener is None:
            return
        self._stop.set()
        self._wake[1].send(b"x")
        self._thread.join(timeout=5)
        self._listener.close()
        self._listener = None
        for end in self._wake:
            end.close()
        try:
            info = os.lstat(self.socket_path)
            if (info.st_dev, info.st_ino) == self._identity:  # never remove a successor's socket
                os.unlink(self.socket_path)
        except FileNotFoundError:
            pass

    def __enter__(self) -> "IPCServer":
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _serve(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self._listener, selectors.EVENT_READ)
            selector.register(self._wake[0], selectors.EVENT_READ)
            while not self._stop.is_set():
                for key, _ in selector.select():
                    if key.fileobj is self._listener:
                        self._accept()

    def _accept(self) -> None:
        try:
            conn, _ = self._listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            logger.exception("IPC accept failed on %s", self.socket_path)
            return
        conn.setblocking(True)
        if not self._slots.acquire(blocking=False):
            self._reply(conn, "", {"error": "busy: too many concurrent connections"})
            conn.close()
            return
        threading.Thread(target=self._handle, args=(conn,), name="ipc-conn", daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            with conn:
                self._respond(conn)
        finally:
            self._slots.release()

    def _respond(self, conn: socket.socket) -> None:
        try:
            request = read_frame(conn, timeout=self._read_timeout)
        except TimeoutError:
            logger.warning("IPC client on %s sent no complete frame in time", self.socket_path)
            return
        except FrameError as exc:
            if exc.details.get("reason") != "short":
                self._reply(conn, "", {"error": exc.message})
            return
        except OSError:
            return
        command, payload = request.get("command"), request.get("payload")
        if payload is None:
            payload = {}
        if not isinstance(command, str) or not isinstance(payload, dict):
            self._reply(conn, "", {"error": "request needs a string command and an object payload"})
            return
        if command not in COMMANDS:
            self._reply(conn, command, {"error": f"unknown command: {command[:100]}"})
            return
        try:
            reply = self._handler(command, payload)
            if not isinstance(reply, dict):
                raise TypeError(f"handler returned {type(reply).__name__}, not dict")
        except Exception as exc:
            logger.exception("IPC handler failed on %r", command)
            reply = {"error": f"{command} failed: {exc}"}
        self._reply(conn, command, reply)

    def _reply(self, conn: socket.socket, command: str, payload: dict) -> None:
        try:
            frame = encode_frame(make_message("response", command, payload, clock=self._clock))
        except (FrameError, TypeError, ValueError) as exc:
            logger.error("IPC reply to %r cannot be sent: %s", command, exc)
            error = {"error": f"{command} reply cannot be encoded"}
            frame = encode_frame(make_message("response", command, error, clock=self._clock))
        try:
            conn.settimeout(self._read_timeout)
            conn.sendall(frame)
        except OSError:
            logger.debug("IPC client on %s left before the reply", self.socket_path)
