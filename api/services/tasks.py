"""Skip and retry a plan's tasks in status.json, under the same per-file lock as the engine, so no update is lost."""

from dataclasses import dataclass

from api.selectors.orchestrators import instance_get
from api.selectors.plans import plan_locate
from api.signals import orphan_status_changed
from orchestrator.clock import iso_now
from orchestrator.dirlock import DEFAULT_TIMEOUT_S
from orchestrator.errors import InvalidName, OrchestratorError, PlanNotFound
from orchestrator.layout import PlanFiles, RepoLayout, check_task_id, plan_identity
from orchestrator.plans import read_plan
from orchestrator.registry import Instance, Registry, is_alive
from orchestrator.status import StatusSnapshot, init_status, update_status
from orchestrator.summary import TaskInfo, task_info
from orchestrator.tasks import retry_task, skip_task


@dataclass(frozen=True)
class TaskChange:
    plan_name: str
    # In the shape the task reads return, so a client updates its list from the answer.
    task: TaskInfo
    # The status file as written, so the response can carry its new ETag for the next If-Match.
    snapshot: StatusSnapshot


def task_skip(
    *,
    layout: RepoLayout,
    task_id: str,
    reason: str,
    plan_name: str | None = None,
    instance_id: str | None = None,
    if_match: str | None = None,
    lock_timeout: float = DEFAULT_TIMEOUT_S,
) -> TaskChange:
    """pending|failed -> skipped with `skipReason`; the engine then moves past it."""
    return _change(
        layout=layout,
        task_id=task_id,
        plan_name=plan_name,
        instance_id=instance_id,
        if_match=if_match,
        lock_timeout=lock_timeout,
        transition=lambda data, now: skip_task(data, task_id, reason=reason, now=now),
    )


def task_retry(
    *,
    layout: RepoLayout,
    task_id: str,
    plan_name: str | None = None,
    instance_id: str | None = None,
    if_match: str | None = None,
    lock_timeout: float = DEFAULT_TIMEOUT_S,
) -> TaskChange:
    """failed|skipped -> pending, error cleared, `retryCount` + 1; the engine picks it up again."""
    return _change(
        layout=layout,
        task_id=task_id,
        plan_name=plan_name,
        instance_id=instance_id,
        if_match=if_match,
        lock_timeout=lock_timeout,
        transition=lambda data, now: retry_task(data, task_id, now=now),
    )


def _change(*, layout, task_id, plan_name, instance_id, if_match, lock_timeout, transition) -> TaskChange:
    check_task_id(task_id)
    if (plan_name is None) == (instance_id is None):
        raise TypeError("Name exactly one of plan_name and instance_id.")
    instance = instance_get(layout=layout, instance_id=instance_id) if instance_id is not None else None
    files = layout.instance_plan(instance) if instance is not None else plan_locate(layout=layout, name=plan_name)
    _ensure_status(files, lock_timeout=lock_timeout)
    # Converted inside the lock: the written dict is shared with cached readers from then on.
    task, snapshot = update_status(files.status_path, lambda data: task_info(transition(data, iso_now()), {}),
                                   if_match=if_match, lock_timeout=lock_timeout)
    run = instance if instance is not None else _latest_run(layout, files)
    if run is not None and not is_alive(run):
        # No orchestrator is left to tell the pages.
        orphan_status_changed.send(sender=TaskChange, layout=layout, instance=run)
    return TaskChange(plan_name=files.name, task=task, snapshot=snapshot)


def _latest_run(layout: RepoLayout, files: PlanFiles) -> Instance | None:
    """The newest registered run of this plan in this checkout: its page shows the status file just changed."""
    try:
        instances = Registry(layout.registry_path).list()
    except (OrchestratorError, OSError):
        return None
    runs = [entry for entry in instances if not entry.worktree_path and _runs_plan(entry, files)]
    return max(runs, key=lambda entry: entry.started_at or "", default=None)


def _runs_plan(instance: Instance, files: PlanFiles) -> bool:
    try:
        return plan_identity(instance.plan_path) == (files.name, files.archived)
    except InvalidName:
        return False


def _ensure_status(files: PlanFiles, *, lock_timeout: float) -> None:
    """A plan never run has no status file yet: create it from the plan, as upstream's initialiser would.

    planPath is written relative to the checkout the files are in (a worktree's for a worktree
    instance), as upstream's tools write it.
    """
    if files.status_path.exists():
        return
    if not files.plan_path.is_file():
        raise PlanNotFound(f"No plan named {files.name!r}.", name=files.name)
    init_status(files.status_path, plan=read_plan(files.plan_path), plan_path=files.tree.relative(files.plan_path),
                lock_timeout=lock_timeout)
