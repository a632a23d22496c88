"""App config for the real-time layer."""

from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "realtime"
    verbose_name = "Real-time events"

    def ready(self):
        from api.signals import orphan_status_changed

        from .bridge.orphans import on_orphan_status_changed

        orphan_status_changed.connect(on_orphan_status_changed, dispatch_uid="realtime-orphan-status")
