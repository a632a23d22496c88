"""What a (re)connecting client missed: the journal's events after its cursor, or a reset.

A cursor is `?since=` on either transport or `Last-Event-ID` over SSE; events are read from
the instance's journal (realtime.journals), in a thread, by realtime.stream.eventstream.
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.journal import Journal


@dataclass
class Replay:
    events: list[dict]
    reset: dict | None
    cursor: int | None


def read_replay(journal: Journal | None, since: int | None) -> Replay:
    """Events after `since`, or a reset when the journal cannot tell what came after it."""
    if journal is None:
        if since:
            return Replay([], {"reason": "no_journal", "since": since, "last_id": 0}, None)
        return Replay([], None, None)
    if since is None:
        return Replay([], None, journal.last_id())
    events, reset = journal.read_since(since)
    last_id = events[-1].id if events else since
    if reset:
        # The snapshot already sent is the truth; the events after it follow live.
        return Replay([], {"reason": "cursor_out_of_range", "since": since, "oldest_id": journal.oldest_id(),
                           "last_id": journal.last_id()}, journal.last_id())
    return Replay([e.to_dict() for e in events], None, last_id)


def read_after(journal: Journal | None, after: int, limit: int) -> list[dict]:
    if journal is None or journal.last_id() <= after:
        return []
    events, _ = journal.read_since(after)
    return [e.to_dict() for e in events[:limit]]


def read_fill(journal: Journal | None, after: int, before: int, wanted: set[int]) -> list[dict]:
    if journal is None:
        return []
    events, _ = journal.read_since(after)
    return [e.to_dict() for e in events if e.id < before and e.id in wanted]



# Event ids are 64-bit at most; a longer digit string is no cursor of ours (and int() of
# thousands of digits is refused by Python anyway).
MAX_CURSOR_DIGITS = 19


class InvalidCursor(ValueError):
    """A `since` / `Last-Event-ID` that is present but not an event id."""

    code = "invalid_cursor"


def parse_since(raw: str | None) -> int | None:
    """A cursor from `?since=` or `Last-Event-ID`: None (no replay) when absent or empty.

    Only ASCII digits count: str.isdigit() also accepts "²" and other Unicode digits that
    int() refuses. Callers parse before joining any group, so a refusal leaves nothing behind.
    """
    if raw is None or not raw.strip():
        return None
    raw = raw.strip()
    if not (raw.isascii() and raw.isdigit() and len(raw) <= MAX_CURSOR_DIGITS):
        raise InvalidCursor(f"since must be an event id (0-{10 ** MAX_CURSOR_DIGITS - 1}).")
    return int(raw)
