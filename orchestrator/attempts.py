"""Reading transcripts back: a task's attempts with their figures, and one attempt's items in order.

The format is orchestrator.transcript's. A summary reads only the first line and the file's
tail (the `end` line is last and small), so listing every attempt of a plan stays cheap
however long the transcripts are. Lines that do not parse (a crash mid-write, a foreign
edit) are counted and skipped, never fatal.
"""

import json
import os
from dataclasses import dataclass
from pathlib import Path

from .figures import AgentFigures
from .transcript import attempt_numbers, attempt_path

TAIL_BYTES = 65536  # the `end` line is far smaller: its longest field is an error cut to 300 characters


@dataclass(frozen=True)
class AttemptInfo:
    """One attempt. `outcome` is None until its `end` line is written (running, or its orchestrator died)."""

    task_id: str
    attempt: int
    run_id: str | None
    started_at: str | None
    last_at: str | None  # the end line's time, or the newest line's while it runs
    outcome: str | None
    error: str | None
    figures: AgentFigures | None
    size: int
    path: Path


def _parse(line: bytes) -> dict | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) and isinstance(record.get("kind"), str) else None


def attempt_info(path: Path, *, task_id: str, attempt: int) -> AttemptInfo | None:
    """The attempt's summary from its first line and its tail; None if the file is gone."""
    try:
        with open(path, "rb") as f:
            head = _parse(f.readline()) or {}
            size = os.fstat(f.fileno()).st_size
            f.seek(max(0, size - TAIL_BYTES))
            tail = f.read(TAIL_BYTES).split(b"\n")
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None
    if size > TAIL_BYTES:
        tail = tail[1:]  # the first piece is most likely the end of a line cut by the seek
    records = [record for record in map(_parse, tail) if record is not None]
    end = next((record for record in reversed(records) if record["kind"] == "end"), None)
    last = end or (records[-1] if records else head)
    return AttemptInfo(
        task_id=task_id, attempt=attempt,
        run_id=head.get("runId") if isinstance(head.get("runId"), str) else None,
        started_at=head.get("at") if isinstance(head.get("at"), str) else None,
        last_at=last.get("at") if isinstance(last.get("at"), str) else None,
        outcome=str(end["outcome"]) if end and end.get("outcome") else None,
        error=str(end["error"]) if end and end.get("error") else None,
        figures=AgentFigures.from_dict(end.get("figures")) if end else None,
        size=size, path=path,
    )


def task_attempts(task_dir: Path, *, task_id: str) -> list[AttemptInfo]:
    infos = (attempt_info(attempt_path(task_dir, n), task_id=task_id, attempt=n) for n in attempt_numbers(task_dir))
    return [info for info in infos if info is not None]


def plan_attempts(transcripts_dir: Path) -> list[AttemptInfo]:
    """Every attempt of every task, oldest first (the order of a run's timeline)."""
    try:
        task_ids = sorted(entry.name for entry in os.scandir(transcripts_dir) if entry.is_dir(follow_symlinks=False))
    except (FileNotFoundError, NotADirectoryError):
        return []
    attempts = [info for task_id in task_ids for info in task_attempts(transcripts_dir / task_id, task_id=task_id)]
    return sorted(attempts, key=lambda info: (info.started_at or "", info.task_id, info.attempt))


def read_records(path: Path) -> tuple[list[dict], int]:
    """(records in file order, lines that did not parse)."""
    records, malformed = [], 0
    with open(path, "rb") as f:
        for line in f:
            if not line.strip():
                continue
            record = _parse(line)
            if record is None or not isinstance(record.get("seq"), int):
                malformed += 1
            else:
                records.append(record)
    return records, malformed


def _item(record: dict) -> dict | None:
    kind, base = record["kind"], {"seq": record["seq"], "kind": record["kind"], "at": record.get("at")}
    if kind == "attempt":
        return {**base, "run_id": record.get("runId"), "prompt": record.get("prompt")}
    if kind == "init":
        return {**base, "model": record.get("model"), "session_id": record.get("sessionId"),
                "cwd": record.get("cwd"), "tools": record.get("tools") or []}
    if kind == "text":
        return {**base, "text": record.get("text") or ""}
    if kind == "tool_use":
        return {**base, "kind": "tool_call", "tool_id": record.get("toolId"), "name": record.get("name"),
                "input": record.get("input"), "input_truncated": record.get("inputTruncated") is True,
                "finished": False, "is_error": None, "result": None, "result_chars": None, "duration_s": None,
                "completed_at": None}
    if kind == "result":
        return {**base, "subtype": record.get("subtype"), "is_error": record.get("isError") is True,
                "outcome": record.get("outcome"), "result": record.get("result")}
    if kind == "truncated":
        return {**base, "reason": record.get("reason"), "max_bytes": record.get("maxBytes")}
    if kind == "end":
        return {**base, "outcome": record.get("outcome"), "error": record.get("error"),
                "figures": record.get("figures"), "malformed_lines": record.get("malformedLines"),
                "duration_s": record.get("durationS")}
    return None


def transcript_items(records: list[dict]) -> list[dict]:
    """Records as a reader wants them: each tool call one item (at its tool_use's place) with its result."""
    items, calls = [], {}
    for record in records:
        if record["kind"] == "tool_result":
            call = calls.get(record.get("toolId"))
            if call is not None:
                call.update(finished=True, is_error=record.get("isError") is True, result=record.get("content"),
                            result_chars=record.get("chars"), duration_s=record.get("durationS"),
                            completed_at=record.get("at"))
            continue
        item = _item(record)
        if item is None:
            continue
        if item["kind"] == "tool_call":
            calls[item["tool_id"]] = item
        items.append(item)
    return items


def settled_seq(items: list[dict]) -> int:
    """The seq up to which no item can change any more: a follower asks for what comes after it.

    Everything from the first unfinished tool call on may still change (its result is to
    come), so a live reader re-reads from there and replaces items by seq.
    """
    settled = 0
    for item in items:
        if item["kind"] == "tool_call" and not item["finished"]:
            break
        settled = item["seq"]
    return settled
