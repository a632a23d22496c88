"""WebSocket consumers: they turn layer messages into frames; the stream logic lives in realtime.stream.eventstream."""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from common.conf import orchestrator_settings

from ..apps import realtime_state
from ..bridge.autostart import ensure_bridge
from ..compat import DirectDispatchConsumer
from ..groups import ALL_GROUP, EVENT_MESSAGE_TYPE, instance_group
from ..journals import open_journal
from . import access, snapshots
from .auth import TOKEN_SUBPROTOCOL_PREFIX
from .driver import Keepalive, Membership, start_tasks, stop_tasks, stream_frames
from .eventstream import ACTIVITY_TYPES, EventStream
from .flow import ClientTooSlow, backlog_for
from .replay import InvalidCursor, parse_since

logger = logging.getLogger(__name__)

# A client may offer this subprotocol next to "token.<key>"; we then echo it, not the token.
SUBPROTOCOL = "orchestrator-events"

# What receive_from_layer hands the dispatch loop when the layer fails; no layer sends it.
LAYER_LOST = "layer.lost"


def choose_subprotocol(offered: list[str]) -> str | None:
    """Browsers fail a handshake whose reply names none of the offered subprotocols."""
    if SUBPROTOCOL in offered:
        return SUBPROTOCOL
    return next((p for p in offered if p.startswith(TOKEN_SUBPROTOCOL_PREFIX)), None)


class EventStreamConsumer(DirectDispatchConsumer):
    """All events of one instance: /api/orchestrators/{id}/events[?since=<id>]."""

    event_types: frozenset[str] | None = None
    # Neither touches the database (realtime.compat.DirectDispatchConsumer).
    direct_handlers = {EVENT_MESSAGE_TYPE: "orchestrator_event", LAYER_LOST: "layer_lost_message"}
    accepted = False
    layer_lost = False
    keepalive: Keepalive | None = None

    async def receive_from_layer(self) -> dict:
        """The layer's next message; a failing layer (Redis down) becomes one `layer.lost` message.

        Raised out of the dispatch loop, the error would end the consumer before its handshake
        (daphne answers HTTP 500) or abort an open stream (1011); the documented answer is 4503.
        After it nothing more comes from the layer: the client's side of the loop ends the consumer.
        """
        if self.layer_lost:
            await asyncio.Event().wait()
        try:
            return await super().receive_from_layer()
        except Exception as exc:
            self.layer_lost = True
            logger.warning("Channel layer unreachable; closing stream with %s (%s)", access.CLOSE_TRY_AGAIN, exc)
            return {"type": LAYER_LOST}

    async def layer_lost_message(self, message):
        # Before the handshake is answered, connect() sees the flag and closes after accepting.
        if self.accepted:
            await self.close(code=access.CLOSE_TRY_AGAIN)

    async def connect(self):
        self.tasks = []
        self.membership = Membership(self.channel_layer, self.channel_name)
        self.instance_id = self.scope["url_route"]["kwargs"].get("instance_id")
        refusal = access.ws_refusal(self.scope)
        since = None
        if refusal is None:
            try:
                since = parse_since(self._query("since"))
            except InvalidCursor:
                refusal = access.CLOSE_BAD_REQUEST
        if refusal is None and self.instance_id is not None:
            if not await snapshots.instance_known(self.instance_id):
                refusal = access.CLOSE_NOT_FOUND
        await self.accept(subprotocol=choose_subprotocol(self.scope.get("subprotocols") or []))
        self.accepted = True
        if refusal is None and self.layer_lost:
            refusal = access.CLOSE_TRY_AGAIN
        if refusal is not None:
            await self.close(code=refusal)
            return
        conf = orchestrator_settings()
        layout = conf.layout
        self.stream = EventStream(
            instance_id=self.instance_id,
            journal_for=lambda instance_id: open_journal(layout, instance_id),
            queue_size=conf.ws_queue_size,
            event_types=self.event_types,
        )
        self.received = realtime_state().received
        group = instance_group(self.instance_id) if self.instance_id else ALL_GROUP
        try:
            await self.membership.join(group)
        except Exception as exc:
            # An outage is expected weather, not a bug: one line, no traceback.
            logger.warning("Channel layer unreachable; refusing stream %s for now (%s)", group, exc)
            await self.close(code=access.CLOSE_TRY_AGAIN)
            return
        await ensure_bridge()
        self.keepalive = Keepalive(conf.ws_heartbeat_s)
        self.tasks = start_tasks(self.serve(since), self.keepalive.run(self.stream, self.membership, self.on_stale))

    async def serve(self, since: int | None):
        backlog = backlog_for(self.scope, orchestrator_settings())
        try:
            frames = stream_frames(self.stream, since=since, snapshot=self.snapshot, backlog=backlog)
            while True:  # no name holds a frame between sends (see stream_frames)
                await self.send_frame(await anext(frames))
        except ClientTooSlow as exc:
            logger.info("Closing a client that stopped reading: %s", exc)
            await self.close(code=access.CLOSE_TOO_SLOW)
            backlog.abort()  # the close frame would wait behind the unread bytes
        except Exception:
            logger.exception("Stream of %s failed", self.instance_id or "all instances")
            await self.close(code=access.CLOSE_SERVER_ERROR)

    async def send_frame(self, frame: dict) -> None:
        """send_json, but a live event's text is encoded once per process (realtime.groups.ReceivedEvents)."""
        text = getattr(frame, "text", None)
        await self.send(text_data=text if text is not None else await self.encode_json(frame))

    def _query(self, name: str) -> str | None:
        values = parse_qs(self.scope.get("query_string", b"").decode("latin1")).get(name)
        return values[0] if values else None

    async def snapshot(self, cursor: int | None) -> dict:
        return await snapshots.snapshot_frame(self.instance_id, cursor)

    async def on_stale(self):
        await self.close(code=access.CLOSE_STALE)

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        """Any frame from the client (normally a pong) proves it is alive; its content is not used."""
        if self.keepalive is not None:
            self.keepalive.seen()

    async def orchestrator_event(self, message):
        self.stream.offer(self.received.event(message))

    async def disconnect(self, code):
        await stop_tasks(self.tasks)
        await self.membership.leave()


class ActivityConsumer(EventStreamConsumer):
    """Tool calls only: /api/orchestrators/{id}/activity."""

    event_types = ACTIVITY_TYPES


class AllEventsConsumer(EventStreamConsumer):
    """Every instance's events, for a dashboard's front page: /api/events."""


class UnknownPathConsumer(AsyncJsonWebsocketConsumer):
    """Any other WebSocket path: accepted, then closed with 4404, so a browser can tell why.

    Without this fallback Channels' URLRouter raises for an unmatched path, which daphne
    answers with an HTTP 500 and a logged traceback.
    """

    async def connect(self):
        await self.accept()
        await self.close(code=access.CLOSE_NOT_FOUND)
