"""status.json: cheap cached reads for the API, locked atomic read-modify-writes for every writer."""

import json
import os
import zlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Callable, TypeVar

from .clock import Clock, iso, utc_now
from .errors import PlanNotFound, PreconditionFailed, StatusFileCorrupt
from .dirlock import DEFAULT_TIMEOUT_S, dir_locked
from .filecache import status_files
from .fileio import atomic_write, existing_mode
from .plans import UNPHASED, ParsedPlan

T = TypeVar("T")

TASK_STATUSES = ("pending", "in_progress", "completed", "failed", "skipped")

@dataclass(frozen=True)
class StatusSnapshot:
    """One version of a status file. `data` is shared between readers: never mutate it."""

    data: dict
    etag: str
    mtime: float
    path: Path

    @property
    def tasks(self) -> list[dict]:
        return self.data["tasks"]

    @cached_property
    def counts(self) -> dict:
        """Counted from the tasks, because the stored summary drifts (older writers patched it by hand)."""
        return _count(self.tasks)

    @cached_property
    def phases(self) -> list[dict]:
        """Per-phase counts in the order phases first appear in the task list (plan order)."""
        groups: dict[str, list[dict]] = {}
        for task in self.tasks:
            phase = task.get("phase")
            # Files written by hand or by other tools may hold any JSON here, lists and objects too.
            groups.setdefault(phase if isinstance(phase, str) and phase else UNPHASED, []).append(task)
        summaries = []
        for phase, tasks in groups.items():
            counts = _count(tasks)
            summaries.append({"phase": phase, **counts, "progress_percent": _percent(counts)})
        return summaries

    @property
    def progress_percent(self) -> float:
        return _percent(self.counts)

    @cached_property
    def first_open_phase(self) -> str | None:
        """The first phase with a task neither completed nor skipped (skipped work is settled, not done)."""
        return next((phase["phase"] for phase in self.phases
                     if phase["completed"] + phase["skipped"] < phase["total"]), None)


def _count(tasks: list[dict]) -> dict:
    counts = dict.fromkeys(("total",) + TASK_STATUSES, 0)
    for task in tasks:
        status = task.get("status")
        # The ecosystem's own recount treats an unknown status as pending; so do we.
        counts[status if status in TASK_STATUSES else "pending"] += 1
    counts["total"] = len(tasks)
    return counts


def _percent(counts: dict) -> float:
    """status-cli's definition: completed over total. Skipped work is not done; it has its own count."""
    if not counts["total"]:
        return 0.0
    return round(100.0 * counts["completed"] / counts["total"], 1)


def compute_summary(tasks: list[dict]) -> dict:
    """The `summary` object as the ecosystem writes it (note the snake_case `in_progress`)."""
    counts = _count(tasks)
    return {
        "totalTasks": counts["total"],
        "completed": counts["completed"],
        "pending": counts["pending"],
        "failed": counts["failed"],
        "skipped": counts["skipped"],
        "in_progress": counts["in_progress"],
    }


def _etag(st: os.stat_result, crc: int) -> str:
    # The content checksum covers in-place rewrites that keep inode, mtime and size.
    return f'"{st.st_dev:x}-{st.st_ino:x}-{st.st_mtime_ns:x}-{st.st_size:x}-{crc:08x}"'


def _decode(path: Path, data: bytes) -> dict:
    try:
        parsed = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise StatusFileCorrupt(f"{path.name} is not valid JSON: {exc}", path=str(path)) from None
    if not isinstance(parsed, dict):
        raise StatusFileCorrupt(f"{path.name} does not hold a JSON object.", path=str(path))
    tasks = parsed.get("tasks")
    if not isinstance(tasks, list) or not all(isinstance(task, dict) for task in tasks):
        raise StatusFileCorrupt(f"{path.name} has no list of task objects.", path=str(path))
    return parsed


def _snapshot_parser(path: Path):
    def parse(data: bytes, st: os.stat_result, crc: int) -> StatusSnapshot:
        return StatusSnapshot(_decode(path, data), _etag(st, crc), st.st_mtime, path)
    return parse


def read_status(path: Path) -> StatusSnapshot | None:
    """The status file as it is now; None if absent, StatusFileCorrupt if half-written or garbage.

    Served from a cache validated by file identity, so an unchanged file costs one os.stat.
    """
    path = Path(path)
    return status_files.load(path, _snapshot_parser(path))


def _read_fresh(path: Path) -> StatusSnapshot | None:
    """Bypass the cache: writers must decide from the bytes on disk, and get a private dict to edit."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
            st = os.fstat(handle.fileno())
    except FileNotFoundError:
        return None
    return _snapshot_parser(path)(data, st, zlib.crc32(data))


def _matches(if_match: str, etag: str) -> bool:
    candidates = [candidate.strip() for candidate in if_match.split(",")]
    return "*" in candidates or etag in candidates


def _write(path: Path, data: dict, mode: int | None) -> StatusSnapshot:
    payload = json.dumps(data, indent=2, ensure_ascii=False).encode("utf-8")
    st = atomic_write(path, payload, mode=mode)
    crc = zlib.crc32(payload)
    snapshot = StatusSnapshot(data, _etag(st, crc), st.st_mtime, path)
    status_files.put(path, st, crc, snapshot)
    return snapshot


def update_status(
    path: Path,
    mutate: Callable[[dict], T],
    *,
    if_match: str | None = None,
    clock: Clock = utc_now,
    lock_timeout: float = DEFAULT_TIMEOUT_S,
) -> tuple[T, StatusSnapshot]:
    """Apply `mutate` to the current status under the file's lock and replace the file atomically.

    Every writer goes through here, so no update is lost: the lock serialises writers
    across threads and processes, and the file is re-read inside it rather than trusting
    what the caller saw. `if_match` turns a stale read into PreconditionFailed instead of
    a silent overwrite. If `mutate` raises, nothing is written.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise PlanNotFound(f"No status file at {path}.", path=str(path))
    with dir_locked(path, timeout=lock_timeout):
        current = _read_fresh(path)
        if current is None:
            raise PlanNotFound(f"No status file at {path}.", path=str(path))
        if if_match is not None and not _matches(if_match, current.etag):
            raise PreconditionFailed(etag=current.etag)
        data = current.data
        result = mutate(data)
        data["summary"] = {**(data.get("summary") if isinstance(data.get("summary"), dict) else {}),
                           **compute_summary(data["tasks"])}
        data["lastUpdatedAt"] = iso(clock())
        return result, _write(path, data, existing_mode(path))


def init_status(
    path: Path, *, plan: ParsedPlan, plan_path: str, clock: Clock = utc_now, lock_timeout: float = DEFAULT_TIMEOUT_S
) -> StatusSnapshot:
    """Create the status file for `plan` unless one exists (then it is returned untouched, and its tasks win).

    Written with the initialiser's keys and values (every task pending, `currentPhase` the
    first task's phase), so upstream's tools take the file for one of their own.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with dir_locked(path, timeout=lock_timeout):
        existing = _read_fresh(path)
        if existing is not None:
            return existing
        now = iso(clock())
        tasks = plan.initial_tasks()
        data = {
            "planPath": plan_path,
            "planName": plan.title or Path(plan_path).stem,
            "createdAt": now,
            "lastUpdatedAt": now,
            "currentPhase": tasks[0]["phase"] if tasks else None,
            "tasks": tasks,
            "runs": [],
            "summary": compute_summary(tasks),
        }
        return _write(path, data, None)
