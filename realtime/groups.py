"""Channel-layer group names, shared by the publishers (orchestrator, bridge) and the consumers."""

import hashlib
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
