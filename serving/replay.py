"""Replays Django's own response to a repeated GET of a cached read, before Django runs.

Django's request path (handler, signals, ten middleware, DRF's negotiation,
authentication and permissions) costs several times more than serving a cached payload,
and under ASGI it adds a thread per request: on daphne it cannot serve even a hello-world
as fast as a replay. So the WSGI and ASGI entry points wrap the Django app: a GET without
If-Match whose exact response Django already produced (same scheme, path, query, host,
Accept and Origin, the same kind of client: anonymous, token or session, and the same kind
of connection: loopback or not: `replay_key`) is answered from memory for as long as the
view's payload is current: files unchanged, as told by the same ChangeFeed the view used,
and for live reads not older than their short time to live. A token or session key is only replayed
to while Django accepted it moments ago (api/credentials.py). Everything else goes to
Django untouched, and only responses a read view marked as replayable are ever stored.
No middleware runs for a replayed request: serving/checks.py says which are safe with that.

Under ASGI, requests that find their entry outdated wait for the one of them that went
to Django instead of all going; an entry that only expired is answered to the others
while that one request refreshes it.
"""

import asyncio
from dataclasses import dataclass

from django.conf import settings
from django.http.cookie import parse_cookie
from django.utils.http import parse_http_date_safe

from api.credentials import ANONYMOUS, AcceptedCredentials, Identity
from api.credentials import CURRENT as ACCEPTED
from api.credentials import EXPIRED as TO_RECHECK
from api.readcache import CURRENT, EXPIRED, Payload, read_caches
from api.replayable import ReplaySlot, replay_slot
from common.conf import is_loopback, orchestrator_settings
from orchestrator.lru import BoundedLRU

# Headers a 304 keeps (RFC 9110 15.4.5), plus CORS so that browsers accept it cross-origin.
_NOT_MODIFIED_KEEP = {"etag", "last-modified", "vary", "cache-control", "expires", "content-location"}
# Request headers a stored response may vary on: Accept and Origin are in the key, and
# the credentials by the kind of client.
_VARY_OK = {"accept", "origin", "cookie", "authorization"}
# Preconditions that can fail with 412: Django must see them.
_BYPASS_WSGI = frozenset({"HTTP_IF_MATCH", "HTTP_IF_UNMODIFIED_SINCE"})
_BYPASS_ASGI = frozenset({b"if-match", b"if-unmodified-since"})
# How long requests wait for another one refreshing their entry before going to Django themselves.
_REFRESH_WAIT_S = 5.0


def client_identity(authorization: str | None, cookie: str | None) -> Identity | None:
    """Who DRF will take the request for (a token wins over the session), or None where only Django can tell."""
    if authorization is not None:
        scheme, _, key = authorization.strip().partition(" ")
        key = key.strip()
        if scheme.lower() != "token" or not key or " " in key:
            return None
        return ("token", key)
    if cookie is not None:
        session_key = parse_cookie(cookie).get(settings.SESSION_COOKIE_NAME)
        if session_key:
            return ("session", session_key)
    return ANONYMOUS


def replay_key(scheme, proxy_scheme, host, path, query, accept, origin, identity: Identity,
               client_address: str) -> tuple:
    """Everything besides the files that Django's answer to a GET may depend on, as either server interface gives it.

    `proxy_scheme` is the header Django takes the scheme from behind a proxy
    (SECURE_PROXY_SSL_HEADER), which decides HSTS and the HTTPS redirect. The orchestrator
    settings are in it too (the repository, who may read), so a response stored under one
    configuration is never replayed under another (override_settings).
    """
    return (orchestrator_settings(), scheme, proxy_scheme, host, path, query, accept, origin, identity[0],
            is_loopback(client_address))


def _proxy_scheme_header() -> str | None:
    """The WSGI name of SECURE_PROXY_SSL_HEADER's header, if Django is told to trust one."""
    configured = settings.SECURE_PROXY_SSL_HEADER
    return configured[0] if configured else None


