"""Channel-layer group names, shared by the publishers (orchestrator, bridge) and the consumers."""

import hashlib
import json
import re

# Every event of every instance also goes here, for the dashboard's front page (/api/events).
ALL_GROUP = "orchestrators.all"

# Channels accepts ASCII letters, digits, '-', '_' and '.' in names shorter than 100 characters.
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_PREFIX = "orchestrator."
_MAX_NAME = 99

# The layer message type; Channels routes it to the consumer method `orchestrator_event`.
EVENT_MESSAGE_TYPE = "orchestrator.event"


def instance_group(instance_id: str) -> str:
    """One group per instance; ids that would not make a valid name get a stable hash suffix."""
    safe = _UNSAFE.sub("_", instance_id)
    name = _PREFIX + safe
    if safe != instance_id or len(name) > _MAX_NAME:
        digest = hashlib.sha1(instance_id.encode()).hexdigest()[:12]
        name = f"{_PREFIX}{safe[: _MAX_NAME - len(_PREFIX) - 13]}.{digest}"
    return name


def event_message(event: dict) -> dict:
    """The layer message that carries one event envelope (Event.to_dict())."""
    return {"type": EVENT_MESSAGE_TYPE, "event": event}


class EncodedEvent(dict):
    """An event envelope that carries its WebSocket frame's text (`json.dumps` of it, as Channels'
    send_json encodes), so that an event is encoded once per process, not once per client.
    Read-only, like every event the consumers handle."""

    __slots__ = ("text",)


class ReceivedEvents:
    """The last layer message unwrapped, and its EncodedEvent, shared by every consumer of a process.

    The in-memory layer hands one message object to every member of a group; channels-redis
    decodes one per consumer, equal in content. Either way the consumers that get the same
    event in a row share one encoding. One per process, made by the app (realtime.apps).
    """

    def __init__(self):
        self._last: tuple[dict, dict] | None = None

    def event(self, message: dict) -> dict:
        """The event of a layer message, as an EncodedEvent shared with the consumers that got the same."""
        last = self._last
        if last is not None and (last[0] is message or last[0] == message):
            return last[1]
        event = EncodedEvent(message["event"])
        event.text = json.dumps(event)
        self._last = (message, event)
        return event
