"""Reads of a plan's runs: status.json's `runs` records with their totals, and each run's attempts."""

from dataclasses import dataclass
from datetime import datetime

from orchestrator.attempts import plan_attempts
from orchestrator.clock import parse_iso
from orchestrator.errors import RunNotFound
from orchestrator.figures import SUM_KEYS, sum_figures
from orchestrator.layout import RepoLayout
from orchestrator.summary import status_snapshot, task_statuses

from .plans import plan_locate
from .transcripts import AttemptView, attempt_views


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    started_at: datetime | None
    completed_at: datetime | None  # None while it runs, or if it died
    tasks_completed: int | None
    tasks_failed: int | None
    usage: dict | None  # the run record's sums (camelCase), None for a run recorded before figures were


@dataclass(frozen=True)
class RunTask:
    task_id: str
    description: str
    attempts: int
    outcome: str  # its last attempt's in this run
    usage: dict


@dataclass(frozen=True)
class RunDetail(RunInfo):
    attempts: tuple[AttemptView, ...] = ()
    tasks: tuple[RunTask, ...] = ()


def _count(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _run_info(record: dict) -> RunInfo:
    has_figures = "attempts" in record
    return RunInfo(
        run_id=str(record.get("runId")), started_at=parse_iso(record.get("startedAt")),
        completed_at=parse_iso(record.get("completedAt")), tasks_completed=_count(record.get("tasksCompleted")),
        tasks_failed=_count(record.get("tasksFailed")),
        usage={key: record.get(key) for key in (*SUM_KEYS, "attempts")} if has_figures else None,
    )


def _records(layout: RepoLayout, name: str):
    """(the plan's files, its status snapshot or None, its run records)."""
    files = plan_locate(layout=layout, name=name)
    snapshot = status_snapshot(files.status_path)
    runs = snapshot.data.get("runs") if snapshot else None
    records = [run for run in runs if isinstance(run, dict) and run.get("runId")] if isinstance(runs, list) else []
    return files, snapshot, records


def run_list(*, layout: RepoLayout, name: str) -> list[RunInfo]:
    """Newest first. InvalidName, PlanNotFound, StatusFileCorrupt."""
    _, _, records = _records(layout, name)
    return sorted(map(_run_info, records), key=lambda run: run.started_at.timestamp() if run.started_at else 0,
                  reverse=True)


def run_get(*, layout: RepoLayout, name: str, run_id: str) -> RunDetail:
    """One run with every attempt it made (oldest first, for a timeline) and per-task figures."""
    files, snapshot, records = _records(layout, name)
    record = next((run for run in records if str(run.get("runId")) == run_id), None)
    if record is None:
        raise RunNotFound(f"Plan {name!r} has no run {run_id!r}.", name=name, run_id=run_id)
    statuses = task_statuses(files)
    every = plan_attempts(layout.transcripts_dir(name, archived=files.archived))
    attempts = [view for view in attempt_views(every, statuses) if view.run_id == run_id]
    if record.get("completedAt"):
        # A finished run runs nothing, whatever a later run is doing to the same task.
        attempts = [view if view.outcome != "running" else _interrupted(view) for view in attempts]
    descriptions = {str(task.get("id")): str(task.get("description") or "") for task in snapshot.tasks}
    tasks: dict[str, list[AttemptView]] = {}
    for view in attempts:
        tasks.setdefault(view.task_id, []).append(view)
    return RunDetail(
        **vars(_run_info(record)), attempts=tuple(attempts),
        tasks=tuple(RunTask(task_id=task_id, description=descriptions.get(task_id, ""), attempts=len(views),
                            outcome=views[-1].outcome, usage=sum_figures(view.usage for view in views if view.usage))
                    for task_id, views in tasks.items()),
    )


def _interrupted(view: AttemptView) -> AttemptView:
    return AttemptView(**{**vars(view), "outcome": "interrupted"})
