"""Keep the admin's plan index in step with the files, re-reading only the plans whose files changed.

The index is rebuilt from stat data alone when nothing changed: one query to load the stored
fingerprints, a few hundred os.stat calls, no writes. A changed plan costs one read of its files
and a handful of bulk statements shared with every other changed plan.
"""

import hashlib
import logging
import os
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from django.db import IntegrityError, transaction
from django.utils import timezone as dj_timezone
from django.utils.dateparse import parse_datetime

from orchestrator.errors import RegistryUnavailable, StatusFileCorrupt
from orchestrator.fileio import RACY_NS
from orchestrator.layout import PLAN_NAME_RE, RepoLayout
from orchestrator.plans import UNPHASED, read_plan
from orchestrator.registry import Registry
from orchestrator.status import TASK_STATUSES, read_status

from .models import FindingRecord, OrchestratorRecord, PhaseRecord, PlanRecord, PlanState, TaskRecord

logger = logging.getLogger(__name__)

# Part of every fingerprint: bump it when the records built from the same files change shape,
# so the next sync rebuilds every plan instead of trusting rows written by older code.
INDEX_VERSION = "1"

# "1-2-foo.md", "1.2.md", "3-1-1-bar.md" -> the task the finding belongs to.
_FINDING_TASK_RE = re.compile(r"^(\d+)[.-](\d+)(?:[.-](\d+))?(?![0-9])")

_PLAN_FIELDS = (
    "title", "plan_path", "has_status", "state", "total", "pending", "in_progress", "completed",
    "failed", "skipped", "progress_percent", "current_phase", "created_at", "last_updated_at",
    "fingerprint", "synced_at",
)
_REGISTRY_FIELDS = (
    "pid", "plan_path", "worktree_path", "started_at", "last_heartbeat", "status", "socket_path", "port",
)

# One sync at a time per process: concurrent admin requests would otherwise race to insert the same plan.
_sync_lock = threading.Lock()


@dataclass
class SyncResult:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = f"{self.created} created, {self.updated} updated, {self.deleted} deleted, {self.unchanged} unchanged"
        return text + (f", {len(self.errors)} unreadable" if self.errors else "")


@dataclass(frozen=True)
class _PlanFiles:
    name: str
    archived: bool
    plan_path: Path
    status_path: Path
    findings_dir: Path
    fingerprint: str


@dataclass
class _Built:
    """Everything one plan contributes to the index; children get their plan id when it is known."""

    plan: PlanRecord
    phases: list[PhaseRecord]
    tasks: list[TaskRecord]
    findings: list[FindingRecord]


def plan_index_sync(*, layout: RepoLayout) -> SyncResult:
    """Bring the plan and orchestrator index up to date with the files under `layout`."""
    with _sync_lock:
        try:
            return _sync(layout)
        except IntegrityError:
            # Another process (a second worker, `sync_plans`) inserted the same plan meanwhile;
            # a second pass sees its rows and only updates them.
            return _sync(layout)


def _sync(layout: RepoLayout) -> SyncResult:
    result = SyncResult()
    stored = {(name, archived): (pk, fp) for pk, name, archived, fp in
              PlanRecord.objects.values_list("id", "name", "archived", "fingerprint")}
    now = dj_timezone.now()
    changed: list[_Built] = []
    seen: set[tuple[str, bool]] = set()
    for files in _discover(layout):
        key = (files.name, files.archived)
        previous = stored.get(key)
        if previous is not None and files.fingerprint and previous[1] == files.fingerprint:
            seen.add(key)
            result.unchanged += 1
            continue
        try:
            built = _build(files, layout, now)
        except (OSError, UnicodeError, StatusFileCorrupt) as exc:
            # Keep the old rows (if any) and leave the fingerprint stale so the next sync retries.
            seen.add(key)
            result.errors.append(f"{layout.relative(files.plan_path)}: {exc}")
            continue
        if built is None:
            continue
        seen.add(key)
        if previous is not None:
            built.plan.pk = previous[0]
        changed.append(built)
    vanished = [pk for key, (pk, _) in stored.items() if key not in seen]
    with transaction.atomic():
        _write(changed, vanished, result)
        _sync_registry(layout)
    return result


