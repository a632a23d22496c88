"""Streams a change made to the plan of an instance whose process is gone (Skip or Retry on a stopped run).

Nobody else would: the orchestrator that watched its status.json is gone, and the bridge
follows live instances only, so that thousands of dead registry entries cost nothing. The
one writing the change is the only one that knows of it; so it journals what changed since
the journal's last status, as the orchestrator would have (task_changed, phase_changed,
status_updated, diffed by the core's StatusMonitor), and sends those events to the channel
layer. A command costs one diff and a few sends; nothing runs between commands.
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync

from orchestrator.errors import InvalidName, LockTimeout
from orchestrator.events import Event, EventBus
from orchestrator.fileio import locked
from orchestrator.journal import Journal, attach_journal
from orchestrator.layout import RepoLayout
from orchestrator.monitor import StatusMonitor
from orchestrator.registry import Instance

from ..journals import BRIDGED_DIR, bridged_journal_path, journal_path
from .adoption import writer_lock
from .publish import send_event

logger = logging.getLogger(__name__)

def on_orphan_status_changed(sender, *, layout: RepoLayout, instance: Instance, **kwargs) -> None:
    """Receiver of api.signals.orphan_status_changed."""
    stream_orphan_change(layout, instance)


def stream_orphan_change(layout: RepoLayout, instance: Instance) -> list[Event]:
    """Journal and send what changed in `instance`'s status file; the events, or [] if another writer has it.

    A bridge adopting the instance (its writer's lock held) sees the change itself. Failures
    are logged, never raised: the change is written, and a reload shows it.
    """
    try:
        path = journal_path(layout, instance.id) or bridged_journal_path(layout, instance.id)
        events = _journal_change(path, instance.id, layout.instance_plan(instance).status_path)
    except (InvalidName, LockTimeout, OSError) as exc:
        logger.warning("Could not journal the change to %s: %s", instance.id, exc)
        return []
    if events:
        try:
            async_to_sync(_send)(events)
        except Exception as exc:  # a layer that is down: clients fill the hole from the journal
            logger.warning("Channel layer unreachable; the change to %s is not streamed (%s)", instance.id, exc)
    return events


def _journal_change(path, instance_id: str, status_path) -> list[Event]:
    # The same locks as the bridge's writes to a journal whose writer is gone.
    with writer_lock(path, free=path.parent.name == BRIDGED_DIR) as ours:
        if not ours:
            return []
        with locked(path.with_name(path.name + ".bridge.lock"), timeout=1.0):
            journal = Journal(path)
            try:
                bus = EventBus()
                attach_journal(bus, journal, instance_id)
                monitor = StatusMonitor(status_path, instance_id=instance_id, bus=bus)
                last = journal.last_of("status_updated")
                if last is not None and isinstance(last.data, dict):
                    monitor.assume(last.data)
                return monitor.check()
            finally:
                journal.close()


async def _send(events: list[Event]) -> None:
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    for event in events:
        await send_event(layer, event.to_dict())
