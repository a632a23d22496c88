import json
from datetime import datetime, timezone

import pytest

from orchestrator.events import Event, EventBus, EventType
from orchestrator.journal import Journal, JournalReader, attach_journal

INSTANCE = "orch-1700000000000"
FIXED = datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def make_event(event_id: int, *, padding: int = 0) -> Event:
    return Event(
        id=event_id,
        type="phase_changed",
        timestamp="2025-01-02T03:04:05.000Z",
        instance_id=INSTANCE,
        data={"old_phase": None, "new_phase": "Phase 1: Start", "pad": "x" * padding},
    )


@pytest.fixture
def journal_path(tmp_path):
    return tmp_path / ".claude" / "orchestrator-events" / f"{INSTANCE}.jsonl"


def ids(events):
    return [e.id for e in events]


def test_empty_journal_has_no_events_and_last_id_zero(journal_path):
    journal = Journal(journal_path)
    assert journal.last_id() == 0
    assert journal.oldest_id() is None
    assert journal.read_since(0) == ([], False)


def test_append_writes_one_flushed_json_line_per_event(journal_path):
    journal = Journal(journal_path)
    journal.append(make_event(1))
    journal.append(make_event(2))
    lines = journal_path.read_text().splitlines()  # readable before close: flushed
    assert [json.loads(line)["id"] for line in lines] == [1, 2]
    assert json.loads(lines[0]) == make_event(1).to_dict()
    journal.close()


def test_read_since_returns_newer_events_in_order(journal_path):
    journal = Journal(journal_path)
    for i in range(1, 11):
        journal.append(make_event(i))
    assert ids(journal.read_since(7)[0]) == [8, 9, 10]
    assert journal.read_since(7)[1] is False
    assert journal.read_since(10) == ([], False)
    assert ids(journal.read_since(0)[0]) == list(range(1, 11))
    assert journal.last_id() == 10 and journal.oldest_id() == 1


def test_rotation_keeps_one_old_generation(journal_path):
    journal = Journal(journal_path, max_bytes=2000)
    for i in range(1, 61):
        journal.append(make_event(i, padding=100))
    rotated = journal_path.with_name(journal_path.name + ".1")
    assert rotated.exists()
    assert journal_path.stat().st_size <= 2000 and rotated.stat().st_size <= 2000
    assert not journal_path.with_name(journal_path.name + ".2").exists()
    oldest = journal.oldest_id()
    assert 1 < oldest < 60
    assert journal.last_id() == 60
    events, reset = journal.read_since(oldest - 1)
    assert ids(events) == list(range(oldest, 61)) and reset is False


def test_cursor_older_than_the_journal_gets_a_reset_with_every_kept_event(journal_path):
    journal = Journal(journal_path, max_bytes=2000)
    for i in range(1, 61):
        journal.append(make_event(i, padding=100))
    oldest = journal.oldest_id()
    events, reset = journal.read_since(oldest - 2)
    assert reset is True and ids(events) == list(range(oldest, 61))
    assert journal.read_since(0)[1] is True


def test_cursor_ahead_of_the_journal_gets_a_reset(journal_path):
    journal = Journal(journal_path)
    for i in range(1, 4):
        journal.append(make_event(i))
    events, reset = journal.read_since(500)
    assert reset is True and ids(events) == [1, 2, 3]
    assert Journal(journal_path.with_name("other.jsonl")).read_since(5) == ([], True)


def test_negative_cursor_is_refused(journal_path):
    with pytest.raises(ValueError):
        Journal(journal_path).read_since(-1)


def test_torn_last_line_is_skipped_and_not_glued_to_the_next_event(journal_path):
    journal = Journal(journal_path)
    journal.append(make_event(1))
    journal.append(make_event(2))
    journal.close()
    with open(journal_path, "ab") as f:  # a crash in the middle of writing event 3
        f.write(b'{"id": 3, "type": "phase_ch')
    restarted = Journal(journal_path)
    assert restarted.last_id() == 2
    assert ids(restarted.read_since(0)[0]) == [1, 2]
    restarted.append(make_event(3))
    assert ids(restarted.read_since(0)[0]) == [1, 2, 3]
    assert restarted.last_id() == 3


