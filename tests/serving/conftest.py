"""Helpers of the serving tests: the Django app behind the replay, counted, and one request to it."""

import asyncio
import io

import pytest
from django.core.asgi import get_asgi_application
from django.core.wsgi import get_wsgi_application

from serving.replay import ReplayWSGI


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


class CountingASGI:
    def __init__(self):
        self.app = get_asgi_application()
        self.calls = 0

    async def __call__(self, scope, receive, send):
        self.calls += 1
        await self.app(scope, receive, send)


async def asgi_request(app, path, **headers):
    """(status, headers by lower-case name, body) of one ASGI HTTP request."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"localhost"), *((k.encode(), v.encode()) for k, v in headers.items())],
             "client": ("127.0.0.1", 1234), "server": ("localhost", 80)}
    messages = []
    requested = asyncio.Event()

    async def receive():
        if not requested.is_set():
            requested.set()
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.sleep(3600)

    async def send(message):
        messages.append(message)
    await asyncio.wait_for(app(scope, receive, send), timeout=10)
    start = messages[0]
    return (start["status"], {bytes(k).decode().lower(): bytes(v).decode() for k, v in start["headers"]},
            b"".join(m.get("body", b"") for m in messages[1:]))


def asgi_call(app, path, **headers):
    return asyncio.run(asgi_request(app, path, **headers))


@pytest.fixture
def behind_a_proxy(settings):
    """Set before the Django app is built: SecurityMiddleware reads its settings once."""
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 3600
