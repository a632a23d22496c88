"""Task state transitions over a status dict, shared by the engine and the API so both obey one state machine.

Each function edits the dict in place (inside `status.update_status`) and returns the
task. Timestamps are passed in as ISO strings so callers decide the clock. Keys are the
ones upstream's tools write: `lastError` for a failure and `skipReason` for a skip. Older
writers used `error` and `reason` for the same things; readers fall back to them
(task_error, task_skip_reason) and every write here removes them, so no stale twin of a
field is left for another tool to show. The engine's own retries keep `lastError` (the
next attempt's prompt names it); a retry by hand starts the task over without it.
"""

# The keys older writers (and status-cli's `mark-skipped --reason`) used for the same facts.
_LEGACY_ERROR = "error"
_LEGACY_SKIP_REASON = "reason"


def task_error(task: dict) -> str | None:
    """The task's failure message: `lastError`, else the older `error`."""
    value = task.get("lastError") or task.get(_LEGACY_ERROR)
    return str(value) if value else None


def task_skip_reason(task: dict) -> str | None:
    """Why the task was skipped: `skipReason`, else status-cli's `reason`."""
    value = task.get("skipReason") or task.get(_LEGACY_SKIP_REASON)
    return str(value) if value else None

from .clock import parse_iso
from .errors import InvalidTaskState, TaskNotFound


def find_task(data: dict, task_id: str) -> dict:
    for task in data.get("tasks", ()):
        if task.get("id") == task_id:
            return task
    raise TaskNotFound(f"No task {task_id} in this plan.", task_id=task_id)


def _require(task: dict, allowed: tuple[str, ...], action: str) -> None:
    status = task.get("status")
    if status not in allowed:
        raise InvalidTaskState(
            f"Cannot {action} task {task.get('id')}: it is {status}.",
            task_id=task.get("id"),
            status=status,
            allowed=list(allowed),
        )


def _duration_ms(task: dict, now: str) -> int | None:
    started, ended = parse_iso(task.get("startedAt")), parse_iso(now)
    if started is None or ended is None:
        return None
    return max(0, round((ended - started).total_seconds() * 1000))


def _finish(task: dict, status: str, now: str) -> None:
    task["status"] = status
    task["completedAt"] = now
    duration = _duration_ms(task, now)
    if duration is None:
        task.pop("duration", None)
    else:
        task["duration"] = duration


def skip_task(data: dict, task_id: str, *, reason: str, now: str) -> dict:
    """pending|failed -> skipped. A running task cannot be skipped: the agent would still finish it."""
    task = find_task(data, task_id)
    _require(task, ("pending", "failed"), "skip")
    task["status"] = "skipped"
    task["skipReason"] = reason
    task["completedAt"] = now
    for key in (_LEGACY_SKIP_REASON, _LEGACY_ERROR, "duration"):
        task.pop(key, None)
    return task


def retry_task(data: dict, task_id: str, *, now: str, keep_last_error: bool = False) -> dict:
    """failed|skipped -> pending, as if never attempted; only `retryCount` keeps the history.

    The engine's own requeue of an interrupted task keeps `lastError` (`keep_last_error`), as
    its automatic retries do. `now` is accepted so every transition has the same signature;
    a re-queued task has no timestamps.
    """
    task = find_task(data, task_id)
    _require(task, ("failed", "skipped"), "retry")
    task["status"] = "pending"
    for key in (_LEGACY_ERROR, "skipReason", _LEGACY_SKIP_REASON, "startedAt", "completedAt", "duration"):
        task.pop(key, None)
    if not keep_last_error:
        task.pop("lastError", None)
    task["retryCount"] = int(task.get("retryCount") or 0) + 1
    return task


def start_task(data: dict, task_id: str, *, now: str) -> dict:
    """pending -> in_progress; failed -> in_progress counts as an automatic retry."""
    task = find_task(data, task_id)
    _require(task, ("pending", "failed"), "start")
    if task["status"] == "failed":
        task["retryCount"] = int(task.get("retryCount") or 0) + 1
    task["status"] = "in_progress"
    task["startedAt"] = now
    if _LEGACY_ERROR in task and "lastError" not in task:
        task["lastError"] = task[_LEGACY_ERROR]  # what the next attempt is told went wrong
    for key in (_LEGACY_ERROR, "completedAt", "duration", "skipReason", _LEGACY_SKIP_REASON):
        task.pop(key, None)
    if task.get("phase"):
        data["currentPhase"] = task["phase"]
    return task


def complete_task(data: dict, task_id: str, *, now: str, notes: str | None = None,
                  findings_path: str | None = None) -> dict:
    """in_progress|pending -> completed (pending too: an agent may finish a task it never announced)."""
    task = find_task(data, task_id)
    _require(task, ("in_progress", "pending"), "complete")
    _finish(task, "completed", now)
    task.pop(_LEGACY_ERROR, None)
    if notes is not None:
        task["notes"] = notes
    if findings_path is not None:
        task["findingsPath"] = findings_path
    return task


def fail_task(data: dict, task_id: str, *, now: str, error: str) -> dict:
    """in_progress|pending -> failed, recording the error as `lastError`."""
    task = find_task(data, task_id)
    _require(task, ("in_progress", "pending"), "fail")
    _finish(task, "failed", now)
    task["lastError"] = error
    task.pop(_LEGACY_ERROR, None)
    return task


def next_runnable_task(data: dict, *, max_retries: int) -> dict | None:
    """The first task in plan order that is pending, or failed with retries left.

    A failed task is retried in place rather than after the rest of the plan, because
    later tasks usually build on earlier ones; once `retryCount` reaches `max_retries`
    it stays failed and the walk moves on (a person can still retry it by hand).
    """
    for task in data.get("tasks", ()):
        status = task.get("status")
        if status == "pending":
            return task
        if status == "failed" and int(task.get("retryCount") or 0) < max_retries:
            return task
    return None