@dataclass(frozen=True)
class _Entry:
    payload: Payload
    status: int
    headers: list      # as the server interface wants them: (str, str) for WSGI, [bytes, bytes] for ASGI
    not_modified_headers: list
    body: bytes

    def not_modified(self, if_none_match: str | None, if_modified_since: str | None) -> bool:
        if if_none_match:
            tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
            return "*" in tags or self.payload.etag in tags
        if if_modified_since and self.payload.last_modified is not None:
            since = parse_http_date_safe(if_modified_since)
            return since is not None and int(self.payload.last_modified) <= since
        return False


class _Replay:
    """What both wrappers keep: the responses they stored, and the credentials the views saw Django accept."""

    def __init__(self, app, maxsize: int):
        self.app = app
        self._entries: BoundedLRU[tuple, _Entry] = BoundedLRU(maxsize)
        self._credentials: AcceptedCredentials = read_caches().credentials

    def _lookup(self, key: tuple) -> tuple[_Entry | None, str | None]:
        """The entry for `key` and its payload's state (CURRENT or EXPIRED); (None, None) if none is usable."""
        entry = self._entries.get(key)
        if entry is None:
            return None, None
        state = entry.payload.state()
        if state not in (CURRENT, EXPIRED):
            self._entries.discard(key, entry)
            return None, None
        return entry, state

    def _learn(self, slot: ReplaySlot, identity: Identity, status: int | None) -> None:
        """Django refused the credential, or took the request for someone else: the replay must not accept it."""
        if status in (401, 403) or (slot.identity is not None and slot.identity != identity):
            self._credentials.forget(identity)


def _storable(status: int, headers: dict[str, str]) -> bool:
    if status != 200 or "set-cookie" in headers:
        return False
    if not headers.get("content-type", "").startswith("application/json"):
        return False
    vary = {item.strip().lower() for item in headers.get("vary", "").split(",") if item.strip()}
    return vary <= _VARY_OK


def _stored_for(slot: ReplaySlot, identity: Identity) -> bool:
    """A marked response Django produced for the kind of client the key names (not, say, one that fell back)."""
    return slot.payload is not None and slot.identity == identity


class ReplayWSGI(_Replay):
    """WSGI wrapper around Django's application (see orchestrator_site/wsgi.py)."""

    def __init__(self, app, *, maxsize: int = 512):
        super().__init__(app, maxsize)

    def __call__(self, environ, start_response):
        if environ["REQUEST_METHOD"] != "GET" or not _BYPASS_WSGI.isdisjoint(environ):
            return self.app(environ, start_response)
        identity = client_identity(environ.get("HTTP_AUTHORIZATION"), environ.get("HTTP_COOKIE"))
        if identity is None:
            return self.app(environ, start_response)
        proxy_header = _proxy_scheme_header()
        key = replay_key(environ.get("wsgi.url_scheme"), proxy_header and environ.get(proxy_header),
                         environ.get("HTTP_HOST"), environ.get("PATH_INFO"), environ.get("QUERY_STRING"),
                         environ.get("HTTP_ACCEPT"), environ.get("HTTP_ORIGIN"), identity,
                         environ.get("REMOTE_ADDR") or "")
        accepted = self._credentials.state(identity) == ACCEPTED
        entry, state = self._lookup(key) if accepted else (None, None)
        if state == CURRENT:
            if entry.not_modified(environ.get("HTTP_IF_NONE_MATCH"), environ.get("HTTP_IF_MODIFIED_SINCE")):
                start_response("304 Not Modified", entry.not_modified_headers)
                return []
            start_response("200 OK", entry.headers)
            return [entry.body]
        return self._forward(key, identity, environ, start_response)

    def _forward(self, key, identity, environ, start_response):
        slot = ReplaySlot()
        token = replay_slot.set(slot)
        seen = {}

        def recording_start_response(status, headers, exc_info=None):
            seen["status"], seen["headers"] = status, headers
            return start_response(status, headers, exc_info)

        try:
            result = self.app(environ, recording_start_response)
        finally:
            replay_slot.reset(token)
        status = int(seen["status"].split(" ", 1)[0]) if "status" in seen else None
        self._learn(slot, identity, status)
        if not _stored_for(slot, identity) or status is None:
            return result
        headers = seen["headers"]
        if not _storable(status, {name.lower(): value for name, value in headers}):
            return result
        try:
            body = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        kept = [(name, value) for name, value in headers if _keep_on_304(name.lower())]
        self._entries.put(key, _Entry(slot.payload, status, list(headers), kept, body))
        return [body]


