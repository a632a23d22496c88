"""Reads of plans, their status and their tasks, from the markdown and status.json files as they are now.

What the files mean is orchestrator.summary's; what a read does about an unreadable one is decided here.
"""

from dataclasses import dataclass
from datetime import datetime

from orchestrator.errors import PlanNotFound, StatusFileCorrupt
from orchestrator.layout import PlanFiles, RepoLayout, check_plan_name
from orchestrator.plans import ParsedPlan, read_plan
from orchestrator.summary import (PLAN_STATES, PhaseSummary, TaskCounts, TaskInfo, parse_plan_file, plan_digest,
                                  status_snapshot, task_counts)

# The admin's plan index's states (api.models.PlanState), plus `unknown` for a plan whose status
# file cannot be read.
PLAN_STATUSES = (*PLAN_STATES, "unknown")


@dataclass(frozen=True)
class PlanSummary(TaskCounts):
    name: str
    title: str
    archived: bool
    plan_path: str
    has_status: bool
    status: str
    status_error: str | None
    current_phase: str | None
    created_at: datetime | None
    last_updated: datetime | None
    modified: float  # newest mtime of the plan's files: the response's Last-Modified


@dataclass(frozen=True)
class PlanDetail(PlanSummary):
    phases: tuple[PhaseSummary, ...] = ()


@dataclass(frozen=True)
class PlanStatus(PlanDetail):
    status_etag: str | None = None  # the status file's version, for If-Match on task commands
    tasks: tuple[TaskInfo, ...] = ()
    usage: dict | None = None  # the tasks' figures summed


@dataclass(frozen=True)
class TaskSelection:
    tasks: tuple[TaskInfo, ...]
    modified: float


def plan_locate(*, layout: RepoLayout, name: str) -> PlanFiles:
    """The plan called `name`: an active one first, then an archived one. InvalidName, PlanNotFound."""
    check_plan_name(name)
    for archived in (False, True):
        files = layout.plan_files(name, archived=archived)
        if parse_plan_file(files.plan_path) is not None:
            return files
    raise PlanNotFound(f"No plan named {name!r}.", name=name)


def _read(layout: RepoLayout, files: PlanFiles, parsed: ParsedPlan, *, strict: bool, status_error: str | None = None):
    """(summary fields, the plan's digest).

    With `strict`, an unreadable status file raises StatusFileCorrupt; otherwise the plan
    is flagged (`status_error`, status `unknown`) and counted from its markdown.
    """
    snapshot = None
    if status_error is None:
        try:
            snapshot = status_snapshot(files.status_path)
        except StatusFileCorrupt as exc:
            if strict:
                raise
            status_error = exc.message
    digest = plan_digest(files, parsed, snapshot)
    fields = dict(
        name=files.name,
        title=digest.title,
        archived=files.archived,
        plan_path=layout.relative(files.plan_path),
        has_status=snapshot is not None or status_error is not None,
        status="unknown" if status_error else digest.state,
        status_error=status_error,
        **task_counts(digest.counts, digest.progress_percent),
        current_phase=digest.current_phase,
        created_at=digest.created_at,
        last_updated=digest.last_updated,
        modified=digest.modified,
    )
    return fields, digest


def _discover(layout: RepoLayout, archived: bool):
    """(files, parsed plan, status error) of every plan in one directory, by name."""
    for files in layout.plan_candidates(archived=archived):
        parsed = parse_plan_file(files.plan_path)
        if parsed is None:
            continue
        error = "The status file lies outside docs/plan-outputs and is not read." \
            if files.escapes(files.status_path) else None
        yield files, parsed, error


def plan_list(*, layout: RepoLayout, archived: bool | None = None, status: str | None = None) -> list[PlanSummary]:
    """Active plans, then archived ones, by name. A corrupt status file flags its plan instead of failing the list."""
    plans = []
    for is_archived in (False, True):
        if archived is not None and archived != is_archived:
            continue
        for files, parsed, error in _discover(layout, is_archived):
            summary = PlanSummary(**_read(layout, files, parsed, strict=False, status_error=error)[0])
            if status is None or summary.status == status:
                plans.append(summary)
    return plans


def plan_get(*, layout: RepoLayout, name: str) -> PlanDetail:
    files = plan_locate(layout=layout, name=name)
    fields, digest = _read(layout, files, read_plan(files.plan_path), strict=True)
    return PlanDetail(**fields, phases=digest.phases)


def plan_status_get(*, layout: RepoLayout, name: str) -> PlanStatus:
    """The plan's status with every task; from the markdown (all pending but checked items) without status.json."""
    files = plan_locate(layout=layout, name=name)
    fields, digest = _read(layout, files, read_plan(files.plan_path), strict=True)
    return PlanStatus(
        **fields,
        phases=digest.phases,
        status_etag=digest.snapshot.etag if digest.snapshot else None,
        tasks=digest.tasks,
        usage=digest.usage,
    )


def task_list(*, layout: RepoLayout, name: str, status: str | None = None, phase: str | None = None) -> TaskSelection:
    """The plan's tasks, optionally of one status and one phase (its number, or its heading as written)."""
    plan = plan_status_get(layout=layout, name=name)
    tasks = plan.tasks
    if status is not None:
        tasks = tuple(task for task in tasks if task.status == status)
    if phase is not None:
        if phase.isdigit():
            tasks = tuple(task for task in tasks if task.phase_number == int(phase))
        else:
            wanted = phase.strip().casefold()
            tasks = tuple(task for task in tasks if task.phase.casefold() == wanted)
    return TaskSelection(tasks=tasks, modified=plan.modified)
