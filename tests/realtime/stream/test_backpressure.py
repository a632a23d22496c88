"""A slow client costs bounded memory: coalesced status, dropped tail, one gap frame per instance."""

import asyncio

import pytest

from realtime.stream.eventstream import EventStream
from realtime.stream.outbox import Gap, Outbox


def ev(event_id, type_="task_changed", instance="orch-1"):
    return {"id": event_id, "type": type_, "timestamp": "t", "instance_id": instance, "data": {}}


def drain(outbox):
    items = []
    while (item := outbox.get_nowait()) is not None:
        items.append(item)
    return items


def test_status_updated_keeps_only_the_newest_and_takes_no_extra_slot():
    box = Outbox(maxsize=3)
    box.put_event(ev(1, "status_updated"))
    box.put_event(ev(2))
    box.put_event(ev(3, "status_updated"))
    box.put_event(ev(4, "status_updated"))
    assert len(box) == 2
    assert [f["id"] for f in drain(box)] == [2, 4]
    assert box.superseded["orch-1"] == {1, 3}


def test_status_of_two_instances_is_coalesced_separately():
    box = Outbox(maxsize=10)
    box.put_event(ev(1, "status_updated", "a"))
    box.put_event(ev(1, "status_updated", "b"))
    box.put_event(ev(2, "status_updated", "a"))
    assert [(f["instance_id"], f["id"]) for f in drain(box)] == [("b", 1), ("a", 2)]


def test_overflow_drops_the_tail_until_drained_then_reports_one_gap():
    box = Outbox(maxsize=2)
    assert box.put_event(ev(1)) and box.put_event(ev(2))
    assert not box.put_event(ev(3))
    assert box.get_nowait()["id"] == 1
    # Still dropping although a slot is free: the lost ids stay one contiguous range.
    assert not box.put_event(ev(4))
    assert box.get_nowait()["id"] == 2
    gap = box.get_nowait()
    assert isinstance(gap, Gap)
    assert (gap.from_id, gap.to_id, gap.count) == (3, 4, 2)
    assert gap.frame("now")["data"] == {"from_id": 3, "to_id": 4, "count": 2, "since": 2}
    assert box.put_event(ev(5))


def test_control_frames_are_never_dropped():
    box = Outbox(maxsize=1)
    box.put_event(ev(1))
    box.put_control({"type": "ping"})
    assert [f["type"] for f in drain(box)] == ["task_changed", "ping"]


def test_memory_stays_bounded_under_a_flood():
    box = Outbox(maxsize=256)
    for i in range(1, 100_001):
        box.put_event(ev(i, "tool_started"))
    assert len(box) == 256
    frames = drain(box)
    assert len(frames) == 257
    assert frames[-1].count == 100_000 - 256


async def test_stream_after_gap_continues_without_refilling_the_dropped_ids():
    stream = EventStream(instance_id="orch-1", journal_for=lambda _id: None, queue_size=2)
    stream.cursors["orch-1"] = 0
    for i in range(1, 6):
        stream.offer(ev(i))
    sent = []
    for _ in range(3):
        sent += await asyncio.wait_for(stream.next_frames(), 1)
    assert [f.get("id") for f in sent] == [1, 2, None]
    assert sent[-1]["type"] == "gap" and sent[-1]["data"]["from_id"] == 3
    stream.offer(ev(6))
    assert [f["id"] for f in await asyncio.wait_for(stream.next_frames(), 1)] == [6]


async def test_stream_skips_second_delivery_of_the_same_event():
    stream = EventStream(instance_id="orch-1", journal_for=lambda _id: None, queue_size=10)
    stream.cursors["orch-1"] = 0
    for i in (1, 2, 1, 2, 3):
        stream.offer(ev(i))
    sent = []
    while len(sent) < 3:
        sent += await asyncio.wait_for(stream.next_frames(), 1)
    assert [f["id"] for f in sent] == [1, 2, 3]
    assert len(stream.outbox) == 0


async def test_coalesced_status_is_not_taken_for_a_hole():
    stream = EventStream(instance_id="orch-1", journal_for=lambda _id: pytest.fail("no journal read"),
                         queue_size=10)
    stream.cursors["orch-1"] = 0
    stream.offer(ev(1, "status_updated"))
    stream.offer(ev(2))
    stream.offer(ev(3, "status_updated"))
    sent = []
    while len(sent) < 2:
        sent += await asyncio.wait_for(stream.next_frames(), 1)
    assert [f["id"] for f in sent] == [2, 3]
