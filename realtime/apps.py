"""App config for the real-time layer, and the per-process state it owns."""

from django.apps import AppConfig, apps


class RealtimeConfig(AppConfig):
    name = "realtime"
    verbose_name = "Real-time events"

    def ready(self):
        from api.signals import orphan_status_changed

        from .bridge.autostart import Autostart
        from .bridge.orphans import on_orphan_status_changed
        from .groups import ReceivedEvents

        # What the server process holds once, for all its connections: the consumers' shared
        # encoding of the event last received, and the embedded bridge of each event loop.
        self.received = ReceivedEvents()
        self.autostart = Autostart()
        orphan_status_changed.connect(on_orphan_status_changed, dispatch_uid="realtime-orphan-status")


def realtime_state() -> RealtimeConfig:
    return apps.get_app_config("realtime")
