"""Puts an orchestrator's own events into the channel layer, without ever holding up the orchestrator.

The bus calls `publish` under its lock, from whatever thread emitted; so `publish` only
appends to a bounded buffer and wakes a sender coroutine. The sender runs on a loop of
its own (a daemon thread), or on the loop of an in-process server when one is given:
the in-memory layer's queues belong to the loop its consumers run on. A layer that is
down (Redis restarting) costs dropped messages and one warning per outage, never an
exception in the engine; clients recover those events from the journal, which the
consumers read when they see an id jump (realtime.stream.eventstream).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque

from orchestrator.events import Event, EventBus, Subscription

from ..groups import ALL_GROUP, event_message, instance_group

logger = logging.getLogger(__name__)

# Events waiting for the layer; past this the newest are dropped (counted, logged once).
DEFAULT_MAX_PENDING = 1000
# One group_send may not wait longer than this on a dead Redis.
SEND_TIMEOUT_S = 2.0


async def send_event(layer, envelope: dict) -> None:
    """One event envelope (Event.to_dict()) to its instance's group and to ALL_GROUP.

    The one way events of ours enter the layer: the orchestrator's publisher, the bridge and
    the orphan writer all send with it. Raises what the layer raises (a timeout included).
    """
    message = event_message(envelope)
    for group in (instance_group(envelope["instance_id"]), ALL_GROUP):
        await asyncio.wait_for(layer.group_send(group, message), SEND_TIMEOUT_S)


class Outage:
    """One warning when the layer starts failing, one line when it answers again, nothing in between."""

    def __init__(self, log: logging.Logger, lost: str):
        self._log = log
        self._lost = lost
        self.failing = False

    def failed(self, exc: Exception) -> None:
        if not self.failing:
            self.failing = True
            self._log.warning("%s (%s)", self._lost, exc)

    def recovered(self) -> None:
        if self.failing:
            self.failing = False
            self._log.info("Channel layer reachable again")


class LayerPublisher:
    def __init__(self, channel_layer=None, *, loop: asyncio.AbstractEventLoop | None = None,
                 max_pending: int = DEFAULT_MAX_PENDING):
        self._layer = channel_layer
        self._max_pending = max_pending
        self._pending: deque[Event] = deque()
        self._lock = threading.Lock()
        self._loop = loop
        self._thread: threading.Thread | None = None
        self._wake: asyncio.Event | None = None
        self._runner = None
        self._task: asyncio.Task | None = None
        self._closed = False
        self._outage = Outage(logger, "Channel layer unreachable, events are not published live")
        self._in_flight = False
        self.dropped = 0
        self.sent = 0
        self._subscriptions: list[tuple[EventBus, Subscription]] = []

    def attach(self, bus: EventBus) -> Subscription:
        self._start()
        subscription = bus.subscribe(self.publish)
        self._subscriptions.append((bus, subscription))
        return subscription

    def _start(self) -> None:
        if self._runner is not None:
            return
        if self._layer is None:
            from channels.layers import get_channel_layer

            self._layer = get_channel_layer()
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._own_loop, name="layer-publisher", daemon=True)
            self._thread.start()
        ready = threading.Event()

        async def boot():
            self._task = asyncio.current_task()
            self._wake = asyncio.Event()
            ready.set()
            await self._run()

        self._runner = asyncio.run_coroutine_threadsafe(boot(), self._loop)
        ready.wait(5)

    def _own_loop(self) -> None:
        self._loop.run_forever()
        # Closed here, not by close(): channels-redis flushes its pools when a loop closes, which
        # needs this thread's loop free to run (close() may be called from inside another loop).
        self._loop.close()

    def publish(self, event: Event) -> None:
        """Bus callback: O(1), never blocks, never raises."""
        with self._lock:
            if self._closed:
                return
            if len(self._pending) >= self._max_pending:
                self.dropped += 1
                if self.dropped == 1 or self.dropped % 1000 == 0:
                    logger.warning("Channel layer is behind: %d events dropped (clients refill from the journal)",
                                   self.dropped)
                return
            self._pending.append(event)
            first = len(self._pending) == 1
        if first and self._wake is not None:
            try:
                self._loop.call_soon_threadsafe(self._wake.set)
            except RuntimeError:
                pass  # loop closed during shutdown

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while True:
                with self._lock:
                    if not self._pending:
                        break
                    event = self._pending.popleft()
                    self._in_flight = True
                try:
                    await self._send(event)
                finally:
                    self._in_flight = False

    async def _send(self, event: Event) -> None:
        try:
            await send_event(self._layer, event.to_dict())
        except Exception as exc:
            self.dropped += 1
            self._outage.failed(exc)
            return
        self._outage.recovered()
        self.sent += 1

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything queued so far was handed to the layer (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._pending and not self._in_flight:
                    return True
            time.sleep(0.002)
        return False

    def close(self) -> None:
        """Detach from every bus, send what is queued (bounded wait), stop the own thread."""
        for bus, subscription in self._subscriptions:
            bus.unsubscribe(subscription)
        self._subscriptions.clear()
        if self._runner is None:
            return
        self.flush(timeout=SEND_TIMEOUT_S)
        with self._lock:
            self._closed = True

        async def cancel():
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

        try:
            asyncio.run_coroutine_threadsafe(cancel(), self._loop).result(timeout=5)
        except Exception:
            logger.warning("Layer publisher did not stop cleanly", exc_info=True)
        if self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
