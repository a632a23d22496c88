"""One event envelope and one bus, so producers never know who listens (journal, channel layer, tests)."""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from dataclasses import dataclass
from enum import Enum
from typing import Any, Callable, Iterable

from .clock import Clock, iso, utc_now

logger = logging.getLogger(__name__)


class EventType(str, Enum):
    STATUS_UPDATED = "status_updated"
    TASK_CHANGED = "task_changed"
    PHASE_CHANGED = "phase_changed"
    TOOL_STARTED = "tool_started"
    TOOL_COMPLETED = "tool_completed"
    ORCHESTRATOR_STATE = "orchestrator_state"
    AGENT_TEXT = "agent_text"


ORCHESTRATOR_STATES = ("running", "paused", "stopping", "stopped", "crashed")
# The states no process works in any more: the run is over, however it ended.
FINISHED_STATES = ("stopped", "crashed")

_STR = (str,)
_OPT_STR = (str, type(None))
_NUMBER = (int, float)

# The written shape of every event's `data`: required key -> accepted types. Extra keys are
# allowed (producers may add context); missing or mistyped ones are a producer bug.
EVENT_DATA_SHAPES: dict[str, dict[str, tuple[type, ...]]] = {
    # The whole status.json object as read, camelCase keys and unknown keys included.
    EventType.STATUS_UPDATED.value: {"tasks": (list,)},
    # old_status is None for a task that was not in the previous status file.
    EventType.TASK_CHANGED.value: {
        "task_id": _STR,
        "description": _STR,
        "old_status": _OPT_STR,
        "new_status": _STR,
        "phase": _OPT_STR,
    },
    EventType.PHASE_CHANGED.value: {"old_phase": _OPT_STR, "new_phase": _OPT_STR},
    EventType.TOOL_STARTED.value: {"tool_id": _STR, "tool_name": _STR, "input_summary": _STR},
    # duration in seconds (float), measured from tool_use to its tool_result.
    EventType.TOOL_COMPLETED.value: {
        "tool_id": _STR,
        "tool_name": _STR,
        "duration": _NUMBER,
        "success": (bool,),
    },
    # state is one of ORCHESTRATOR_STATES; reason says why (None when nothing to add).
    EventType.ORCHESTRATOR_STATE.value: {"state": _STR, "reason": _OPT_STR},
    # What the agent wrote (an assistant text block), cut to the runner's EVENT_TEXT_MAX characters
    # (`truncated` says so; the task's transcript keeps more). task_id is None outside a task.
    EventType.AGENT_TEXT.value: {"text": _STR, "truncated": (bool,), "task_id": _OPT_STR},
}


def event_type_value(event_type: EventType | str) -> str:
    """Accept the enum or its string, and refuse typos before they reach a client."""
    value = event_type.value if isinstance(event_type, EventType) else event_type
    if value not in EVENT_DATA_SHAPES:
        raise ValueError(f"Unknown event type: {event_type!r}.")
    return value


def validate_event_data(event_type: EventType | str, data: Any) -> None:
    """Raise ValueError unless `data` has the written shape of `event_type`."""
    value = event_type_value(event_type)
    if not isinstance(data, dict):
        raise ValueError(f"{value} data must be a dict, not {type(data).__name__}.")
    problems = []
    for key, types in EVENT_DATA_SHAPES[value].items():
        if key not in data:
            problems.append(f"missing {key!r}")
        elif not isinstance(data[key], types) or (isinstance(data[key], bool) and bool not in types):
            problems.append(f"{key!r} is {type(data[key]).__name__}")
    if value == EventType.ORCHESTRATOR_STATE.value and data.get("state") not in ORCHESTRATOR_STATES:
        problems.append(f"state {data.get('state')!r} not in {ORCHESTRATOR_STATES}")
    if problems:
        raise ValueError(f"Bad {value} data: {', '.join(problems)}.")


@dataclass(frozen=True)
class Event:
    """The envelope shared by the bus, the journal, WebSocket and SSE. Treat `data` as read-only."""

    id: int
    type: str
    timestamp: str
    instance_id: str
    data: dict

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "type": self.type,
            "timestamp": self.timestamp,
            "instance_id": self.instance_id,
            "data": self.data,
        }

    @classmethod
    def from_dict(cls, raw: Any) -> "Event":
        """Rebuild an event read from a journal or a wire; ValueError if it is not an envelope."""
        if not isinstance(raw, dict):
            raise ValueError("An event must be a JSON object.")
        try:
            event = cls(
                id=raw["id"],
                type=raw["type"],
                timestamp=raw["timestamp"],
                instance_id=raw["instance_id"],
                data=raw["data"],
            )
        except KeyError as exc:
            raise ValueError(f"Event lacks {exc.args[0]!r}.") from None
        if isinstance(event.id, bool) or not isinstance(event.id, int) or not isinstance(event.data, dict):
            raise ValueError("Event id must be an int and data an object.")
        if not all(isinstance(v, str) for v in (event.type, event.timestamp, event.instance_id)):
            raise ValueError("Event type, timestamp and instance_id must be strings.")
        return event


Callback = Callable[[Event], Any]


