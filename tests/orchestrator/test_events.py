import asyncio
import logging
import threading
from datetime import datetime, timezone

import pytest

from orchestrator.events import (
    EVENT_DATA_SHAPES,
    Event,
    EventBus,
    EventType,
    validate_event_data,
)

FIXED = datetime(2025, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc)

SAMPLE_DATA = {
    EventType.STATUS_UPDATED: {"planPath": "docs/plans/p.md", "tasks": []},
    EventType.TASK_CHANGED: {
        "task_id": "1.1",
        "description": "Do it",
        "old_status": "pending",
        "new_status": "in_progress",
        "phase": "Phase 1: Start",
    },
    EventType.PHASE_CHANGED: {"old_phase": None, "new_phase": "Phase 1: Start"},
    EventType.TOOL_STARTED: {"tool_id": "toolu_1", "tool_name": "Read", "input_summary": "a.py"},
    EventType.TOOL_COMPLETED: {"tool_id": "toolu_1", "tool_name": "Read", "duration": 0.25, "success": True},
    EventType.ORCHESTRATOR_STATE: {"state": "paused", "reason": "pause requested over IPC"},
    EventType.AGENT_TEXT: {"text": "I'll read the config loader first.", "truncated": False, "task_id": "1.2"},
}


@pytest.fixture
def bus():
    return EventBus(clock=lambda: FIXED)


def test_every_event_type_has_a_shape_and_a_sample():
    assert set(EVENT_DATA_SHAPES) == {t.value for t in EventType} == {t.value for t in SAMPLE_DATA}
    for event_type, data in SAMPLE_DATA.items():
        validate_event_data(event_type, data)


@pytest.mark.parametrize(
    "event_type,data,message",
    [
        (EventType.TASK_CHANGED, {"task_id": "1.1"}, "missing 'description'"),
        (EventType.TOOL_COMPLETED, {**SAMPLE_DATA[EventType.TOOL_COMPLETED], "success": "yes"}, "'success' is str"),
        (EventType.TOOL_COMPLETED, {**SAMPLE_DATA[EventType.TOOL_COMPLETED], "duration": True}, "'duration' is bool"),
        (EventType.ORCHESTRATOR_STATE, {"state": "dancing", "reason": None}, "state 'dancing'"),
        (EventType.AGENT_TEXT, {"text": "hi", "task_id": None}, "missing 'truncated'"),
        (EventType.AGENT_TEXT, {**SAMPLE_DATA[EventType.AGENT_TEXT], "text": None}, "'text' is NoneType"),
        (EventType.STATUS_UPDATED, ["not", "a", "dict"], "must be a dict"),
        ("no_such_type", {}, "Unknown event type"),
    ],
)
def test_validate_event_data_names_the_problem(event_type, data, message):
    with pytest.raises(ValueError, match=message):
        validate_event_data(event_type, data)


def test_emit_builds_the_envelope_with_per_instance_ids(bus):
    seen = []
    bus.subscribe(seen.append)
    first = bus.emit(EventType.PHASE_CHANGED, "orch-1", SAMPLE_DATA[EventType.PHASE_CHANGED])
    bus.emit("phase_changed", "orch-2", SAMPLE_DATA[EventType.PHASE_CHANGED])
    second = bus.emit(EventType.PHASE_CHANGED, "orch-1", SAMPLE_DATA[EventType.PHASE_CHANGED])
    assert first.to_dict() == {
        "id": 1,
        "type": "phase_changed",
        "timestamp": "2025-01-02T03:04:05.678Z",
        "instance_id": "orch-1",
        "data": SAMPLE_DATA[EventType.PHASE_CHANGED],
    }
    assert [(e.instance_id, e.id) for e in seen] == [("orch-1", 1), ("orch-2", 1), ("orch-1", 2)]
    assert second.id == 2
    assert Event.from_dict(first.to_dict()) == first


def test_emit_refuses_data_of_the_wrong_shape_without_using_an_id(bus):
    with pytest.raises(ValueError):
        bus.emit(EventType.TASK_CHANGED, "orch-1", {"task_id": "1.1"})
    assert bus.emit(EventType.PHASE_CHANGED, "orch-1", SAMPLE_DATA[EventType.PHASE_CHANGED]).id == 1


@pytest.mark.parametrize("raw", [None, {"id": 1}, {"id": "1", "type": "x", "timestamp": "t", "instance_id": "i", "data": {}}])
def test_from_dict_rejects_what_is_not_an_envelope(raw):
    with pytest.raises(ValueError):
        Event.from_dict(raw)


def test_set_next_id_continues_a_sequence_and_never_goes_back(bus):
    bus.set_next_id("orch-1", 42)
    assert bus.emit(EventType.PHASE_CHANGED, "orch-1", SAMPLE_DATA[EventType.PHASE_CHANGED]).id == 42
    with pytest.raises(ValueError):
        bus.set_next_id("orch-1", 10)


