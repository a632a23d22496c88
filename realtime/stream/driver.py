"""The life of one streaming connection, independent of its transport (WebSocket or SSE).

One sender task owns the socket: it sends the snapshot, the replay, then whatever the
outbox yields (live events, gaps, pings). Writing from one task only keeps frames in
order; the layer handler and the heartbeat merely queue.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Awaitable, Callable

from .flow import Backlog
from .eventstream import EventStream, control_frame

logger = logging.getLogger(__name__)

Send = Callable[[dict], Awaitable[None]]


class Heartbeat:
    """Queues a ping every `interval`; calls `on_stale` once the client has been silent for two."""

    def __init__(self, interval: float, *, clock: Callable[[], float] = time.monotonic):
        self.interval = interval
        self._clock = clock
        self.last_seen = clock()

    def seen(self) -> None:
        self.last_seen = self._clock()

    async def run(self, stream: EventStream, on_stale: Callable[[], Awaitable[None]] | None,
                  on_beat: Callable[[], Awaitable[None]] | None = None) -> None:
        while True:
            await asyncio.sleep(self.interval)
            if on_stale is not None and self._clock() - self.last_seen > 2 * self.interval:
                await on_stale()
                return
            stream.outbox.put_control(control_frame("ping", stream.instance_id, {"interval": self.interval}))
            if on_beat is not None:
                await on_beat()


async def rejoin(layer, groups: list[str], channel: str) -> None:
    """Renew group memberships: channels-redis drops members older than `group_expiry`, which
    is kept short so that memberships of crashed servers stop costing sends (settings.py)."""
    for group in groups:
        try:
            await layer.group_add(group, channel)
        except Exception as exc:
            logger.warning("Could not renew membership of %s (%s)", group, exc)


async def run_stream(stream: EventStream, *, since: int | None, snapshot: Callable[[int | None], Awaitable[dict]],
                     send: Send, backlog: Backlog) -> None:
    """Snapshot, replay (or reset), then live frames until cancelled; ClientTooSlow if the client stops reading.

    Each frame waits for the client to have read most of what it was sent (realtime.stream.flow): while it
    waits, live events pile up in the bounded outbox, which drops them and later sends `gap`.
    """
    opening = await stream.open(since)
    await send(await snapshot(stream.cursor))
    for frame in opening:
        if backlog.behind():
            await backlog.catch_up()
        await send(frame)
    while True:
        for frame in await stream.next_frames():
            if backlog.behind():
                await backlog.catch_up()
            await send(frame)


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
