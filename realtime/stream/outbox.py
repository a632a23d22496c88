"""Per-connection bounded queue: a slow client costs a fixed amount of memory, never an unbounded one.

Live events are queued here by the layer handler and drained by the connection's sender
task. Three rules keep it bounded and honest:

* `status_updated` carries the whole status file, so only the newest one per instance
  matters: a newer one supersedes a queued older one (coalescing).
* When the queue is full, new events are dropped, and keep being dropped until the
  sender has emptied the queue; then one `gap` frame per instance says which ids were
  lost, so the client can replay them (`?since=` / `Last-Event-ID`). Dropping the whole
  tail, rather than the odd event, keeps the lost ids one contiguous range.
* Control frames (ping, reset) are few and small; they are never dropped.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field

STATUS_UPDATED = "status_updated"


@dataclass
class _Entry:
    frame: dict
    live: bool = True


@dataclass
class Gap:
    """Ids of one instance dropped because the client fell behind."""

    instance_id: str
    from_id: int
    to_id: int
    count: int = 1

    def frame(self, timestamp: str) -> dict:
        return {
            "type": "gap",
            "timestamp": timestamp,
            "instance_id": self.instance_id,
            "data": {
                "from_id": self.from_id,
                "to_id": self.to_id,
                "count": self.count,
                # Where a client resumes: replay everything after this id.
                "since": self.from_id - 1,
            },
        }


@dataclass
class Outbox:
    maxsize: int
    _entries: deque = field(default_factory=deque)
    _size: int = 0
    _pending_status: dict = field(default_factory=dict)
    _gaps: dict = field(default_factory=dict)
    # Ids superseded by coalescing, per instance: not holes, so the sender must not refetch them.
    superseded: dict = field(default_factory=dict)
    _ready: asyncio.Event = field(default_factory=asyncio.Event)

    def __len__(self) -> int:
        return self._size

    @property
    def dropping(self) -> bool:
        return bool(self._gaps)

    def put_control(self, frame: dict) -> None:
        self._entries.append(_Entry(frame))
        self._size += 1
        self._ready.set()

    def put_event(self, event: dict) -> bool:
        """Queue one event envelope; False if it was dropped for a gap."""
        instance_id, event_id = event["instance_id"], event["id"]
        older = self._pending_status.get(instance_id) if event["type"] == STATUS_UPDATED else None
        if older is not None and older.live:
            # Superseding frees the slot it takes, so it never causes a gap.
            older.live = False
            self._size -= 1
            self.superseded.setdefault(instance_id, set()).add(older.frame["id"])
        elif self._gaps or self._size >= self.maxsize:
            self._drop(instance_id, event_id)
            return False
        entry = _Entry(event)
        if event["type"] == STATUS_UPDATED:
            self._pending_status[instance_id] = entry
        self._entries.append(entry)
        self._size += 1
        self._ready.set()
        return True

    def _drop(self, instance_id: str, event_id: int) -> None:
        gap = self._gaps.get(instance_id)
        if gap is None:
            self._gaps[instance_id] = Gap(instance_id, event_id, event_id)
        else:
            gap.to_id = max(gap.to_id, event_id)
            gap.count += 1

    def get_nowait(self) -> dict | Gap | None:
        """Next frame, then (once empty) the pending gaps, else None."""
        while self._entries:
            entry = self._entries.popleft()
            if not entry.live:
                continue
            self._size -= 1
            frame = entry.frame
            if self._pending_status.get(frame.get("instance_id")) is entry:
                del self._pending_status[frame["instance_id"]]
            return frame
        if self._gaps:
            instance_id = next(iter(self._gaps))
            return self._gaps.pop(instance_id)
        self._ready.clear()
        return None

    async def get(self) -> dict | Gap:
        while True:
            item = self.get_nowait()
            if item is not None:
                return item
            await self._ready.wait()
