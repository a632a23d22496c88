"""What the registry says about an instance's life, reduced to the `orchestrator_state` events it implies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from orchestrator.events import FINISHED_STATES
from orchestrator.registry import Instance, is_alive, is_crashed, is_stale


@dataclass(frozen=True)
class Seen:
    """One observation of a registry entry: what it claims, and whether its process and heartbeat agree."""

    status: str
    alive: bool
    stale: bool

    @property
    def state(self) -> str:
        return "crashed" if is_crashed(self.status, alive=self.alive) else self.status


def observe(instance: Instance, now: datetime) -> Seen:
    return Seen(status=instance.status, alive=is_alive(instance), stale=is_stale(instance, now))


def transition(old: Seen | None, new: Seen | None) -> dict | None:
    """The orchestrator_state data for a change between two observations, or None."""
    if new is None:
        if old is None or old.state in FINISHED_STATES:
            return None
        return {"state": "stopped", "reason": "removed from the registry"}
    if old is None:
        return {"state": new.state, "reason": "registered", "stale": new.stale}
    if new.state != old.state:
        reason = "process is gone" if new.state == "crashed" and old.alive else f"registry says {new.status}"
        return {"state": new.state, "reason": reason, "stale": new.stale}
    if new.stale != old.stale and new.state not in FINISHED_STATES:
        reason = "no heartbeat for over 60 s" if new.stale else "heartbeat resumed"
        return {"state": new.state, "reason": reason, "stale": new.stale}
    return None
