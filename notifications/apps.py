"""App config for notifications: connects the webhook observer to the event bridge's signals."""

from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from realtime.bridge.signals import bridge_started, event_bridged

        from .observer import on_bridge_started, on_event_bridged

        bridge_started.connect(on_bridge_started, dispatch_uid="notifications.bridge_started")
        event_bridged.connect(on_event_bridged, dispatch_uid="notifications.event_bridged")
