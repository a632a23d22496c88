"""The request class daphne serves HTTP with: a body limit before buffering, no form parsing, JSON errors, no credentials logged.

Daphne takes Twisted's request as it is: Twisted buffers the whole body (memory, then a
temporary file) and, for a POST form, parses all of it into `request.args` in the reactor
thread before daphne calls the application. One anonymous 100 MB form took 1.77 GB and
30 s of the only thread serving every client. Daphne has no option for a body limit, and
its HTTP factory names `daphne.http_protocol.WebRequest` when it builds each connection,
so `install()` points that name at this subclass; orchestrator_site/asgi.py calls it, which
covers every way the project serves (the daphne CLI, `serve`, `runserver`, `orchestrate
--api-server`), since each imports the application before it listens.
"""

import json
import logging
from urllib.parse import unquote_to_bytes

from daphne import http_protocol

from .bodylimit import body_limit, json_error
from common.errors import error_body

logger = logging.getLogger(__name__)

# Query parameters that carry a credential (`?token=` is how EventSource authenticates).
CREDENTIAL_PARAMETERS = frozenset({b"token", b"access_token", b"ticket"})
# A refused client may still be sending its body: it is read and dropped this long so that the
# client sees the 413 (closing on unread data would reset the connection), then cut off.
REFUSAL_LINGER_S = 5.0
# Codes for daphne's own refusals (bad path, header or query bytes; the app timed out or crashed).
BASIC_ERROR_CODES = {400: "bad_request", 500: "server_error", 503: "service_unavailable"}


def redact_credentials(uri: bytes) -> bytes:
    """The request target as the access log may show it: credential parameters keep their name only."""
    path, sep, query = uri.partition(b"?")
    if not sep:
        return uri
    items = []
    for item in query.split(b"&"):
        name = item.split(b"=", 1)[0]
        items.append(name + b"=[redacted]" if unquote_to_bytes(name).lower() in CREDENTIAL_PARAMETERS else item)
    return path + b"?" + b"&".join(items)


class GuardedWebRequest(http_protocol.WebRequest):
    def __init__(self, *args, **kwargs):
        # Daphne never reads request.args, so Twisted's form parsing is pure cost (and a bare
        # 400 with no body for a malformed multipart one); Django parses what a view asks for.
        kwargs["parsePOSTFormSubmission"] = False
        super().__init__(*args, **kwargs)
        self._received = 0
        self._refused = False
        self._linger = None

    def gotLength(self, length):
        limit = body_limit()
        if limit is not None and length is not None and length > limit:
            self._refuse(length)
        super().gotLength(0 if self._refused else length)

    def handleContentChunk(self, data):
        if self._refused:
            return
        self._received += len(data)
        limit = body_limit()
        if limit is not None and self._received > limit:  # a chunked body: its length is only known as it comes
            self._refuse(None)
            return
        super().handleContentChunk(data)

    def requestReceived(self, command, path, version):
        if not self._refused:
            super().requestReceived(command, path, version)

    def connectionLost(self, reason):
        if self._linger is not None and self._linger.active():
            self._linger.cancel()
        super().connectionLost(reason)

    def handle_reply(self, message):
        if message.get("type") == "http.response.body" and not message.get("more_body", False) \
                and getattr(self, "uri", None):
            # Daphne reads self.uri once more after this, to write the access-log line.
            self.uri = redact_credentials(self.uri)
        super().handle_reply(message)

    def basic_error(self, status, status_text, body):
        payload = json.dumps(error_body(BASIC_ERROR_CODES.get(status, "error"), body)).encode()
        self.handle_reply({"type": "http.response.start", "status": status,
                           "headers": [(b"Content-Type", b"application/json")]})
        self.handle_reply({"type": "http.response.body", "body": payload})

    def _refuse(self, length: int | None) -> None:
        """Answer 413 before the body is stored, then drop what the client still sends."""
        self._refused = True
        # Twisted would answer `Expect: 100-continue` right after this, inviting the body.
        self.requestHeaders.removeHeader(b"Expect")
        body = json_error(413)
        transport = self.channel.transport
        transport.write(b"HTTP/1.1 413 Content Too Large\r\nContent-Type: application/json\r\n"
                        b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
        transport.loseWriteConnection()
        self._linger = self.channel.callLater(REFUSAL_LINGER_S, transport.abortConnection)
        peer = getattr(self.client, "host", None)
        logger.warning("Refused a request body of %s bytes from %s (limit %s).",
                       length if length is not None else "over", peer, body_limit())


def install() -> None:
    http_protocol.WebRequest = GuardedWebRequest
