"""Keep the admin's plan index in step with the files, re-reading only the plans whose files changed.

The index is rebuilt from stat data alone when nothing changed: one query to load the stored
fingerprints, a few hundred os.stat calls, no writes. A changed plan costs one read of its files
and a handful of bulk statements shared with every other changed plan.
"""

import hashlib
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from django.db import IntegrityError, transaction
from django.utils import timezone as dj_timezone

from orchestrator.errors import RegistryUnavailable, StatusFileCorrupt
from orchestrator.fileio import RACY_NS
from orchestrator.layout import PlanFiles, RepoLayout
from orchestrator.registry import Registry
from orchestrator.status import TASK_STATUSES
from orchestrator.summary import TaskInfo, parse_plan_file, plan_digest, status_snapshot

from .models import FindingRecord, OrchestratorRecord, PhaseRecord, PlanRecord, TaskRecord
from .selectors.findings import finding_task_id

logger = logging.getLogger(__name__)

# Part of every fingerprint: bump it when the records built from the same files change shape,
# so the next sync rebuilds every plan instead of trusting rows written by older code.
INDEX_VERSION = "1"

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
        fingerprint = _fingerprint(files)
        if previous is not None and fingerprint and previous[1] == fingerprint:
            seen.add(key)
            result.unchanged += 1
            continue
        try:
            built = _build(files, fingerprint, layout, now)
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
    """Every markdown file that could be a plan, skipped like the read API skips them (RepoLayout.plan_candidates)."""
    for archived in (False, True):
        yield from layout.plan_candidates(archived=archived)


def _fingerprint(files: PlanFiles) -> str:
    """Stat data of the plan's files; "" (matching nothing) while one of them may still change unseen.

    A file rewritten in place within one timestamp tick keeps its inode, mtime and size, so
    a fingerprint taken that soon after a write is not trusted: the next sync re-reads the plan.
    """
    stats = [_stat(files.plan_path), _stat(files.status_path)]
    try:
        with os.scandir(files.findings_dir) as entries:
            names = sorted(entry.name for entry in entries if entry.name.endswith(".md"))
    except (FileNotFoundError, NotADirectoryError):
        names = []
    stats.extend(_stat(files.findings_dir / name) for name in names)
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


def _build(files: PlanFiles, fingerprint: str, layout: RepoLayout, now: datetime) -> _Built | None:
    """Read one plan's files into unsaved records, the way the read API reads them; None if not a plan."""
    parsed = parse_plan_file(files.plan_path)
    if parsed is None:
        return None
    if files.escapes(files.status_path) or files.escapes(files.findings_dir):
        raise StatusFileCorrupt("Its outputs lie outside docs/plan-outputs (a symlink) and are not read.")
    digest = plan_digest(files, parsed, status_snapshot(files.status_path))
    tasks = [_task(position, raw, info) for position, (raw, info) in enumerate(zip(digest.derived.tasks, digest.tasks))]
    phases = [PhaseRecord(position=position, title=raw["phase"], progress_percent=raw["progress_percent"],
                          **_counts(raw)) for position, raw in enumerate(digest.derived.phases)]
    plan = PlanRecord(
        name=files.name,
        archived=files.archived,
        title=digest.title,
        plan_path=layout.relative(files.plan_path),
        has_status=digest.snapshot is not None,
        state=digest.state,
        current_phase=digest.current_phase or "",
        created_at=digest.created_at,
        last_updated_at=digest.last_updated,
        fingerprint=fingerprint,
        synced_at=now,
        progress_percent=digest.progress_percent,
        **_counts(digest.counts),
    )
    return _Built(plan, phases, tasks, _findings(files.findings_dir))


def _task(position: int, raw: dict, info: TaskInfo) -> TaskRecord:
    duration = raw.get("duration")
    return TaskRecord(
        position=position,
        task_id=info.id,
        phase=info.phase,
        description=info.description,
        status=info.status,
        started_at=info.started_at,
        completed_at=info.completed_at,
        duration_ms=duration if isinstance(duration, (int, float)) and not isinstance(duration, bool) else None,
        retry_count=info.retry_count,
        error=info.last_error or "",
        skip_reason=info.skip_reason or "",
        notes=str(raw.get("notes") or ""),
    )


def _counts(counts: dict) -> dict:
    return {key: counts[key] for key in ("total", *TASK_STATUSES)}


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
        findings.append(FindingRecord(
            filename=entry.name,
            task_id=finding_task_id(entry.name) or "",
            content=data.decode("utf-8", errors="replace"),
            size=st.st_size,
            modified_at=_from_timestamp(st.st_mtime),
        ))
    return findings


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
