"""The bridge's signals -> this process's webhook dispatcher.

Whichever process runs a bridge sends webhooks: the server itself with the in-memory
layer (its embedded bridge), `bridge_events` with Redis. Two bridges that both see an
event (two servers with embedded bridges, a stray second `bridge_events`) both file it,
and the database keeps one delivery of it per webhook (models.Delivery). The dispatcher
is kept on the app config, one per process, started by the first bridge, so that
deliveries left pending by an earlier run are taken up as soon as a bridge runs again.
"""

from __future__ import annotations

from django.apps import apps

from common.conf import orchestrator_settings

from .dispatcher import Dispatcher


def dispatcher() -> Dispatcher:
    config = apps.get_app_config("notifications")
    current = getattr(config, "dispatcher", None)
    if current is None or not current.running:
        current = config.dispatcher = Dispatcher(registry_path=orchestrator_settings().layout.registry_path)
        current.start()
    return current


def dispatcher_stop() -> None:
    """Stop this process's dispatcher (tests; a server's ends with the process, a daemon thread)."""
    config = apps.get_app_config("notifications")
    current = getattr(config, "dispatcher", None)
    if current is not None:
        current.stop()
        config.dispatcher = None


def on_bridge_started(sender, *, bridge, **kwargs) -> None:
    if orchestrator_settings().webhooks:
        dispatcher()


def on_event_bridged(sender, *, event, **kwargs) -> None:
    if orchestrator_settings().webhooks:
        dispatcher().submit(event)
