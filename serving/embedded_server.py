"""Serves the Django ASGI app with daphne from inside another process (`orchestrate --api-server`).

Daphne runs in a daemon thread with its asyncio reactor: the orchestrator keeps its main
thread and its signal handlers, and, with the in-memory layer, its bus can publish
straight into the server's consumers (LayerPublisher on `server.loop`). Binding is
refused, as by `manage.py serve`, on a non-loopback host while reads or commands would
be open to anyone (common.checks.serving_errors). The ASGI application is passed in (the
commands pass Channels' ASGI_APPLICATION), so nothing here imports the project package.
"""

from __future__ import annotations

import logging
import threading
import time

from django.core.checks import ERROR
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)


def bind(host: str) -> None:
    """Refuse to serve on `host` where the bind check finds an error; log its warnings."""
    from common.checks import serving_errors

    messages = serving_errors(host)
    errors = [m for m in messages if m.level >= ERROR]
    if errors:
        raise ImproperlyConfigured("\n".join(f"{m.msg} ({m.hint})" for m in errors))
    for message in messages:
        logger.warning("%s", message.msg)


class EmbeddedServer:
    def __init__(self, application, host: str = "127.0.0.1", port: int = 8000):
        self.application = application
        self.host = host
        self.port = port
        self._server = None
        self._thread: threading.Thread | None = None
        self.loop = None

    def start(self, timeout: float = 10.0) -> None:
        bind(self.host)
        # Importing daphne.server installs Twisted's asyncio reactor: only now, never at import.
        from daphne.server import Server, twisted_loop

        from realtime.bridge.autostart import start_with_reactor

        from .daphne_endpoint import listen_endpoint

        start_with_reactor()
        ready = threading.Event()
        self._server = Server(
            application=self.application,
            endpoints=[listen_endpoint(self.host, self.port)],
            signal_handlers=False,  # the orchestrator's own handlers stop us (stop())
            ready_callable=ready.set,
            verbosity=0,
        )
        self.loop = twisted_loop
        self._thread = threading.Thread(target=self._server.run, name="api-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        ready.wait(timeout)
        while not self._server.listening_addresses and time.monotonic() < deadline:
            if not self._thread.is_alive():
                break
            time.sleep(0.01)
        if not self._server.listening_addresses:
            raise RuntimeError(f"The API server did not start listening on {self.host}:{self.port}.")
        self.port = self._server.listening_addresses[0][1]
        logger.info("API server listening on http://%s:%s/", self.host, self.port)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread is None:
            return
        from twisted.internet import reactor

        reactor.callFromThread(reactor.stop)
        self._thread.join(timeout)
        self._thread = None
