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


# The last layer message unwrapped, and its EncodedEvent. The in-memory layer hands one message
# object to every member of a group; channels-redis decodes one per consumer, equal in content.
_last_received: tuple[dict, dict] | None = None


def received_event(message: dict) -> dict:
    """The event of a layer message, as an EncodedEvent shared with the consumers that got the same."""
    global _last_received
    last = _last_received
    if last is not None and (last[0] is message or last[0] == message):
        return last[1]
    event = EncodedEvent(message["event"])
    event.text = json.dumps(event)
    _last_received = (message, event)
    return event
