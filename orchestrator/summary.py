"""A plan's summary, its phases' and its tasks', derived from its markdown and status.json in one way.

The REST reads, the admin's plan index and an orchestrator's status read all show these
figures; each used to derive them itself, and two copies of a rule drift apart. What a
reader does about an unreadable file (flag the plan, keep the old rows, fail the request)
stays with the reader: this module only says what readable files mean.
"""

import os
import re
from dataclasses import dataclass
from functools import cached_property
from datetime import datetime, timezone
from pathlib import Path

from .clock import parse_iso
from .errors import StatusFileCorrupt
from .figures import entry_figures, sum_figures
from .layout import PlanFiles
from .plans import UNPHASED, ParsedPlan, read_plan
from .status import TASK_STATUSES, StatusSnapshot, read_status
from .tasks import task_error, task_skip_reason

# How far a plan has got, as the read API and the admin's index (api.models.PlanState) name it.
PLAN_STATES = ("not_started", "in_progress", "complete")

# At most 4 digits, like the plan parser's: status files may hold any phase text, and int()
# refuses strings past 4300 digits.
_PHASE_NUMBER_RE = re.compile(r"^Phase\s+(\d{1,4})\b", re.IGNORECASE)


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
class TaskCounts:
    """How many tasks of a plan (or of one phase) are in each status, under the names the reads give them."""

    total_tasks: int
    completed_tasks: int
    pending_tasks: int
    in_progress_tasks: int
    failed_tasks: int
    skipped_tasks: int
    progress_percent: float


def task_counts(counts: dict, progress_percent: float) -> dict:
    """TaskCounts' fields from StatusSnapshot.counts, for the summaries built on it."""
    return dict(total_tasks=counts["total"], completed_tasks=counts["completed"], pending_tasks=counts["pending"],
                in_progress_tasks=counts["in_progress"], failed_tasks=counts["failed"],
                skipped_tasks=counts["skipped"], progress_percent=progress_percent)


@dataclass(frozen=True)
class PhaseSummary(TaskCounts):
    phase: str


def parse_plan_file(path: Path) -> ParsedPlan | None:
    """The parsed plan, or None if the file is missing, unreadable or not a plan.

    Markdown without a "## Phase N:" heading (READMEs, indexes) is not a plan.
    """
    try:
        parsed = read_plan(path)
    except OSError:
        return None
    return parsed if parsed.phases else None


def status_snapshot(path: Path) -> StatusSnapshot | None:
    """The status file; StatusFileCorrupt for anything unreadable (a directory, no permission), never OSError."""
    try:
        return read_status(path)
    except IsADirectoryError:
        raise StatusFileCorrupt(f"{path.name} is a directory.", path=str(path)) from None
    except OSError as exc:
        raise StatusFileCorrupt(f"{path.name} cannot be read ({exc.strerror or exc}).", path=str(path)) from None


def snapshot_from_plan(parsed: ParsedPlan, path: Path) -> StatusSnapshot:
    """What status.json would say if it were created now (every task pending).

    Built as a StatusSnapshot so counts and phase summaries come from the one place that computes them.
    """
    return StatusSnapshot(data={"tasks": parsed.initial_tasks()}, etag="", mtime=0.0, path=path)


def task_statuses(files: PlanFiles) -> dict[str, str]:
    """Task id -> status from status.json, or from the markdown before the first run."""
    snapshot = status_snapshot(files.status_path)
    if snapshot is None:
        parsed = parse_plan_file(files.plan_path)
        snapshot = snapshot_from_plan(parsed, files.plan_path) if parsed else None
    return {str(task.get("id")): str(task.get("status")) for task in snapshot.tasks} if snapshot else {}


def _phase_number(phase: str) -> int | None:
    match = _PHASE_NUMBER_RE.match(phase)
    return int(match.group(1)) if match else None


def task_info(raw: dict, planned: dict) -> TaskInfo:
    """One status.json task entry; `planned` (id -> PlanTask) fills in what the entry leaves out."""
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
    """One entry of StatusSnapshot.phases."""
    return PhaseSummary(phase=raw["phase"], **task_counts(raw, raw["progress_percent"]))


def plan_state(counts: dict) -> str:
    """One of PLAN_STATES: complete once every task is completed or skipped."""
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


@dataclass
class PlanDigest:
    """What one plan's files say, before a reader shapes it; `derived` is the status counted from
    (status.json's, or the plan's own with every task pending before the first run)."""

    files: PlanFiles
    parsed: ParsedPlan | None
    snapshot: StatusSnapshot | None
    derived: StatusSnapshot

    @property
    def counts(self) -> dict:
        return self.derived.counts

    @property
    def state(self) -> str:
        return plan_state(self.counts)

    @property
    def progress_percent(self) -> float:
        return self.derived.progress_percent

    @property
    def title(self) -> str:
        title = self.parsed.title if self.parsed else ""
        return title or str(self.derived.data.get("planName") or "") or self.files.name

    @property
    def recorded_phase(self) -> str | None:
        """The phase status.json names, if any."""
        return str(self.derived.data.get("currentPhase") or "") or None

    @property
    def current_phase(self) -> str | None:
        """The phase status.json names, else the first with work left."""
        return self.recorded_phase or self.derived.first_open_phase

    @property
    def created_at(self) -> datetime | None:
        return parse_iso(self.derived.data.get("createdAt"))

    @cached_property
    def modified(self) -> float:
        """Newest mtime of the plan's files (0.0 if none can be stat'ed)."""
        return max(_mtime(self.files.plan_path), self.snapshot.mtime if self.snapshot else 0.0)

    @property
    def last_updated(self) -> datetime | None:
        """status.json's lastUpdatedAt, else the newest file's mtime."""
        modified = self.modified
        return parse_iso(self.derived.data.get("lastUpdatedAt")) or (
            datetime.fromtimestamp(modified, tz=timezone.utc) if modified else None)

    @property
    def phases(self) -> tuple[PhaseSummary, ...]:
        return tuple(phase_summary(raw) for raw in self.derived.phases)

    @property
    def tasks(self) -> tuple[TaskInfo, ...]:
        planned = {task.id: task for task in self.parsed.tasks} if self.parsed else {}
        return tuple(task_info(raw, planned) for raw in self.derived.tasks)

    @property
    def usage(self) -> dict | None:
        """The tasks' figures summed."""
        return sum_figures(self.derived.tasks)


def plan_digest(files: PlanFiles, parsed: ParsedPlan | None, snapshot: StatusSnapshot | None) -> PlanDigest | None:
    """The digest of a plan read as `parsed` and `snapshot` (either may be None); None if neither is."""
    derived = snapshot if snapshot is not None else (snapshot_from_plan(parsed, files.plan_path) if parsed else None)
    return None if derived is None else PlanDigest(files, parsed, snapshot, derived)
