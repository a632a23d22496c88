"""A real HTTP receiver for the webhook tests and bench: http.server in a thread on a free loopback port.

It answers each POST with the next status of its script (the last one repeats), or holds the
connection open until released (`hang`), and keeps every request it got.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict
    body: bytes
    at: float  # time.time() when the body was read, to compare with event timestamps


class Receiver:
    def __init__(self, statuses=(200,), *, hang: bool = False):
        self.statuses = list(statuses)
        self.hang = hang
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._arrived:
                    receiver.requests.append(Received(self.path, dict(self.headers), body, time.time()))
                    index = len(receiver.requests) - 1
                    receiver._arrived.notify_all()
                if receiver.hang:
                    receiver._release.wait(30)
                    return
                status = receiver.statuses[min(index, len(receiver.statuses) - 1)]
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="webhook-receiver", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def start(self) -> "Receiver":
        self.thread.start()
        return self

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Until `count` requests arrived; AssertionError with what did otherwise."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(self.requests)} of {count} webhook requests arrived")
                self._arrived.wait(left)
            return list(self.requests)

    def stop(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()