class ReplayASGI(_Replay):
    """ASGI wrapper around Django's HTTP application (see orchestrator_site/asgi.py)."""

    def __init__(self, app, *, maxsize: int = 512):
        super().__init__(app, maxsize)
        self._refreshing: dict[tuple, asyncio.Future] = {}
        self._rechecking: set[Identity] = set()  # credentials past their time that one request is asking Django about

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "GET":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        if not _BYPASS_ASGI.isdisjoint(headers):
            return await self.app(scope, receive, send)
        authorization, cookie = headers.get(b"authorization"), headers.get(b"cookie")
        identity = client_identity(authorization and authorization.decode("latin-1"),
                                   cookie and cookie.decode("latin-1"))
        if identity is None:
            return await self.app(scope, receive, send)
        client = scope.get("client") or ("", 0)
        proxy_header = _proxy_scheme_header()
        proxy_scheme = proxy_header and headers.get(
            proxy_header.removeprefix("HTTP_").replace("_", "-").lower().encode("latin-1"))
        key = replay_key(scope.get("scheme"), proxy_scheme, headers.get(b"host"), scope["path"],
                         scope.get("query_string"), headers.get(b"accept"), headers.get(b"origin"), identity,
                         client[0] or "")
        accepted = self._credentials.state(identity)
        # Past its time, a credential is asked about by one request; the others go on meanwhile.
        if accepted is None or (accepted == TO_RECHECK and identity not in self._rechecking):
            return await self._forward(key, identity, scope, receive, send)
        entry, state = self._lookup(key)
        if state != CURRENT:
            refreshing = self._refreshing.get(key)
            if refreshing is None:
                return await self._forward(key, identity, scope, receive, send)
            if state != EXPIRED:  # the files changed: wait for the fresh answer rather than all asking Django
                try:
                    await asyncio.wait_for(asyncio.shield(refreshing), _REFRESH_WAIT_S)
                except asyncio.TimeoutError:
                    pass
                entry, state = self._lookup(key)
                if state != CURRENT:
                    return await self.app(scope, receive, send)
        if_none_match, if_modified_since = headers.get(b"if-none-match"), headers.get(b"if-modified-since")
        if entry.not_modified(if_none_match and if_none_match.decode("latin-1"),
                              if_modified_since and if_modified_since.decode("latin-1")):
            await send({"type": "http.response.start", "status": 304, "headers": entry.not_modified_headers})
            await send({"type": "http.response.body", "body": b""})
            return
        await send({"type": "http.response.start", "status": 200, "headers": entry.headers})
        await send({"type": "http.response.body", "body": entry.body})

    async def _forward(self, key, identity, scope, receive, send):
        slot = ReplaySlot()
        token = replay_slot.set(slot)
        state = {"record": False, "chunks": []}
        refreshing = None
        if key not in self._refreshing:
            refreshing = self._refreshing[key] = asyncio.get_running_loop().create_future()
        rechecking = identity != ANONYMOUS and identity not in self._rechecking
        if rechecking:
            self._rechecking.add(identity)

        async def recording_send(message):
            if message["type"] == "http.response.start":
                # The view has run by now; only a marked, storable response is copied.
                headers = {bytes(name).decode("latin-1").lower(): bytes(value).decode("latin-1")
                           for name, value in message.get("headers", [])}
                state["record"] = _stored_for(slot, identity) and _storable(message["status"], headers)
                state["start"] = message
                self._learn(slot, identity, message["status"])
            elif message["type"] == "http.response.body" and state["record"]:
                state["chunks"].append(message.get("body", b""))
                if not message.get("more_body", False):
                    start = state["start"]
                    headers = [[bytes(name), bytes(value)] for name, value in start.get("headers", [])]
                    kept = [pair for pair in headers if _keep_on_304(pair[0].decode("latin-1").lower())]
                    self._entries.put(key, _Entry(slot.payload, 200, headers, kept, b"".join(state["chunks"])))
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            replay_slot.reset(token)
            if rechecking:
                self._rechecking.discard(identity)
            if refreshing is not None:
                del self._refreshing[key]
                refreshing.set_result(None)


def _keep_on_304(name: str) -> bool:
    return name in _NOT_MODIFIED_KEEP or name.startswith("access-control-")
