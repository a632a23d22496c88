"""OpenAPI for the streams: the SSE operation and the frame shapes, under the Events tag.

The SSE handler is an async Django view, which DRF cannot host; a schema-only APIView
describes it, attached to the view the way DRF's `as_view()` attaches itself, so that
drf-spectacular lists the real path. WebSocket endpoints have no OpenAPI form; the
operation's description names them and docs/realtime.md describes the protocol.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.views import APIView

from orchestrator.events import EventType

FRAME_TYPES = [t.value for t in EventType] + ["snapshot", "gap", "reset", "ping"]

StreamFrame = inline_serializer(
    "StreamFrame",
    {
        "id": serializers.IntegerField(
            allow_null=True, required=False,
            help_text="Per-instance event sequence number; absent on snapshot, gap, reset and ping frames."),
        "type": serializers.ChoiceField(choices=FRAME_TYPES),
        "timestamp": serializers.CharField(help_text="ISO-8601 UTC with a Z."),
        "instance_id": serializers.CharField(allow_null=True),
        "data": serializers.DictField(
            help_text="Event data (shapes in docs/realtime.md); snapshot: {orchestrator, status, last_event_id}; "
                      "gap: {from_id, to_id, count, since}; reset: {reason, since, oldest_id, last_id}."),
    },
)

StreamError = inline_serializer(
    "StreamError",
    {"error": inline_serializer("StreamErrorBody", {
        "code": serializers.CharField(),
        "message": serializers.CharField(),
        "details": serializers.DictField(),
    })},
)

DESCRIPTION = """\
Server-Sent Events: every event of one orchestrator instance, as they happen.

The first frame is a `snapshot` (current status and `last_event_id`); with `Last-Event-ID`
(sent by EventSource on reconnect) or `?since=<id>` the events after that id follow from the
instance's journal, then live events; a cursor the journal no longer covers gets one `reset`
frame instead (refetch over REST). Events carry an `id:` line; a client that fell behind gets a
`gap` frame saying which ids to replay. Comment lines (`: ping`) keep proxies from timing out.

Authentication as for the REST reads: token header, session cookie, or `?token=<key>` (EventSource
cannot set headers).

The same frames over WebSocket: `ws(s)://<host>/api/orchestrators/{instance_id}/events`, tool events
only at `.../activity`, and every instance at `/api/events` (see docs/realtime.md).
"""


def _error(code: str, message: str) -> OpenApiExample:
    return OpenApiExample(code, response_only=True, value={"error": {"code": code, "message": message, "details": {}}})


class EventsSSESchema(APIView):
    """Never dispatched: realtime.stream.sse.events_sse serves the path."""

    @extend_schema(
        operation_id="orchestrators_events_sse",
        summary="Stream an instance's events (Server-Sent Events)",
        description=DESCRIPTION,
        tags=["Events"],
        parameters=[
            OpenApiParameter("id", OpenApiTypes.STR, OpenApiParameter.PATH,
                             description='Orchestrator instance id ("orch-<epoch ms>").'),
            OpenApiParameter("since", OpenApiTypes.INT, OpenApiParameter.QUERY,
                             description="Replay the events after this id."),
            OpenApiParameter("token", OpenApiTypes.STR, OpenApiParameter.QUERY,
                             description="API token, for clients that cannot send an Authorization header."),
            OpenApiParameter("Last-Event-ID", OpenApiTypes.INT, OpenApiParameter.HEADER,
                             description="Sent by EventSource on reconnect; wins over `since`."),
        ],
        responses={
            (200, "text/event-stream"): OpenApiResponse(
                StreamFrame, description="An endless stream; each `data:` line holds one StreamFrame as JSON.",
                examples=[OpenApiExample("task_changed", response_only=True, value={
                    "id": 42, "type": "task_changed", "timestamp": "2025-01-02T03:04:05.000Z",
                    "instance_id": "orch-1735787045000",
                    "data": {"task_id": "1.2", "description": "Add settings", "old_status": "in_progress",
                             "new_status": "completed", "phase": "Phase 1: Setup"}})]),
            400: OpenApiResponse(
                StreamError, description="`since` or `Last-Event-ID` is not an event id.",
                examples=[_error("invalid_cursor", "since must be an event id (0-9999999999999999999).")]),
            401: OpenApiResponse(
                StreamError, description="Reads need a login here, or the token is invalid.",
                examples=[_error("not_authenticated", "Authentication credentials were not provided.")]),
            404: OpenApiResponse(
                StreamError, description="No such orchestrator instance.",
                examples=[_error("instance_not_found", "No orchestrator instance 'orch-1'.")]),
            503: OpenApiResponse(
                StreamError, description="The channel layer (Redis) is unreachable; retry.",
                examples=[_error("channel_layer_unavailable", "Live events are unavailable; retry.")]),
        },
    )
    def get(self, request, id):  # noqa: A002
        raise NotImplementedError("schema only")


def documented(view):
    """Mark an async view as EventsSSESchema's, so DRF's endpoint enumerator includes it."""
    view.cls = EventsSSESchema
    view.initkwargs = {}
    return view
