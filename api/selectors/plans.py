"""Reads of plans, their status and their tasks, from the markdown and status.json files as they are now."""

import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from orchestrator.clock import parse_iso
from orchestrator.errors import PlanNotFound, StatusFileCorrupt
from orchestrator.figures import entry_figures, sum_figures
from orchestrator.layout import RepoLayout, check_plan_name
from orchestrator.plans import UNPHASED, ParsedPlan, read_plan
from orchestrator.status import TASK_STATUSES, StatusSnapshot, read_status
from orchestrator.tasks import task_error, task_skip_reason

# The same vocabulary as the admin's plan index (api.models.PlanState), plus `unknown`
# for a plan whose status file cannot be read.
PLAN_STATUSES = ("not_started", "in_progress", "complete", "unknown")

# At most 4 digits, like the plan parser's: status files may hold any phase text, and int()
# refuses strings past 4300 digits.
_PHASE_NUMBER_RE = re.compile(r"^Phase\s+(\d{1,4})\b", re.IGNORECASE)


@dataclass(frozen=True)
class PlanFiles:
    """Where one plan's files are; every path already checked to stay inside its directory."""

    name: str
    archived: bool
    plan_path: Path
    status_path: Path
    findings_dir: Path


@dataclass(frozen=True)
class TaskInfo:
    id: str
    description: str
    status: str
    phase: str
    retry_count: int
    last_error: str | None
    skip_reason: str | None
    started_at: datetime | None
    completed_at: datetime | None
    phase_number: int | None  # for the `phase` filter; not part of the response
    usage: dict | None = None  # cost and tokens over its attempts (camelCase, orchestrator.figures)


@dataclass(frozen=True)
class PhaseSummary:
    phase: str
    total_tasks: int
    completed_tasks: int
    pending_tasks: int
    in_progress_tasks: int
    failed_tasks: int
    skipped_tasks: int
    progress_percent: float


@dataclass(frozen=True)
class PlanSummary:
    name: str
    title: str
    archived: bool
    plan_path: str
    has_status: bool
    status: str
    status_error: str | None
    total_tasks: int
    completed_tasks: int
    pending_tasks: int
    in_progress_tasks: int
    failed_tasks: int
    skipped_tasks: int
    progress_percent: float
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


def instance_plan_files(layout: RepoLayout, instance) -> tuple[RepoLayout, PlanFiles]:
    """(the tree they are in, the files) of the plan a registry entry runs: its worktree's if it names
    one (RepoLayout.instance_plan); InvalidName if no file of ours can belong to it."""
    ref = layout.instance_plan(plan_path=instance.plan_path, worktree_path=instance.worktree_path)
    return ref.layout, plan_files(ref.layout, ref.name, ref.archived)


def plan_files(layout: RepoLayout, name: str, archived: bool) -> PlanFiles:
    return PlanFiles(
        name=name,
        archived=archived,
        plan_path=layout.plan_file(name, archived=archived),
        status_path=layout.status_file(name, archived=archived),
        findings_dir=layout.findings_dir(name, archived=archived),
    )


def _is_plan(parsed: ParsedPlan) -> bool:
    """Markdown without a "## Phase N:" heading (READMEs, indexes) is not a plan."""
    return bool(parsed.phases)


def parse_plan_file(path: Path) -> ParsedPlan | None:
    """The parsed plan, or None if the file is missing, unreadable or not a plan."""
    try:
        parsed = read_plan(path)
    except OSError:
        return None
    return parsed if _is_plan(parsed) else None


def plan_locate(*, layout: RepoLayout, name: str) -> PlanFiles:
    """The plan called `name`: an active one first, then an archived one. InvalidName, PlanNotFound."""
    check_plan_name(name)
    for archived in (False, True):
        files = plan_files(layout, name, archived)
        if parse_plan_file(files.plan_path) is not None:
            return files
    raise PlanNotFound(f"No plan named {name!r}.", name=name)


def snapshot_from_plan(parsed: ParsedPlan, path: Path) -> StatusSnapshot:
    """What status.json would say if it were created now (every task pending).

    Built as a StatusSnapshot so counts and phase summaries come from the one place that computes them.
    """
    return StatusSnapshot(data={"tasks": parsed.initial_tasks()}, etag="", mtime=0.0, path=path)


def _phase_number(phase: str) -> int | None:
    match = _PHASE_NUMBER_RE.match(phase)
    return int(match.group(1)) if match else None