def _write(changed: list[_Built], vanished: list[int], result: SyncResult) -> None:
    if vanished:
        result.deleted = len(vanished)
        PlanRecord.objects.filter(pk__in=vanished).delete()
    existing = [built.plan for built in changed if built.plan.pk is not None]
    new = [built.plan for built in changed if built.plan.pk is None]
    if existing:
        ids = [plan.pk for plan in existing]
        for model in (PhaseRecord, TaskRecord, FindingRecord):
            model.objects.filter(plan_id__in=ids).delete()
        PlanRecord.objects.bulk_update(existing, _PLAN_FIELDS)
        result.updated = len(existing)
    if new:
        # SQLite and PostgreSQL return the new primary keys, which the children need below.
        PlanRecord.objects.bulk_create(new)
        result.created = len(new)
    for attr, model in (("phases", PhaseRecord), ("tasks", TaskRecord), ("findings", FindingRecord)):
        rows = []
        for built in changed:
            for row in getattr(built, attr):
                row.plan_id = built.plan.pk
                rows.append(row)
        if rows:
            model.objects.bulk_create(rows)


def _discover(layout: RepoLayout):
    """Yield every markdown file that could be a plan, with the fingerprint of all its files."""
    for archived, base in ((False, layout.plans_dir), (True, layout.archived_plans_dir)):
        try:
            entries = sorted(os.scandir(base), key=lambda entry: entry.name)
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            name = entry.name[:-3]
            if not entry.name.endswith(".md") or not PLAN_NAME_RE.match(name) or not entry.is_file():
                continue
            output = (layout.archived_outputs_dir if archived else layout.outputs_dir) / name
            plan_path, status_path, findings_dir = Path(entry.path), output / "status.json", output / "findings"
            fingerprint = _fingerprint(plan_path, status_path, findings_dir)
            yield _PlanFiles(name, archived, plan_path, status_path, findings_dir, fingerprint)


def _fingerprint(plan_path: Path, status_path: Path, findings_dir: Path) -> str:
    """Stat data of the plan's files; "" (matching nothing) while one of them may still change unseen.

    A file rewritten in place within one timestamp tick keeps its inode, mtime and size, so
    a fingerprint taken that soon after a write is not trusted: the next sync re-reads the plan.
    """
    stats = [_stat(plan_path), _stat(status_path)]
    try:
        with os.scandir(findings_dir) as entries:
            names = sorted(entry.name for entry in entries if entry.name.endswith(".md"))
    except (FileNotFoundError, NotADirectoryError):
        names = []
    stats.extend(_stat(findings_dir / name) for name in names)
    newest = max((st.st_mtime_ns for st in stats if st is not None), default=0)
    if time.time_ns() - newest < RACY_NS:
        return ""
    parts = [INDEX_VERSION, *names, *("-" if st is None else f"{st.st_ino}.{st.st_mtime_ns}.{st.st_size}" for st in stats)]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def _stat(path: Path) -> os.stat_result | None:
    try:
        return os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def _build(files: _PlanFiles, layout: RepoLayout, now: datetime) -> _Built | None:
    """Read one plan's files into unsaved records; None when the markdown is not a plan."""
    parsed = read_plan(files.plan_path)
    if not any(phase.number is not None for phase in parsed.phases):
        return None
    snapshot = read_status(files.status_path)
    status = snapshot.data if snapshot is not None else {}
    planned = {task.id: task for task in parsed.tasks}
    if snapshot is not None:
        tasks = [_task_from_status(raw, planned) for raw in snapshot.tasks if isinstance(raw, dict)]
    else:
        tasks = [_task_from_plan(task) for task in parsed.tasks]
    for position, task in enumerate(tasks):
        task.position = position
    counts = _counts(task.status for task in tasks)
    phases = _phases(tasks)
    plan_mtime = os.stat(files.plan_path).st_mtime
    plan = PlanRecord(
        name=files.name,
        archived=files.archived,
        title=parsed.title or str(status.get("planName") or "") or files.name,
        plan_path=layout.relative(files.plan_path),
        has_status=snapshot is not None,
        state=_state(counts),
        current_phase=str(status.get("currentPhase") or _first_open_phase(phases)),
        created_at=_when(status.get("createdAt")),
        last_updated_at=_when(status.get("lastUpdatedAt"))
        or _from_timestamp(max(plan_mtime, snapshot.mtime if snapshot else 0)),
        fingerprint=files.fingerprint,
        synced_at=now,
        **counts,
    )
    return _Built(plan, phases, tasks, _findings(files.findings_dir))


