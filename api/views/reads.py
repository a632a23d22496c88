"""What every read view shares: payloads reused by file state (and age, for live ones), ETag/Last-Modified, 304s.

A read view hands `cached_read` or `live_read` its computation and, if it takes a query,
the serializer validating it; the payload's key is derived here (`read_key`), never by the
view, so two requests share a payload exactly when they name the same resource.
"""

import json
from typing import Any, Callable

from django.http import HttpResponse
from django.utils.cache import get_conditional_response, patch_vary_headers
from django.utils.http import http_date
from rest_framework.response import Response

from common.conf import orchestrator_settings
from api.replayable import mark_replayable
from api.readcache import LIVE_TTL_S, Payload, read_caches
from orchestrator.layout import RepoLayout


def repo_layout() -> RepoLayout:
    return orchestrator_settings().layout


def validated_query(serializer_class, request) -> dict:
    """The query string through a serializer; a bad value is a 400 in the project's error shape."""
    query = serializer_class(data=request.query_params)
    query.is_valid(raise_exception=True)
    return query.validated_data


def read_key(request, query: dict | None) -> tuple:
    """What a read's payload depends on besides the files: its path (URL arguments included) and validated query.

    The validated query, not the raw string: parameters the serializer ignores (`format`,
    unknown ones) and spellings it normalises (`?archived=1` and `=true`) share a payload.
    """
    return (request.path, *sorted((query or {}).items()))


def cached_read(request, compute: Callable[..., tuple[Any, float | None]], *, query=None):
    """Answer from the payload of this request's resource, computing it only when the plan files changed since.

    `compute()`, or `compute(validated query)` when `query` names the serializer of the
    query string, returns (serialized data, newest mtime of the files read). A bad query is
    a 400; errors `compute` raises (404, 503 ...) are answered as usual and never cached.
    """
    return _read(request, compute, query=query, ttl=None)


def live_read(request, compute: Callable[..., Any], *, query=None):
    """As cached_read, for data that depends on more than files (clock, pids, IPC): reused for LIVE_TTL_S at most.

    `compute` returns the serialized data only: a live read has no Last-Modified.
    """
    return _read(request, lambda *args: (compute(*args), None), query=query, ttl=LIVE_TTL_S)


def _read(request, compute, *, query, ttl: float | None):
    params = validated_query(query, request) if query is not None else None
    payload = read_caches().payloads.get(layout=repo_layout(), key=read_key(request, params), ttl=ttl,
                                         compute=compute if params is None else lambda: compute(params))
    mark_replayable(payload, request)  # reads look the same to every client allowed to make them
    return _respond(request, payload)


def representation_etag(payload: Payload, media_format: str) -> str:
    """The payload's ETag for one rendering of it: JSON keeps the payload's own, others get a suffix.

    A browser that fetched the JSON and then opens the same URL must not be told its cached
    JSON is the browsable page (a 304 would show it raw), so each representation has its own.
    """
    return payload.etag if media_format == "json" else f'{payload.etag[:-1]}-{media_format}"'


def _respond(request, payload: Payload):
    last_modified = int(payload.last_modified) if payload.last_modified else None
    media_format = request.accepted_renderer.format
    etag = representation_etag(payload, media_format)
    response = get_conditional_response(request._request, etag=etag, last_modified=last_modified)
    if response is None:
        if media_format == "json":
            # The bytes DRF's JSONRenderer made when the payload was computed: no re-rendering.
            response = HttpResponse(payload.body, content_type="application/json")
        else:
            response = Response(json.loads(payload.body))  # the browsable API renders from data
    response["ETag"] = etag
    patch_vary_headers(response, ["Accept"])  # the answer depends on it: JSON or the browsable API
    if last_modified:
        response["Last-Modified"] = http_date(last_modified)
    # Stored copies must be revalidated: plan state changes while an orchestrator runs.
    response["Cache-Control"] = "no-cache"
    return response


def newest(timestamps) -> float | None:
    """Last-Modified of a list: its newest member's, none for an empty list."""
    return max(timestamps, default=None)