def task_info(raw: dict, planned: dict) -> TaskInfo:
    task_id = str(raw.get("id", ""))
    plan_task = planned.get(task_id)
    phase = str(raw.get("phase") or (plan_task.phase if plan_task else UNPHASED))
    status = raw.get("status")
    retry_count = raw.get("retryCount")
    return TaskInfo(
        id=task_id,
        # Older status files name the field `title`; fall back to the plan's own words.
        description=str(raw.get("description") or raw.get("title") or (plan_task.description if plan_task else "")),
        status=status if status in TASK_STATUSES else "pending",
        phase=phase,
        retry_count=retry_count if isinstance(retry_count, int) and retry_count > 0 else 0,
        last_error=task_error(raw),
        skip_reason=task_skip_reason(raw),
        started_at=parse_iso(raw.get("startedAt")),
        completed_at=parse_iso(raw.get("completedAt")),
        phase_number=_phase_number(phase),
        usage=entry_figures(raw),
    )


def phase_summary(raw: dict) -> PhaseSummary:
    return PhaseSummary(
        phase=raw["phase"],
        total_tasks=raw["total"],
        completed_tasks=raw["completed"],
        pending_tasks=raw["pending"],
        in_progress_tasks=raw["in_progress"],
        failed_tasks=raw["failed"],
        skipped_tasks=raw["skipped"],
        progress_percent=raw["progress_percent"],
    )


def _plan_status(counts: dict) -> str:
    if counts["total"] and counts["completed"] + counts["skipped"] == counts["total"]:
        return "complete"
    if counts["pending"] == counts["total"]:
        return "not_started"
    return "in_progress"


def _mtime(path: Path) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0


def _from_epoch(timestamp: float) -> datetime | None:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc) if timestamp else None


def _read(layout: RepoLayout, files: PlanFiles, parsed: ParsedPlan, *, strict: bool, status_error: str | None = None):
    """(summary fields, the status to count from, the status file's snapshot or None).

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
    derived = snapshot or snapshot_from_plan(parsed, files.plan_path)
    counts, data = derived.counts, derived.data
    modified = max(_mtime(files.plan_path), snapshot.mtime if snapshot else 0.0)
    fields = dict(
        name=files.name,
        title=parsed.title or str(data.get("planName") or "") or files.name,
        archived=files.archived,
        plan_path=layout.relative(files.plan_path),
        has_status=snapshot is not None or status_error is not None,
        status="unknown" if status_error else _plan_status(counts),
        status_error=status_error,
        total_tasks=counts["total"],
        completed_tasks=counts["completed"],
        pending_tasks=counts["pending"],
        in_progress_tasks=counts["in_progress"],
        failed_tasks=counts["failed"],
        skipped_tasks=counts["skipped"],
        progress_percent=derived.progress_percent,
        current_phase=str(data.get("currentPhase") or "") or derived.first_open_phase,
        created_at=parse_iso(data.get("createdAt")),
        last_updated=parse_iso(data.get("lastUpdatedAt")) or _from_epoch(modified),
        modified=modified,
    )
    return fields, derived, snapshot


def status_snapshot(path: Path) -> StatusSnapshot | None:
    """The status file; StatusFileCorrupt for anything unreadable (a directory, no permission), never OSError."""
    try:
        return read_status(path)
    except IsADirectoryError:
        raise StatusFileCorrupt(f"{path.name} is a directory.", path=str(path)) from None
    except OSError as exc:
        raise StatusFileCorrupt(f"{path.name} cannot be read ({exc.strerror or exc}).", path=str(path)) from None


def _phases(derived: StatusSnapshot) -> tuple[PhaseSummary, ...]:
    return tuple(phase_summary(raw) for raw in derived.phases)


def _discover(layout: RepoLayout, archived: bool):
    """(files, parsed plan, status error) of every plan in one directory, by name."""
    outputs = layout.archived_outputs_dir if archived else layout.outputs_dir
    for name, plan_path in layout.plan_markdown(archived=archived):
        parsed = parse_plan_file(plan_path)
        if parsed is None:
            continue
        output = outputs / name
        files = PlanFiles(name, archived, plan_path, output / "status.json", output / "findings")
        error = None
        if (os.path.islink(output) or os.path.islink(files.status_path)) \
                and not layout.is_contained(files.status_path, outputs):
            error = "The status file lies outside docs/plan-outputs and is not read."
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
    fields, derived, _ = _read(layout, files, read_plan(files.plan_path), strict=True)
    return PlanDetail(**fields, phases=_phases(derived))


def plan_status_get(*, layout: RepoLayout, name: str) -> PlanStatus:
    """The plan's status with every task; from the markdown (all pending but checked items) without status.json."""
    files = plan_locate(layout=layout, name=name)
    parsed = read_plan(files.plan_path)
    fields, derived, snapshot = _read(layout, files, parsed, strict=True)
    planned = {task.id: task for task in parsed.tasks}
    return PlanStatus(
        **fields,
        phases=_phases(derived),
        status_etag=snapshot.etag if snapshot else None,
        tasks=tuple(task_info(raw, planned) for raw in derived.tasks),
        usage=sum_figures(derived.tasks),
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
