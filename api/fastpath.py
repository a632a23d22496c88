"""Replays Django's own response to a repeated anonymous GET of a cached read, before Django runs.

Django's request path (handler, signals, ten middleware, DRF's negotiation and
permissions) costs several times more than serving a cached payload, and under ASGI it
adds a thread hop per request. So the WSGI and ASGI entry points wrap the Django app:
a GET without credentials or If-Match whose exact response Django already produced
(same path, query, host, Accept and Origin; every header, CORS and security ones
included) is answered from memory for as long as the view's files are unchanged, as
told by the same ChangeFeed the view used. Everything else goes to Django untouched,
and only responses a view marked as replayable (open reads) are ever stored.
"""

import threading
from collections import OrderedDict
from contextvars import ContextVar
from dataclasses import dataclass

from django.utils.http import parse_http_date_safe

from .conf import orchestrator_settings
from .readcache import Payload

# Headers a 304 keeps (RFC 9110 15.4.5), plus CORS so that browsers accept it cross-origin.
_NOT_MODIFIED_KEEP = {"etag", "last-modified", "vary", "cache-control", "expires", "content-location"}
# Request headers a stored response may vary on: Accept and Origin are in the key, and
# replayed requests carry no Cookie or Authorization.
_VARY_OK = {"accept", "origin", "cookie", "authorization"}
# Requests Django must see: credentials (the answer may differ per user) and preconditions
# that can fail with 412.
_BYPASS = ("cookie", "authorization", "if-match", "if-unmodified-since")
_BYPASS_WSGI = frozenset("HTTP_" + name.upper().replace("-", "_") for name in _BYPASS)
_BYPASS_ASGI = frozenset(name.encode() for name in _BYPASS)


class _Slot:
    """Per-request note from the view: the payload its response was rendered from."""

    __slots__ = ("payload",)

    def __init__(self):
        self.payload: Payload | None = None


_slot: ContextVar[_Slot | None] = ContextVar("orchestrator_replay_slot", default=None)


def mark_replayable(payload: Payload) -> None:
    """Called by a read view that answered an anonymous request from `payload`; no-op outside the wrappers."""
    slot = _slot.get()
    if slot is not None and payload.generation is not None:  # without a generation it could never be revalidated
        slot.payload = payload


@dataclass(frozen=True)
class _Entry:
    payload: Payload
    status: int
    headers: list      # as the server interface wants them: (str, str) for WSGI, [bytes, bytes] for ASGI
    not_modified_headers: list
    body: bytes

    def current(self) -> bool:
        return self.payload.generation is not None and self.payload.feed.generation() == self.payload.generation

    def not_modified(self, if_none_match: str | None, if_modified_since: str | None) -> bool:
        if if_none_match:
            tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
            return "*" in tags or self.payload.etag in tags
        if if_modified_since and self.payload.last_modified is not None:
            since = parse_http_date_safe(if_modified_since)
            return since is not None and int(self.payload.last_modified) <= since
        return False


class _Store:
    def __init__(self, maxsize: int):
        self.maxsize = maxsize
        self._entries: OrderedDict[tuple, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if not entry.current():
            with self._lock:
                self._entries.pop(key, None)
            return None
        return entry

    def put(self, key: tuple, entry: _Entry) -> None:
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)


def _storable(status: int, headers: dict[str, str]) -> bool:
    if status != 200 or "set-cookie" in headers:
        return False
    if not headers.get("content-type", "").startswith("application/json"):
        return False
    vary = {item.strip().lower() for item in headers.get("vary", "").split(",") if item.strip()}
    return vary <= _VARY_OK


