"""Replay by id: the events after the cursor, then live, no duplicates, no holes; reset when too old."""

import asyncio

from orchestrator.events import EventBus
from orchestrator.journal import Journal
from realtime.stream.eventstream import EventStream

INSTANCE = "orch-1"


def journal_with(tmp_path, n, *, max_bytes=5_000_000):
    journal = Journal(tmp_path / f"{INSTANCE}.jsonl", max_bytes=max_bytes)
    bus = EventBus()
    events = []
    bus.subscribe(journal.append)
    bus.subscribe(events.append)
    for i in range(n):
        bus.emit("tool_started", INSTANCE, {"tool_id": f"t{i}", "tool_name": "Bash", "input_summary": "ls"})
    return journal, bus, events


def stream_for(journal, **kwargs):
    return EventStream(instance_id=INSTANCE, journal_for=lambda _id: journal, queue_size=64, **kwargs)


async def frames(stream, n):
    out = []
    while len(out) < n:
        out += await asyncio.wait_for(stream.next_frames(), 1)
    return out


async def test_since_replays_the_missed_events_then_live_without_duplicates(tmp_path):
    journal, bus, events = journal_with(tmp_path, 5)
    stream = stream_for(journal)
    # Live events 4 and 5 were also queued (joined the group before reading the journal).
    stream.offer(events[3].to_dict())
    stream.offer(events[4].to_dict())
    replayed = await stream.open(since=2)
    assert [f["id"] for f in replayed] == [3, 4, 5]
    bus.emit("tool_completed", INSTANCE, {"tool_id": "t", "tool_name": "Bash", "duration": 0.1, "success": True})
    stream.offer(events[-1].to_dict())
    assert [f["id"] for f in await frames(stream, 1)] == [6]
    assert len(stream.outbox) == 0


async def test_without_since_the_cursor_is_the_journal_end(tmp_path):
    journal, _, _ = journal_with(tmp_path, 3)
    stream = stream_for(journal)
    assert await stream.open(since=None) == []
    assert stream.cursor == 3


async def test_cursor_older_than_the_journal_gets_one_reset(tmp_path):
    journal, _, _ = journal_with(tmp_path, 400, max_bytes=20_000)
    assert journal.oldest_id() > 2
    stream = stream_for(journal)
    replayed = await stream.open(since=1)
    assert [f["type"] for f in replayed] == ["reset"]
    assert replayed[0]["data"]["reason"] == "cursor_out_of_range"
    assert stream.cursor == 400


async def test_cursor_ahead_of_the_journal_gets_a_reset(tmp_path):
    journal, _, _ = journal_with(tmp_path, 3)
    replayed = await stream_for(journal).open(since=50)
    assert [f["type"] for f in replayed] == ["reset"]


async def test_a_lost_layer_message_is_filled_from_the_journal(tmp_path):
    journal, _, events = journal_with(tmp_path, 6)
    stream = stream_for(journal)
    stream.cursors[INSTANCE] = 2
    stream.offer(events[2].to_dict())  # 3
    stream.offer(events[5].to_dict())  # 6: 4 and 5 never came over the layer
    assert [f["id"] for f in await frames(stream, 4)] == [3, 4, 5, 6]


async def test_a_hole_the_journal_cannot_fill_is_reported_as_a_gap(tmp_path):
    journal, _, events = journal_with(tmp_path, 3)
    stream = stream_for(journal)
    stream.cursors[INSTANCE] = 3
    stream.offer({**events[0].to_dict(), "id": 7})
    sent = await frames(stream, 2)
    assert sent[0]["type"] == "gap" and sent[0]["data"]["from_id"] == 4 and sent[0]["data"]["count"] == 3
    assert sent[1]["id"] == 7


async def test_activity_stream_replays_only_tool_events(tmp_path):
    journal, bus, _ = journal_with(tmp_path, 2)
    bus.emit("orchestrator_state", INSTANCE, {"state": "paused", "reason": None})
    stream = stream_for(journal, event_types=frozenset({"tool_started", "tool_completed"}))
    replayed = await stream.open(since=0)
    assert [f["id"] for f in replayed] == [1, 2]


# -- over the WebSocket --------------------------------------------------------------------

import pytest  # noqa: E402

from ..conftest import INSTANCE as WS_INSTANCE  # noqa: E402
from ..conftest import connected, publish

EVENTS = f"/api/orchestrators/{WS_INSTANCE}/events"


@pytest.mark.django_db(transaction=True)
async def test_reconnect_with_since_gets_exactly_the_missed_events_then_live(orchestrator):
    seen = [orchestrator.tool() for _ in range(3)]
    comm = await connected(f"{EVENTS}?since={seen[0].id}")
    snapshot = await comm.receive_json_from(3)
    assert snapshot["type"] == "snapshot" and snapshot["data"]["last_event_id"] == 3
    assert [(await comm.receive_json_from(2))["id"] for _ in range(2)] == [2, 3]
    live = orchestrator.tool()
    await publish(seen[2])  # a late second copy of a replayed event
    await publish(live)
    assert (await comm.receive_json_from(2))["id"] == live.id
    assert await comm.receive_nothing(0.1)
    await comm.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_stale_cursor_gets_one_reset_frame(orchestrator):
    orchestrator.tool()
    comm = await connected(f"{EVENTS}?since=99")
    assert (await comm.receive_json_from(3))["type"] == "snapshot"
    reset = await comm.receive_json_from(2)
    assert reset["type"] == "reset" and reset["data"]["last_id"] == 1
    assert await comm.receive_nothing(0.1)
    await comm.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_events_lost_on_the_layer_are_refilled_from_the_journal(orchestrator):
    comm = await connected(EVENTS)
    await comm.receive_json_from(3)
    first, lost, last = orchestrator.tool(), orchestrator.tool(), orchestrator.tool()
    await publish(first)
    await publish(last)
    assert [(await comm.receive_json_from(2))["id"] for _ in range(3)] == [first.id, lost.id, last.id]
    await comm.disconnect()
