"""What every read view shares: rendered payloads reused by file state (and age, for live ones), ETag/Last-Modified and 304s."""

import json
from typing import Any, Callable

from django.http import HttpResponse
from django.utils.cache import get_conditional_response, patch_vary_headers
from django.utils.http import http_date
from rest_framework.response import Response

from common.conf import orchestrator_settings
from api.replayable import mark_replayable
from api.readcache import LIVE_TTL_S, Compute, Payload, payloads
from orchestrator.layout import RepoLayout


def repo_layout() -> RepoLayout:
    return orchestrator_settings().layout


def validated_query(serializer_class, request) -> dict:
    """The query string through a serializer; a bad value is a 400 in the project's error shape."""
    query = serializer_class(data=request.query_params)
    query.is_valid(raise_exception=True)
    return query.validated_data


def cached_read(request, *, key: tuple, compute: Compute):
    """Answer from the payload for `key`, computing it only when the plan files changed since.

    `compute()` returns (serialized data, newest mtime of the files read). Errors it raises
    (404, 503 ...) are answered as usual and never cached.
    """
    payload = payloads.get(layout=repo_layout(), key=key, compute=compute)
    mark_replayable(payload, request)  # reads look the same to every client allowed to make them
    return _respond(request, payload)


def live_read(request, *, key: tuple, compute: Callable[[], Any]):
    """Answer data that depends on more than files (clock, pids, IPC): reused for LIVE_TTL_S at most."""
    payload = payloads.get(layout=repo_layout(), key=("live", *key), compute=lambda: (compute(), None),
                           ttl=LIVE_TTL_S)
    mark_replayable(payload, request)
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
