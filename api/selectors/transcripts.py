"""Reads of a task's attempts and of one attempt's transcript (orchestrator.transcript files)."""

from dataclasses import dataclass
from datetime import datetime

from orchestrator.attempts import AttemptInfo, read_records, settled_seq, task_attempts, transcript_items
from orchestrator.clock import parse_iso
from orchestrator.errors import AttemptNotFound, TaskNotFound
from orchestrator.layout import RepoLayout, check_task_id
from orchestrator.summary import task_statuses

from .plans import plan_locate

PAGE_SIZE = 200
PAGE_MAX = 1000


@dataclass(frozen=True)
class AttemptView:
    """One attempt as the API shows it. outcome: completed | failed | running | interrupted
    (no end line, and nothing runs it any more: its orchestrator stopped or died mid-task)."""

    task_id: str
    attempt: int
    run_id: str | None
    started_at: datetime | None
    ended_at: datetime | None  # for a running attempt: its newest line so far
    outcome: str
    error: str | None
    usage: dict | None  # camelCase figures (orchestrator.figures), attempts = 1


@dataclass(frozen=True)
class Transcript:
    plan: str
    task_id: str
    attempt: int | None  # None: the task never ran with a transcript
    attempts: tuple[AttemptView, ...]
    items: tuple[dict, ...]
    next_after: int
    has_more: bool
    malformed_lines: int


def attempt_view(info: AttemptInfo, *, running: bool) -> AttemptView:
    """`running`: whether the task is in progress now and this is its newest attempt."""
    outcome = info.outcome or ("running" if running else "interrupted")
    usage = {**info.figures.to_dict(), "attempts": 1} if info.figures else None
    return AttemptView(task_id=info.task_id, attempt=info.attempt, run_id=info.run_id,
                       started_at=parse_iso(info.started_at), ended_at=parse_iso(info.last_at), outcome=outcome,
                       error=info.error, usage=usage)


def attempt_views(infos: list[AttemptInfo], statuses: dict[str, str]) -> list[AttemptView]:
    newest: dict[str, int] = {}
    for info in infos:
        newest[info.task_id] = max(newest.get(info.task_id, 0), info.attempt)
    return [attempt_view(info, running=statuses.get(info.task_id) == "in_progress"
                         and info.attempt == newest[info.task_id]) for info in infos]


def task_transcript_get(*, layout: RepoLayout, name: str, task_id: str, attempt: int | None = None,
                        after: int = 0, limit: int = PAGE_SIZE) -> Transcript:
    """A page of one attempt's items (the newest attempt by default) and every attempt's summary.

    Items come in file order with seq > `after`; `next_after` is where a follower asks from
    next (items from there on may still change, see orchestrator.attempts.settled_seq).
    InvalidName, PlanNotFound, TaskNotFound, AttemptNotFound.
    """
    check_task_id(task_id)
    files = plan_locate(layout=layout, name=name)
    statuses = task_statuses(files)
    task_dir = layout.task_transcripts_dir(name, task_id, archived=files.archived)
    infos = task_attempts(task_dir, task_id=task_id)
    if task_id not in statuses and not infos:
        raise TaskNotFound(f"No task {task_id} in plan {name!r}.", task_id=task_id)
    views = tuple(attempt_views(infos, statuses))
    if attempt is None and not infos:
        return Transcript(plan=name, task_id=task_id, attempt=None, attempts=views, items=(), next_after=after,
                          has_more=False, malformed_lines=0)
    chosen = infos[-1] if attempt is None else next((info for info in infos if info.attempt == attempt), None)
    if chosen is None:
        raise AttemptNotFound(f"Task {task_id} has no attempt {attempt}.", task_id=task_id, attempt=attempt)
    try:
        records, malformed = read_records(chosen.path)
    except FileNotFoundError:
        raise AttemptNotFound(f"Attempt {attempt} of task {task_id} is gone.", task_id=task_id) from None
    items = [item for item in transcript_items(records) if item["seq"] > after]
    page = items[: max(1, min(limit, PAGE_MAX))]
    return Transcript(plan=name, task_id=task_id, attempt=chosen.attempt, attempts=views, items=tuple(page),
                      next_after=max(after, settled_seq(page)), has_more=len(items) > len(page),
                      malformed_lines=malformed)
