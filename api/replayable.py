"""What a read view tells the replay in front of Django (serving/replay.py): that its response may be replayed.

The replay wraps Django from outside (it must run before Django's request path to be
worth having), so the two meet only through this per-request ContextVar, set by the
wrapper and filled by the view.
"""

from contextvars import ContextVar

from .credentials import Identity, identity_of
from .readcache import Payload, read_caches


class ReplaySlot:
    """Per-request note from the view: the payload its response was rendered from, and for whom."""

    __slots__ = ("payload", "identity")

    def __init__(self):
        self.payload: Payload | None = None
        self.identity: Identity | None = None


replay_slot: ContextVar[ReplaySlot | None] = ContextVar("orchestrator_replay_slot", default=None)


def mark_replayable(payload: Payload, request) -> None:
    """Called by a read view that answered `request` (DRF's) from `payload`; no-op outside the wrappers."""
    slot = replay_slot.get()
    if slot is not None and payload.generation is not None:  # without a generation it could never be revalidated
        slot.payload = payload
        slot.identity = identity_of(request, read_caches().credentials)
