"""Server-Sent Events: the WebSocket's frames over one long GET, for clients and proxies that prefer HTTP.

Same identities as the REST reads (token header, session, or `?token=` since EventSource
cannot set headers), same frames as the WebSocket: every frame carries an `event:` line
naming its type, so `EventSource.addEventListener("task_changed", ...)` works; events carry
an `id:` line, so a browser's EventSource resumes by itself with `Last-Event-ID`; snapshot,
gap and reset frames carry none; heartbeats are SSE comments. Needs an ASGI server (daphne, or
runserver with daphne installed): under WSGI it would hold a worker per client.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import re

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.http import JsonResponse, StreamingHttpResponse
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.settings import api_settings

from common.conf import orchestrator_settings
from common.errors import error_body
from common.permissions import may_read, request_connection

from ..bridge.autostart import ensure_bridge
from ..groups import EVENT_MESSAGE_TYPE, instance_group
from ..journals import open_journal
from . import snapshots
from .auth import user_for_token
from .driver import Keepalive, Membership, start_tasks, stop_tasks, stream_frames
from .eventstream import EventStream
from .flow import Backlog, ClientTooSlow, backlog_for
from .replay import InvalidCursor, parse_since

logger = logging.getLogger(__name__)

# Tells EventSource how long to wait before reconnecting after the stream drops.
RETRY_MS = 2000
# A stream whose channel layer fails tries again after this, doubling up to the max.
LAYER_RETRY_S = 0.5
LAYER_RETRY_MAX_S = 5.0


# An `event:` value is one line; a type read from a journal others may write is checked first.
_EVENT_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def render(frame: dict) -> bytes:
    """One SSE message: `id:` (events only), `event: <type>`, then the frame's JSON envelope as `data:`."""
    if frame.get("type") == "ping":
        return b": ping\n\n"
    data = json.dumps(frame, separators=(",", ":"))
    event_id, event_type = frame.get("id"), frame.get("type")
    head = f"id: {event_id}\n" if isinstance(event_id, int) else ""
    if isinstance(event_type, str) and _EVENT_NAME_RE.match(event_type):
        head += f"event: {event_type}\n"
    return f"{head}data: {data}\n\n".encode()


def _authenticate(request):
    """DRF's authenticators on a plain Django request: (user, None) or (None, APIException)."""
    drf_request = Request(request, authenticators=[cls() for cls in api_settings.DEFAULT_AUTHENTICATION_CLASSES])
    try:
        return drf_request.user, None
    except exceptions.APIException as exc:
        return None, exc


def _refused(exc: exceptions.APIException, status: int) -> JsonResponse:
    response = JsonResponse(error_body(str(exc.get_codes()), str(exc.detail)), status=status)
    if status == 401:
        response["WWW-Authenticate"] = "Token"
    return response


async def events_sse(request, id: str):  # noqa: A002 - the path parameter's public name
    instance_id = id
    token = request.GET.get("token")
    if token is not None:
        user = await user_for_token(token)
        if user is None:
            return _refused(exceptions.AuthenticationFailed("Invalid token."), 401)
    else:
        user, error = await sync_to_async(_authenticate)(request)
        if error is not None:
            return _refused(error, error.status_code)
    if not may_read(user, **request_connection(request)):
        return _refused(exceptions.NotAuthenticated(), 401)
    try:
        since = parse_since(request.headers.get("Last-Event-ID") or request.GET.get("since"))
    except InvalidCursor as exc:
        return JsonResponse(error_body(exc.code, str(exc)), status=400)
    if not await snapshots.instance_known(instance_id):
        return JsonResponse(error_body("instance_not_found", f"No orchestrator instance {instance_id!r}."),
                            status=404)
    layer = get_channel_layer()
    try:
        membership = Membership(layer, await layer.new_channel())
        await membership.join(instance_group(instance_id))
    except Exception as exc:
        logger.warning("Channel layer unreachable; refusing SSE stream (%s)", exc)
        response = JsonResponse(error_body("channel_layer_unavailable", "Live events are unavailable; retry."),
                                status=503)
        response["Retry-After"] = "1"
        return response
    await ensure_bridge()
    conf = orchestrator_settings()
    layout = conf.layout
    stream = EventStream(instance_id=instance_id, journal_for=lambda i: open_journal(layout, i),
                         queue_size=conf.ws_queue_size)
    body = _body(stream, membership, since, Keepalive(conf.ws_heartbeat_s), backlog_for(request.scope, conf))
    response = StreamingHttpResponse(body, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx would otherwise hold events back
    return response


async def _receive(stream: EventStream, membership: Membership) -> None:
    """Layer messages into the outbox. A failing layer (Redis down) is retried, not fatal: unlike a
    WebSocket (closed with 4503), an EventSource cannot be told to come back later, it treats an
    error answer as final. Meanwhile the keepalive fills the stream from the journal and renews its
    membership, so it is live again once the layer is back."""
    delay = LAYER_RETRY_S
    while True:
        try:
            message = await membership.layer.receive(membership.channel)
        except Exception as exc:
            logger.debug("SSE stream: channel layer unreachable, retrying in %.1f s (%s)", delay, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, LAYER_RETRY_MAX_S)
            continue
        delay = LAYER_RETRY_S
        if message.get("type") == EVENT_MESSAGE_TYPE:
            stream.offer(message["event"])


async def _body(stream: EventStream, membership: Membership, since: int | None, keepalive: Keepalive,
                backlog: Backlog):
    """The shared driver's frames, rendered; no pong over SSE: a dead client shows up as a failed write."""
    tasks = start_tasks(_receive(stream, membership), keepalive.run(stream, membership))
    try:
        yield f"retry: {RETRY_MS}\n\n".encode()
        snapshot = functools.partial(snapshots.snapshot_frame, stream.instance_id)
        frames = stream_frames(stream, since=since, snapshot=snapshot, backlog=backlog)
        while True:  # no name holds a frame between sends (see stream_frames)
            yield render(await anext(frames))
    except ClientTooSlow as exc:
        logger.info("Ending the SSE stream of a client that stopped reading: %s", exc)
        backlog.abort()  # what was left unread goes with the connection
    finally:
        await stop_tasks(tasks)
        await membership.leave()