def _task_from_status(raw: dict, planned: dict) -> TaskRecord:
    task_id = str(raw.get("id", ""))
    plan_task = planned.get(task_id)
    status = raw.get("status")
    return TaskRecord(
        task_id=task_id,
        phase=str(raw.get("phase") or (plan_task.phase if plan_task else UNPHASED)),
        description=str(raw.get("description") or raw.get("title") or (plan_task.description if plan_task else "")),
        status=status if status in TASK_STATUSES else TaskRecord.Status.PENDING,
        started_at=_when(raw.get("startedAt")),
        completed_at=_when(raw.get("completedAt")),
        duration_ms=raw["duration"] if isinstance(raw.get("duration"), (int, float)) else None,
        retry_count=raw["retryCount"] if isinstance(raw.get("retryCount"), int) and raw["retryCount"] > 0 else 0,
        error=str(raw.get("error") or ""),
        skip_reason=str(raw.get("skipReason") or ""),
        notes=str(raw.get("notes") or ""),
    )


def _task_from_plan(task) -> TaskRecord:
    """A plan without a status file: checked boxes count as done, as init_status would record them."""
    status = TaskRecord.Status.COMPLETED if task.checked else TaskRecord.Status.PENDING
    return TaskRecord(task_id=task.id, phase=task.phase, description=task.description, status=status)


def _counts(statuses) -> dict:
    tally = Counter(statuses)
    total = sum(tally.values())
    counts = {status: tally.get(status, 0) for status in TASK_STATUSES}
    done = counts["completed"] + counts["skipped"]
    return {"total": total, **counts, "progress_percent": round(100.0 * done / total, 1) if total else 0.0}


def _phases(tasks: list[TaskRecord]) -> list[PhaseRecord]:
    by_title: dict[str, list[str]] = {}
    for task in tasks:
        by_title.setdefault(task.phase, []).append(task.status)
    return [PhaseRecord(position=position, title=title, **_counts(statuses))
            for position, (title, statuses) in enumerate(by_title.items())]


def _state(counts: dict) -> str:
    if counts["total"] and counts["completed"] + counts["skipped"] == counts["total"]:
        return PlanState.COMPLETE
    if counts["pending"] == counts["total"]:
        return PlanState.NOT_STARTED
    return PlanState.IN_PROGRESS


def _first_open_phase(phases: list[PhaseRecord]) -> str:
    return next((phase.title for phase in phases if phase.progress_percent < 100), "")


def _findings(directory: Path) -> list[FindingRecord]:
    try:
        entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
    except (FileNotFoundError, NotADirectoryError):
        return []
    findings = []
    for entry in entries:
        if not entry.name.endswith(".md") or not entry.is_file():
            continue
        with open(entry.path, "rb") as handle:
            data = handle.read()
            st = os.fstat(handle.fileno())
        match = _FINDING_TASK_RE.match(entry.name)
        findings.append(FindingRecord(
            filename=entry.name,
            task_id=".".join(part for part in match.groups() if part) if match else "",
            content=data.decode("utf-8", errors="replace"),
            size=st.st_size,
            modified_at=_from_timestamp(st.st_mtime),
        ))
    return findings


def _when(value) -> datetime | None:
    """An ISO-8601 timestamp from a status file; naive ones are UTC, malformed ones are dropped."""
    if not isinstance(value, str):
        return None
    try:
        parsed = parse_datetime(value)
    except ValueError:
        return None
    if parsed is None:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _from_timestamp(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc)


def _sync_registry(layout: RepoLayout) -> None:
    """Mirror the registry's entries; a corrupt registry leaves the last good mirror in place."""
    try:
        instances = Registry(layout.registry_path).list()
    except RegistryUnavailable as exc:
        logger.warning("Plan index: registry not mirrored: %s", exc)
        return
    wanted = {instance.id: instance.to_dict() for instance in instances}
    stored = {record.instance_id: record for record in OrchestratorRecord.objects.all()}
    gone = [record.pk for instance_id, record in stored.items() if instance_id not in wanted]
    if gone:
        OrchestratorRecord.objects.filter(pk__in=gone).delete()
    new, changed = [], []
    for instance_id, entry in wanted.items():
        values = {name: entry[name] for name in _REGISTRY_FIELDS}
        for name in ("worktree_path", "started_at", "last_heartbeat", "socket_path"):
            values[name] = values[name] or ""
        record = stored.get(instance_id)
        if record is None:
            new.append(OrchestratorRecord(instance_id=instance_id, **values))
        elif any(getattr(record, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(record, name, value)
            changed.append(record)
    if new:
        OrchestratorRecord.objects.bulk_create(new)
    if changed:
        OrchestratorRecord.objects.bulk_update(changed, _REGISTRY_FIELDS)