class ReplayWSGI:
    """WSGI wrapper around Django's application (see orchestrator_site/wsgi.py)."""

    def __init__(self, app, *, maxsize: int = 512):
        self.app = app
        self._store = _Store(maxsize)

    def __call__(self, environ, start_response):
        if environ["REQUEST_METHOD"] != "GET" or not _BYPASS_WSGI.isdisjoint(environ):
            return self.app(environ, start_response)
        key = (orchestrator_settings(), environ.get("wsgi.url_scheme"), environ.get("HTTP_HOST"),
               environ.get("PATH_INFO"), environ.get("QUERY_STRING"), environ.get("HTTP_ACCEPT"),
               environ.get("HTTP_ORIGIN"))
        entry = self._store.get(key)
        if entry is not None:
            if entry.not_modified(environ.get("HTTP_IF_NONE_MATCH"), environ.get("HTTP_IF_MODIFIED_SINCE")):
                start_response("304 Not Modified", entry.not_modified_headers)
                return []
            start_response("200 OK", entry.headers)
            return [entry.body]
        return self._forward(key, environ, start_response)

    def _forward(self, key, environ, start_response):
        slot = _Slot()
        token = _slot.set(slot)
        seen = {}

        def recording_start_response(status, headers, exc_info=None):
            seen["status"], seen["headers"] = status, headers
            return start_response(status, headers, exc_info)

        try:
            result = self.app(environ, recording_start_response)
        finally:
            _slot.reset(token)
        if slot.payload is None or "status" not in seen:
            return result
        status = int(seen["status"].split(" ", 1)[0])
        headers = seen["headers"]
        if not _storable(status, {name.lower(): value for name, value in headers}):
            return result
        try:
            body = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        kept = [(name, value) for name, value in headers if _keep_on_304(name.lower())]
        self._store.put(key, _Entry(slot.payload, status, list(headers), kept, body))
        return [body]


class ReplayASGI:
    """ASGI wrapper around Django's HTTP application (see orchestrator_site/asgi.py)."""

    def __init__(self, app, *, maxsize: int = 512):
        self.app = app
        self._store = _Store(maxsize)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "GET":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        if not _BYPASS_ASGI.isdisjoint(headers):
            return await self.app(scope, receive, send)
        key = (orchestrator_settings(), scope.get("scheme"), headers.get(b"host"), scope["path"],
               scope.get("query_string"), headers.get(b"accept"), headers.get(b"origin"))
        entry = self._store.get(key)
        if entry is None:
            return await self._forward(key, scope, receive, send)
        if_none_match, if_modified_since = headers.get(b"if-none-match"), headers.get(b"if-modified-since")
        if entry.not_modified(if_none_match and if_none_match.decode("latin-1"),
                              if_modified_since and if_modified_since.decode("latin-1")):
            await send({"type": "http.response.start", "status": 304, "headers": entry.not_modified_headers})
            await send({"type": "http.response.body", "body": b""})
            return
        await send({"type": "http.response.start", "status": 200, "headers": entry.headers})
        await send({"type": "http.response.body", "body": entry.body})

    async def _forward(self, key, scope, receive, send):
        slot = _Slot()
        token = _slot.set(slot)
        state = {"record": False, "chunks": []}

        async def recording_send(message):
            if message["type"] == "http.response.start":
                # The view has run by now; only a marked, storable response is copied.
                headers = {bytes(name).decode("latin-1").lower(): bytes(value).decode("latin-1")
                           for name, value in message.get("headers", [])}
                state["record"] = slot.payload is not None and _storable(message["status"], headers)
                state["start"] = message
            elif message["type"] == "http.response.body" and state["record"]:
                state["chunks"].append(message.get("body", b""))
                if not message.get("more_body", False):
                    start = state["start"]
                    headers = [[bytes(name), bytes(value)] for name, value in start.get("headers", [])]
                    kept = [pair for pair in headers if _keep_on_304(pair[0].decode("latin-1").lower())]
                    self._store.put(key, _Entry(slot.payload, 200, headers, kept, b"".join(state["chunks"])))
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            _slot.reset(token)


def _keep_on_304(name: str) -> bool:
    return name in _NOT_MODIFIED_KEEP or name.startswith("access-control-")
