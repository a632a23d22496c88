"""The life of one streaming connection, whatever its transport: the WebSocket consumers and the SSE view both run it.

One sender owns the socket: `stream_frames` yields the snapshot, the replay, then whatever
the outbox holds (live events, gaps, pings), and the transport writes each frame as it comes.
Writing from one task only keeps frames in order; the layer handler and the keepalive merely
queue. The keepalive also renews the connection's group memberships and fills the tail of a
burst the layer lost from the journal, so both transports recover alike.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from .eventstream import EventStream, control_frame
from .flow import Backlog

logger = logging.getLogger(__name__)


class Membership:
    """The channel-layer groups one connection's channel belongs to."""

    def __init__(self, layer, channel: str):
        self.layer = layer
        self.channel = channel
        self.groups: list[str] = []

    async def join(self, group: str) -> None:
        """Raises what the layer raises: the caller refuses the stream (4503, or HTTP 503)."""
        await self.layer.group_add(group, self.channel)
        self.groups.append(group)

    async def renew(self) -> None:
        """channels-redis drops members older than `group_expiry`, which is kept short so that
        memberships of crashed servers stop costing sends (settings.py)."""
        for group in self.groups:
            try:
                await self.layer.group_add(group, self.channel)
            except Exception as exc:
                logger.warning("Could not renew membership of %s (%s)", group, exc)

    async def leave(self) -> None:
        for group in self.groups:
            try:
                await self.layer.group_discard(group, self.channel)
            except Exception as exc:
                # Redis gone: the membership expires after group_expiry (settings.CHANNEL_LAYERS).
                logger.warning("Could not leave %s (%s)", group, exc)
        self.groups = []


class Keepalive:
    """Every `interval`: a ping queued, memberships renewed, the journal's tail caught up.

    With `on_stale`, a client silent for two intervals is given up on (a WebSocket answers
    pings; an SSE client cannot, and shows it is gone by a failed write instead).
    """

    def __init__(self, interval: float, *, clock: Callable[[], float] = time.monotonic):
        self.interval = interval
        self._clock = clock
        self.last_seen = clock()

    def seen(self) -> None:
        self.last_seen = self._clock()

    async def run(self, stream: EventStream, membership: Membership,
                  on_stale: Callable[[], Awaitable[None]] | None = None) -> None:
        while True:
            await asyncio.sleep(self.interval)
            if on_stale is not None and self._clock() - self.last_seen > 2 * self.interval:
                await on_stale()
                return
            stream.outbox.put_control(control_frame("ping", stream.instance_id, {"interval": self.interval}))
            await membership.renew()
            await stream.catch_up()


async def stream_frames(stream: EventStream, *, since: int | None,
                        snapshot: Callable[[int | None], Awaitable[dict]], backlog: Backlog) -> AsyncIterator[dict]:
    """Snapshot, replay (or reset), then live frames, endlessly; ClientTooSlow if the client stops reading.

    Each frame waits for the client to have read most of what it was sent (realtime.stream.flow):
    while it waits, live events pile up in the bounded outbox, which drops them and later says `gap`.
    Endless, so callers take frames with `anext` and keep none: `async for frame in ...` would hold
    the last one until the next, and a quiet connection its snapshot (with a serializer behind it,
    up to 500 instances' worth on /api/events), 2.9 KB per client even with an empty registry.
    """
    opening = await stream.open(since)
    yield await snapshot(stream.cursor)
    for frame in opening:
        if backlog.behind():
            await backlog.catch_up()
        yield frame
    while True:
        for frame in await stream.next_frames():
            if backlog.behind():
                await backlog.catch_up()
            yield frame


def start_tasks(*coros) -> list[asyncio.Task]:
    return [asyncio.ensure_future(coro) for coro in coros]


async def stop_tasks(tasks: list[asyncio.Task]) -> None:
    """Cancel and wait, so a closed connection leaves no task (and no reference to its queue) behind."""
    for task in tasks:
        task.cancel()
    for task in tasks:
        try:
            await task
        except asyncio.CancelledError:
            pass
        except Exception:
            logger.exception("Stream task failed")
