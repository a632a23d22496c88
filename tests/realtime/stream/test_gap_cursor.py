"""A stream client that falls behind is told what it missed, never more (found by bench/load_soak.py)."""

INSTANCE = "orch-1700000000000"


async def test_gap_frame_never_names_events_the_client_already_received(tmp_path):
    """Found by bench/load_soak.py: while a slow client's outbox was dropping, a newer status_updated
    still got in (it supersedes a queued one), its id jump was hole-filled from the journal, and the
    gap frame sent afterwards still began at the first dropped id. A client that resumed from the
    gap's `since`, as documented, would have handled those events twice."""
    from orchestrator.events import Event
    from orchestrator.journal import Journal
    from realtime.stream.eventstream import EventStream

    journal = Journal(tmp_path / f"{INSTANCE}.jsonl")
    stream = EventStream(instance_id=INSTANCE, journal_for=lambda _: journal, queue_size=4)
    assert await stream.open(since=0) == []
    events = []
    for event_id in range(1, 31):
        kind = "status_updated" if event_id in (3, 25) else "tool_started"
        event = Event(event_id, kind, "2025-01-02T03:04:05.000Z", INSTANCE, {"n": event_id})
        journal.append(event)
        events.append(event.to_dict())
    for event in events:  # 1, 2, 3, 4 fill the outbox; 25 supersedes 3; the rest is dropped
        stream.offer(event)

    delivered, gaps = [], []
    while len(stream.outbox):
        for frame in await stream.next_frames():
            (gaps if frame["type"] == "gap" else delivered).append(frame)
    if stream.outbox.dropping:
        gaps += [f for f in await stream.next_frames() if f["type"] == "gap"]
    delivered_ids = [frame["id"] for frame in delivered]
    assert delivered_ids == sorted(delivered_ids) and 25 in delivered_ids
    for gap in gaps:
        named = range(gap["data"]["from_id"], gap["data"]["to_id"] + 1)
        assert not [i for i in delivered_ids if i in named], gap
        assert gap["data"]["since"] >= 25 and gap["data"]["count"] == len(named)
    covered = set(delivered_ids) | {i for g in gaps for i in range(g["data"]["from_id"], g["data"]["to_id"] + 1)}
    assert covered | {3} == set(range(1, 31)), "every event is delivered, superseded, or named by a gap"
