"""Reads of registered orchestrator instances and their live state (registry, pid, IPC `status` probe)."""

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from api.readcache import read_caches
from orchestrator.clock import Clock, parse_iso, utc_now
from orchestrator.errors import InvalidName
from orchestrator.ipc import default_socket_path
from orchestrator.layout import PlanFiles, RepoLayout, check_instance_id
from orchestrator.registry import ACTIVE_STATUSES, Instance, Registry, instance_state, is_alive, is_stale
from orchestrator.status import TASK_STATUSES
from orchestrator.summary import (PhaseSummary, TaskCounts, TaskInfo, parse_plan_file, plan_digest, status_snapshot,
                                  task_counts)


@dataclass(frozen=True)
class OrchestratorInfo:
    id: str
    pid: int
    plan_path: str
    plan_name: str
    worktree_path: str | None
    started_at: datetime | None
    last_heartbeat: datetime | None
    status: str
    socket_path: str | None
    port: int | None
    is_alive: bool
    is_stale: bool


@dataclass(frozen=True)
class OrchestratorStatus(TaskCounts):
    instance_id: str
    plan_path: str
    plan_name: str
    status: str
    reachable: bool
    current_phase: str | None
    current_task: str | None
    iteration: int | None
    max_iterations: int | None
    started_at: datetime | None
    last_heartbeat: datetime | None
    is_alive: bool
    is_stale: bool
    tasks: tuple[TaskInfo, ...]
    phases: tuple[PhaseSummary, ...]
    status_etag: str | None  # the status file's version, for If-Match on skip-task/retry-task
    usage: dict | None = None  # the plan's tasks' figures summed


def _info(instance: Instance, now: datetime) -> OrchestratorInfo:
    return OrchestratorInfo(
        id=instance.id,
        pid=instance.pid,
        plan_path=instance.plan_path,
        plan_name=Path(instance.plan_path).stem,
        worktree_path=instance.worktree_path,
        started_at=parse_iso(instance.started_at),
        last_heartbeat=parse_iso(instance.last_heartbeat),
        status=instance.status,
        socket_path=instance.socket_path,
        port=instance.port,
        is_alive=is_alive(instance),
        is_stale=is_stale(instance, now),
    )


def orchestrator_list(*, layout: RepoLayout, clock: Clock = utc_now) -> list[OrchestratorInfo]:
    """Every registered instance. RegistryUnavailable if the registry is garbage; none if it is absent."""
    now = clock()
    return [_info(instance, now) for instance in Registry(layout.registry_path).list()]


def instance_get(*, layout: RepoLayout, instance_id: str) -> Instance:
    """The registry entry (InvalidName for a malformed id, InstanceNotFound for an unknown one)."""
    check_instance_id(instance_id)
    return Registry(layout.registry_path).get(instance_id)


def orchestrator_get(*, layout: RepoLayout, instance_id: str, clock: Clock = utc_now) -> OrchestratorInfo:
    return _info(instance_get(layout=layout, instance_id=instance_id), clock())


def orchestrator_info(*, instance: Instance, clock: Clock = utc_now) -> OrchestratorInfo:
    """An entry a service already holds (one it just registered or removed), as the reads show it."""
    return _info(instance, clock())


def _probe(instance: Instance, timeout: float) -> dict | None:
    """The instance's IPC `status` reply, or None if it does not answer a well-formed one in time.

    Without a registered socket path the existing tools listen at their default one.
    """
    try:
        socket_path = instance.socket_path or default_socket_path(instance.id)
    except InvalidName:
        return None
    return read_caches().probes.reply(socket_path, timeout)


def _registry_plan(layout: RepoLayout, instance: Instance) -> PlanFiles | None:
    """The instance's plan files, or None when its registry entry names none we may read."""
    try:
        return layout.instance_plan(instance)
    except InvalidName:
        return None


def _as_int(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def orchestrator_status_get(
    *, layout: RepoLayout, instance_id: str, ipc_timeout: float, clock: Clock = utc_now
) -> OrchestratorStatus:
    """The seed's OrchestratorStatus, with tasks and per-phase counts.

    Tasks come from the plan's status.json (or its markdown before the first run); the
    state from the registry, the pid and, for a live instance, an IPC `status` probe
    bounded by `ipc_timeout`. A probe that fails leaves the registry's word standing.
    StatusFileCorrupt if the status file cannot be read.
    """
    instance = instance_get(layout=layout, instance_id=instance_id)
    alive = is_alive(instance)
    reply = _probe(instance, ipc_timeout) if alive and instance.status in ACTIVE_STATUSES else None
    files = _registry_plan(layout, instance)
    digest = plan_digest(files, parse_plan_file(files.plan_path), status_snapshot(files.status_path)) if files else None
    counts = task_counts(digest.counts, digest.progress_percent) if digest else task_counts(
        dict.fromkeys(("total", *TASK_STATUSES), 0), 0.0)
    current_task = (reply or {}).get("current_task")
    now = clock()
    return OrchestratorStatus(
        instance_id=instance.id,
        plan_path=instance.plan_path,
        plan_name=Path(instance.plan_path).stem,
        status=instance_state(instance, alive=alive, reply=reply),
        reachable=reply is not None,
        **counts,
        current_phase=digest.recorded_phase if digest else None,
        current_task=str(current_task["id"]) if isinstance(current_task, dict) and "id" in current_task else None,
        iteration=_as_int((reply or {}).get("iteration")),
        max_iterations=_as_int((reply or {}).get("max_iterations")),
        started_at=parse_iso(instance.started_at),
        last_heartbeat=parse_iso(instance.last_heartbeat),
        is_alive=alive,
        is_stale=is_stale(instance, now),
        tasks=digest.tasks if digest else (),
        phases=digest.phases if digest else (),
        status_etag=(digest.snapshot.etag or None) if digest and digest.snapshot else None,
        usage=digest.usage if digest else None,
    )