def test_filters_by_type_and_instance(bus):
    tools, orch2 = [], []
    bus.subscribe(tools.append, event_types=[EventType.TOOL_STARTED, "tool_completed"])
    bus.subscribe(orch2.append, instance_id="orch-2")
    for event_type, data in SAMPLE_DATA.items():
        bus.emit(event_type, "orch-1", data)
    bus.emit(EventType.TASK_CHANGED, "orch-2", SAMPLE_DATA[EventType.TASK_CHANGED])
    assert [e.type for e in tools] == ["tool_started", "tool_completed"]
    assert [(e.type, e.instance_id) for e in orch2] == [("task_changed", "orch-2")]


def test_unsubscribe_stops_delivery_and_releases_the_subscription(bus):
    seen = []
    handle = bus.subscribe(seen.append)
    bus.unsubscribe(handle)
    bus.unsubscribe(handle)
    bus.emit(EventType.PHASE_CHANGED, "orch-1", SAMPLE_DATA[EventType.PHASE_CHANGED])
    assert seen == [] and bus.subscription_count == 0


def test_failing_callback_is_logged_and_the_others_still_run(bus, caplog):
    seen = []

    def broken(event):
        raise RuntimeError("boom")

    bus.subscribe(broken)
    bus.subscribe(seen.append)
    with caplog.at_level(logging.ERROR, logger="orchestrator.events"):
        bus.emit(EventType.PHASE_CHANGED, "orch-1", SAMPLE_DATA[EventType.PHASE_CHANGED])
    assert len(seen) == 1
    assert "boom" in caplog.text


def test_emit_from_many_threads_gives_unique_ids_delivered_in_order(bus):
    seen = []
    bus.subscribe(lambda e: seen.append(e.id))
    data = SAMPLE_DATA[EventType.PHASE_CHANGED]

    def worker():
        for _ in range(200):
            bus.emit(EventType.PHASE_CHANGED, "orch-1", data)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert seen == list(range(1, 1601))


def test_async_callback_without_a_loop_is_refused(bus):
    async def callback(event):
        pass

    with pytest.raises(ValueError, match="event loop"):
        bus.subscribe(callback)


@pytest.mark.asyncio
async def test_aemit_awaits_async_callbacks_and_calls_sync_ones(bus):
    seen = []

    async def slow(event):
        await asyncio.sleep(0.01)
        seen.append(("async", event.id))

    bus.subscribe(slow)
    bus.subscribe(lambda e: seen.append(("sync", e.id)))
    event = await bus.aemit(EventType.PHASE_CHANGED, "orch-1", SAMPLE_DATA[EventType.PHASE_CHANGED])
    assert seen == [("sync", 1), ("async", 1)] and event.id == 1


@pytest.mark.asyncio
async def test_aemit_logs_a_failing_async_callback_and_runs_the_others(bus, caplog):
    seen = []

    async def broken(event):
        raise RuntimeError("async boom")

    async def fine(event):
        seen.append(event.id)

    bus.subscribe(broken)
    bus.subscribe(fine)
    with caplog.at_level(logging.ERROR, logger="orchestrator.events"):
        await bus.aemit(EventType.PHASE_CHANGED, "orch-1", SAMPLE_DATA[EventType.PHASE_CHANGED])
    assert seen == [1] and "async boom" in caplog.text


@pytest.mark.asyncio
async def test_emit_from_a_thread_schedules_async_callback_on_its_loop(bus):
    loop = asyncio.get_running_loop()
    received = asyncio.Queue()

    async def on_event(event):
        assert asyncio.get_running_loop() is loop
        await received.put(event)

    bus.subscribe(on_event, loop=loop)
    thread = threading.Thread(
        target=bus.emit, args=(EventType.PHASE_CHANGED, "orch-1", SAMPLE_DATA[EventType.PHASE_CHANGED])
    )
    thread.start()
    event = await asyncio.wait_for(received.get(), timeout=2)
    thread.join(timeout=2)
    assert event.id == 1


@pytest.mark.asyncio
async def test_sync_emit_inside_the_loop_schedules_async_callback(bus):
    received = asyncio.Queue()

    async def on_event(event):
        await received.put(event.id)

    bus.subscribe(on_event)
    bus.emit(EventType.PHASE_CHANGED, "orch-1", SAMPLE_DATA[EventType.PHASE_CHANGED])
    assert await asyncio.wait_for(received.get(), timeout=2) == 1


def test_subscription_on_a_closed_loop_is_dropped(bus, caplog):
    loop = asyncio.new_event_loop()

    async def on_event(event):
        pass

    bus.subscribe(on_event, loop=loop)
    loop.close()
    with caplog.at_level(logging.WARNING, logger="orchestrator.events"):
        bus.emit(EventType.PHASE_CHANGED, "orch-1", SAMPLE_DATA[EventType.PHASE_CHANGED])
    assert bus.subscription_count == 0 and "loop is closed" in caplog.text