def test_last_id_reads_only_the_tail(journal_path, monkeypatch):
    journal = Journal(journal_path, max_bytes=50_000_000)
    for i in range(1, 3001):
        journal.append(make_event(i, padding=200))
    assert journal_path.stat().st_size > 500_000
    reads = []
    real_open = open

    class CountingFile:
        def __init__(self, f):
            self._f = f

        def read(self, n=-1):
            data = self._f.read(n)
            reads.append(len(data))
            return data

        def __getattr__(self, name):
            return getattr(self._f, name)

    monkeypatch.setattr("builtins.open", lambda *a, **k: CountingFile(real_open(*a, **k)))
    assert journal.last_id() == 3000
    assert sum(reads) <= 64 * 1024


def test_attach_journal_records_events_and_continues_the_sequence(journal_path):
    first_bus = EventBus(clock=lambda: FIXED)
    journal = Journal(journal_path)
    attach_journal(first_bus, journal, INSTANCE)
    first_bus.emit(EventType.PHASE_CHANGED, INSTANCE, {"old_phase": None, "new_phase": "P1"})
    first_bus.emit(EventType.PHASE_CHANGED, "orch-other", {"old_phase": None, "new_phase": "P1"})
    journal.close()

    restarted_bus = EventBus(clock=lambda: FIXED)
    attach_journal(restarted_bus, Journal(journal_path), INSTANCE)
    event = restarted_bus.emit(EventType.PHASE_CHANGED, INSTANCE, {"old_phase": "P1", "new_phase": "P2"})
    assert event.id == 2
    assert ids(Journal(journal_path).read_since(0)[0]) == [1, 2]


def test_reader_follows_appends_and_waits_for_complete_lines(journal_path):
    reader = JournalReader(journal_path)
    assert reader.read_new() == []  # the file does not exist yet
    journal = Journal(journal_path)
    journal.append(make_event(1))
    assert ids(reader.read_new()) == [1]
    assert reader.read_new() == []
    line = json.dumps(make_event(2).to_dict()).encode() + b"\n"
    with open(journal_path, "ab") as f:
        f.write(line[:20])
        f.flush()
        assert reader.read_new() == []
        f.write(line[20:])
    assert ids(reader.read_new()) == [2]
    reader.close()


def test_reader_from_end_skips_history(journal_path):
    journal = Journal(journal_path)
    journal.append(make_event(1))
    reader = JournalReader(journal_path, from_end=True)
    journal.append(make_event(2))
    assert ids(reader.read_new()) == [2]
    reader.close()


def test_reader_loses_nothing_across_rotations(journal_path):
    journal = Journal(journal_path, max_bytes=1500)
    reader = JournalReader(journal_path)
    seen = []
    for i in range(1, 41):
        journal.append(make_event(i, padding=100))
        if i % 3 == 0:
            seen += reader.read_new()
    seen += reader.read_new()
    assert ids(seen) == list(range(1, 41))
    reader.close()


def test_reader_restarts_after_truncation_and_recreation(journal_path):
    journal = Journal(journal_path)
    journal.append(make_event(1))
    reader = JournalReader(journal_path)
    assert ids(reader.read_new()) == [1]
    journal.close()
    journal_path.write_bytes(b"")
    assert reader.read_new() == []
    journal = Journal(journal_path)
    journal.append(make_event(7))
    assert ids(reader.read_new()) == [7]
    journal.close()
    journal_path.unlink()
    assert reader.read_new() == []
    journal = Journal(journal_path)
    journal.append(make_event(8))
    assert ids(reader.read_new()) == [8]
    journal.close()
    reader.close()
