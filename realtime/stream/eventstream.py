"""One client's event stream, shared by the WebSocket consumers and the SSE view.

Order of a connection: join the groups (live events start queuing in the outbox), take
the journal's cursor, send the snapshot, replay what the client missed (or one `reset`),
then drain the outbox. Live events at or below the cursor are duplicates (replayed
already, or delivered twice because the orchestrator publishes and the bridge tails its
journal too) and are skipped; an id jump that coalescing or a `gap` does not explain is a
hole (a layer message lost, e.g. while Redis restarted) and is filled from the journal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from asgiref.sync import sync_to_async

from orchestrator.clock import iso_now
from orchestrator.journal import Journal

from .outbox import Gap, Outbox
from .replay import read_after, read_fill, read_replay

ACTIVITY_TYPES = frozenset({"tool_started", "tool_completed"})

JournalLookup = Callable[[str], Journal | None]


def control_frame(frame_type: str, instance_id: str | None, data: dict) -> dict:
    """Frames that are not events carry no id: ping, snapshot, gap, reset."""
    return {"type": frame_type, "timestamp": iso_now(), "instance_id": instance_id, "data": data}


@dataclass
class EventStream:
    """Everything one connection needs between the layer and its socket, minus the transport."""

    instance_id: str | None
    journal_for: JournalLookup
    queue_size: int
    event_types: frozenset[str] | None = None
    # Holes bigger than this are not refilled inline but reported as a gap (client replays).
    max_fill: int = 1000
    outbox: Outbox = field(init=False)
    cursors: dict[str, int] = field(default_factory=dict)
    _offered: dict[str, int] = field(default_factory=dict)

    def __post_init__(self):
        self.outbox = Outbox(self.queue_size)

    def offer(self, event: dict) -> None:
        """Called for each layer message; never blocks, never grows past the outbox bound."""
        instance_id = event.get("instance_id")
        if self.instance_id is not None and instance_id != self.instance_id:
            return
        if self.event_types is not None and event.get("type") not in self.event_types:
            return
        event_id = event.get("id")
        if not isinstance(event_id, int) or event_id <= self._offered.get(instance_id, 0):
            return  # a second delivery of an event already queued
        self._offered[instance_id] = event_id
        self.outbox.put_event(event)

    async def open(self, since: int | None) -> list[dict]:
        """Replay frames (or one reset frame); sets the cursor live events are checked against."""
        if self.instance_id is None:
            return []  # all instances: no one cursor to resume from; replay is per instance
        journal = self.journal_for(self.instance_id)
        replay = await sync_to_async(read_replay, thread_sensitive=False)(journal, since)
        if replay.cursor is not None:
            self.cursors[self.instance_id] = replay.cursor
            self._offered.setdefault(self.instance_id, 0)
        frames = [e for e in replay.events if self._wanted(e)]
        if replay.reset is not None:
            frames = [control_frame("reset", self.instance_id, replay.reset)]
        return frames

    async def catch_up(self) -> None:
        """Queue journaled events the layer never brought (called each heartbeat).

        An id jump reveals a lost layer message only when a later event arrives; this
        covers the tail, e.g. the last events of a burst that overflowed a Redis channel.
        """
        for instance_id, offered in list(self._offered.items()):
            journal = self.journal_for(instance_id)
            after = max(offered, self.cursors.get(instance_id, 0))
            for event in await sync_to_async(read_after, thread_sensitive=False)(journal, after, self.max_fill):
                self.offer(event)

    @property
    def cursor(self) -> int | None:
        return self.cursors.get(self.instance_id) if self.instance_id else None

    def _wanted(self, event: dict) -> bool:
        return self.event_types is None or event["type"] in self.event_types

    async def next_frames(self) -> list[dict]:
        """The next frames to send, waiting for live events; deduplicated and hole-filled."""
        while True:
            item = await self.outbox.get()
            frames = await self._process(item)
            if frames:
                return frames

    async def _process(self, item: dict | Gap) -> list[dict]:
        if isinstance(item, Gap):
            last = self.cursors.get(item.instance_id, 0)
            self.cursors[item.instance_id] = max(last, item.to_id)
            if item.to_id <= last:
                return []  # a hole fill has delivered everything it named since it was recorded
            if item.from_id <= last:
                # A status_updated admitted while dropping (it supersedes, so takes no slot) had its
                # id jump filled from the journal: the gap starts after what the client now has.
                item = Gap(item.instance_id, last + 1, item.to_id, item.to_id - last)
            return [item.frame(iso_now())]
        if "id" not in item or item.get("id") is None:
            return [item]  # a control frame
        instance_id, event_id = item["instance_id"], item["id"]
        last = self.cursors.get(instance_id)
        superseded = self.outbox.superseded.get(instance_id, set())
        if last is not None and event_id <= last:
            return []
        frames: list[dict] = []
        if last is not None and event_id > last + 1 and self.event_types is None:
            frames = await self._fill(instance_id, last, event_id, superseded)
        self.cursors[instance_id] = event_id
        if superseded:
            superseded.difference_update(range(0, event_id + 1))
        frames.append(item)
        return frames

    async def _fill(self, instance_id: str, last: int, event_id: int, superseded: set[int]) -> list[dict]:
        missing = set(range(last + 1, event_id)) - superseded
        if not missing:
            return []
        if len(missing) <= self.max_fill:
            journal = self.journal_for(instance_id)
            found = await sync_to_async(read_fill, thread_sensitive=False)(journal, last, event_id, missing)
            missing -= {e["id"] for e in found}
            if not missing:
                return found
        else:
            found = []
        # What the journal cannot give is reported, never silently skipped.
        gap = Gap(instance_id, min(missing), max(missing), len(missing))
        return [*found, gap.frame(iso_now())]
