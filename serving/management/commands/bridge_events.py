"""Follow the registry, journals and status files of every orchestrator and publish their events."""

import asyncio
import signal

from django.core.management.base import BaseCommand

from common.conf import orchestrator_settings
from realtime.bridge.bridge import EventBridge


class Command(BaseCommand):
    help = (
        "Publish the events of every registered orchestrator into the channel layer (run one per "
        "repository with REDIS_URL set; with the in-memory layer the server runs it by itself)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--poll-interval", type=float, default=1.0,
                            help="Seconds between checks for stale or dead instances.")

    def handle(self, *args, poll_interval, **options):
        layout = orchestrator_settings().layout
        self.stdout.write(f"Bridging events of orchestrators under {layout.root} (Ctrl-C stops)")
        asyncio.run(self._run(EventBridge(layout, poll_interval=poll_interval)))

    async def _run(self, bridge: EventBridge) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await bridge.run(stop)
