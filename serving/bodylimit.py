"""The request body limit, enforced where the server receives bytes, before anything buffers or parses them.

Django checks DATA_UPLOAD_MAX_MEMORY_SIZE only when a view reads the body, which is too
late under both servers we run: daphne (Twisted) has read the whole body into memory or a
temporary file and parsed any form in it before the application is called (see
serving/daphne_request.py), and Django's WSGI handler streams a chunked body nobody bounds.
So the one limit, DATA_UPLOAD_MAX_MEMORY_SIZE, is checked against Content-Length on arrival,
and a body of unknown length is counted as it comes in.
"""

import io
import json

from django.conf import settings

from common.errors import error_body, request_too_large_body


def body_limit() -> int | None:
    """Largest request body accepted, in bytes (None: no limit)."""
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def declared_length(value: bytes | str | None) -> int | None:
    """Content-Length as a number; raises ValueError for anything but decimal digits (RFC 9110 8.6)."""
    if value is None:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    if not text.strip().isascii() or not text.strip().isdigit():
        raise ValueError(f"malformed Content-Length {text!r}")
    return int(text)


def json_error(status: int) -> bytes:
    """The body of a refusal made before Django runs: 413 for a body too large, 400 for a malformed length."""
    if status == 413:
        return json.dumps(request_too_large_body()).encode()
    return json.dumps(error_body("bad_request", "Malformed Content-Length header.")).encode()


class BodyLimitWSGI:
    """WSGI wrapper (orchestrator_site/wsgi.py): refuses an oversized body from its Content-Length
    without reading it, and reads a chunked one (which Django would otherwise see as empty) up to
    the limit only."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        limit = body_limit()
        if limit is None:
            return self.app(environ, start_response)
        try:
            length = declared_length(environ.get("CONTENT_LENGTH") or None)
        except ValueError:
            return self._refuse(start_response, 400)
        if length is not None:
            if length > limit:
                return self._refuse(start_response, 413)
        elif "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            body = environ["wsgi.input"].read(limit + 1)
            if len(body) > limit:
                return self._refuse(start_response, 413)
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
        return self.app(environ, start_response)

    @staticmethod
    def _refuse(start_response, status: int):
        body = json_error(status)
        reason = "413 Content Too Large" if status == 413 else "400 Bad Request"
        start_response(reason, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]
