"""The event bridge inside the server process, for the in-memory layer: `runserver` alone gives live events.

With the in-memory layer nothing outside this process can feed the server's consumers,
so the server runs the bridge itself, started by the first WebSocket or SSE client
(daphne and runserver have no startup hook; lazily is also free for a REST-only
server). One bridge per event loop, held by the Autostart the app makes (realtime.apps),
and it stops with its loop.
"""

from __future__ import annotations

import asyncio
import logging
import weakref

from django.conf import settings

from common.conf import orchestrator_settings

from ..apps import realtime_state
from .bridge import EventBridge

logger = logging.getLogger(__name__)

IN_MEMORY_LAYERS = {"channels.layers.InMemoryChannelLayer", "realtime.compat.FanoutInMemoryChannelLayer"}


def bridge_wanted() -> bool:
    """EMBEDDED_BRIDGE "1"/"0" decides; "" means: when the layer is in-memory."""
    flag = orchestrator_settings().embedded_bridge
    if flag in {"1", "true", "yes", "on"}:
        return True
    if flag in {"0", "false", "no", "off"}:
        return False
    backend = getattr(settings, "CHANNEL_LAYERS", {}).get("default", {}).get("BACKEND")
    return backend in IN_MEMORY_LAYERS


class Autostart:
    """The embedded bridge of each event loop (one per process in practice: daphne's), made by the app.

    Keyed weakly by loop, so a loop that is gone (a test's) takes its entry with it.
    """

    def __init__(self):
        self._bridges: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def ensure(self) -> EventBridge:
        """This loop's bridge, started if it never was or died."""
        loop = asyncio.get_running_loop()
        entry = self._bridges.get(loop)
        if entry is None or entry[2].done():
            bridge = EventBridge(orchestrator_settings().layout)
            stop = asyncio.Event()
            task = loop.create_task(bridge.run(stop))
            task.add_done_callback(_report)
            entry = self._bridges[loop] = (bridge, stop, task)
            logger.info("Embedded event bridge started for %s", bridge.layout.root)
        return entry[0]

    async def stop(self) -> None:
        entry = self._bridges.pop(asyncio.get_running_loop(), None)
        if entry is not None:
            _, stop, task = entry
            stop.set()
            await asyncio.wait_for(task, 10)


async def ensure_bridge() -> EventBridge | None:
    """Start this loop's bridge if it should run and does not yet."""
    if not bridge_wanted():
        return None
    return realtime_state().autostart.ensure()


def start_with_reactor() -> None:
    """Start the bridge as soon as daphne's reactor runs, not with the first stream client, where
    webhooks are on: they must fire while nobody has a dashboard open (notifications)."""
    if not (bridge_wanted() and orchestrator_settings().webhooks):
        return
    from daphne.server import twisted_loop
    from twisted.internet import reactor

    reactor.callWhenRunning(lambda: twisted_loop.create_task(ensure_bridge()))


async def stop_bridge() -> None:
    """Stop this loop's bridge (tests; a server stops it with its loop)."""
    await realtime_state().autostart.stop()


def _report(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("Embedded event bridge died", exc_info=task.exception())