@dataclass(frozen=True, eq=False)
class Subscription:
    """Handle returned by subscribe(); pass it to unsubscribe()."""

    callback: Callback
    event_types: frozenset[str] | None
    instance_id: str | None
    loop: asyncio.AbstractEventLoop | None
    is_async: bool

    def matches(self, event: Event) -> bool:
        return (self.event_types is None or event.type in self.event_types) and (
            self.instance_id is None or event.instance_id == self.instance_id
        )


def _is_async_callable(callback: Callback) -> bool:
    return inspect.iscoroutinefunction(callback) or inspect.iscoroutinefunction(
        getattr(callback, "__call__", None)
    )


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class EventBus:
    """Thread-safe fan-out with per-instance increasing ids.

    Id assignment and delivery happen under one re-entrant lock so that every sink
    (the journal above all) sees an instance's events in id order even when several
    threads emit at once. The price: sync callbacks must be quick and must never wait
    for another thread that emits. Async callbacks only get scheduled under the lock.
    """

    def __init__(self, *, clock: Clock = utc_now):
        self._clock = clock
        self._lock = threading.RLock()
        self._next_ids: dict[str, int] = {}
        self._subscriptions: tuple[Subscription, ...] = ()
        # asyncio keeps only weak references to tasks: hold ours until they finish.
        self._tasks: set[asyncio.Task] = set()

    def subscribe(
        self,
        callback: Callback,
        *,
        event_types: Iterable[EventType | str] | None = None,
        instance_id: str | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> Subscription:
        """Register `callback(event)`; async callbacks run on `loop` (default: the running loop)."""
        is_async = _is_async_callable(callback)
        if is_async:
            loop = loop or _running_loop()
            if loop is None:
                raise ValueError("An async callback needs an event loop: pass loop= or subscribe from one.")
        types = None if event_types is None else frozenset(event_type_value(t) for t in event_types)
        with self._lock:
            sub = Subscription(callback, types, instance_id, loop, is_async)
            self._subscriptions = self._subscriptions + (sub,)
        return sub

    def unsubscribe(self, subscription: Subscription) -> None:
        """Idempotent, so cleanup paths (disconnect handlers, finally blocks) can always call it."""
        with self._lock:
            self._subscriptions = tuple(s for s in self._subscriptions if s is not subscription)

    @property
    def subscription_count(self) -> int:
        return len(self._subscriptions)

    def set_next_id(self, instance_id: str, next_id: int) -> None:
        """Continue a journal's sequence after a restart (next_id = journal.last_id() + 1)."""
        with self._lock:
            current = self._next_ids.get(instance_id, 1)
            if next_id < current:
                raise ValueError(f"Event ids of {instance_id} already reached {current - 1}.")
            self._next_ids[instance_id] = next_id

    def _make(self, event_type: EventType | str, instance_id: str, data: dict) -> Event:
        validate_event_data(event_type, data)
        event_id = self._next_ids.get(instance_id, 1)
        self._next_ids[instance_id] = event_id + 1
        return Event(event_id, event_type_value(event_type), iso(self._clock()), instance_id, data)

    def emit(self, event_type: EventType | str, instance_id: str, data: dict) -> Event:
        """Publish from any thread; sync callbacks have run when this returns."""
        with self._lock:
            event = self._make(event_type, instance_id, data)
            self._deliver(event, local=None)
        return event

    async def aemit(self, event_type: EventType | str, instance_id: str, data: dict) -> Event:
        """Publish from a coroutine; async callbacks bound to this loop are awaited."""
        with self._lock:
            event = self._make(event_type, instance_id, data)
            local: list = []
            self._deliver(event, local=local)
        if local:
            results = await asyncio.gather(*(sub.callback(event) for sub in local), return_exceptions=True)
            for sub, result in zip(local, results):
                if isinstance(result, BaseException):
                    logger.error("Event callback %r failed on %s", sub.callback, event.type, exc_info=result)
        return event

    def _deliver(self, event: Event, *, local: list | None) -> None:
        running = _running_loop()
        for sub in self._subscriptions:
            if not sub.matches(event):
                continue
            if not sub.is_async:
                try:
                    sub.callback(event)
                except Exception:
                    logger.exception("Event callback %r failed on %s", sub.callback, event.type)
            elif local is not None and sub.loop is running:
                local.append(sub)
            else:
                self._schedule(sub, event, running)

    def _schedule(self, sub: Subscription, event: Event, running: asyncio.AbstractEventLoop | None) -> None:
        coro = sub.callback(event)
        try:
            if sub.loop is running:
                future = sub.loop.create_task(coro)
                self._tasks.add(future)
            else:
                future = asyncio.run_coroutine_threadsafe(coro, sub.loop)
        except RuntimeError:
            # A closed loop will never run anything again: drop the subscription rather than leak it.
            coro.close()
            logger.warning("Dropping event subscription %r: its loop is closed.", sub.callback)
            self._subscriptions = tuple(s for s in self._subscriptions if s is not sub)
            return
        future.add_done_callback(lambda f, sub=sub, event=event: self._finished(f, sub, event))

    def _finished(self, future, sub: Subscription, event: Event) -> None:
        self._tasks.discard(future)
        if future.cancelled():
            return
        exc = future.exception()
        if exc is not None:
            logger.error("Event callback %r failed on %s", sub.callback, event.type, exc_info=exc)
