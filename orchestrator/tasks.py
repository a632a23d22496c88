"""Task state transitions over a status dict, shared by the engine and the API so both obey one state machine.

Each function edits the dict in place (inside `status.update_status`) and returns the
task. Timestamps are passed in as ISO strings so callers decide the clock. `error` is the
ecosystem's field for the current failure; `lastError` and `retryCount` are ours and
survive retries, so the history of a flaky task is not lost when it is re-queued.
"""

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
    task.pop("error", None)
    task.pop("duration", None)
    return task


def retry_task(data: dict, task_id: str, *, now: str) -> dict:
    """failed|skipped -> pending, as if never attempted; `retryCount` and `lastError` keep the history.

    `now` is accepted so every transition has the same signature; a re-queued task has no timestamps.
    """
    task = find_task(data, task_id)
    _require(task, ("failed", "skipped"), "retry")
    task["status"] = "pending"
    for key in ("error", "skipReason", "startedAt", "completedAt", "duration"):
        task.pop(key, None)
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
    for key in ("error", "completedAt", "duration", "skipReason"):
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
    task.pop("error", None)
    if notes is not None:
        task["notes"] = notes
    if findings_path is not None:
        task["findingsPath"] = findings_path
    return task


def fail_task(data: dict, task_id: str, *, now: str, error: str) -> dict:
    """in_progress|pending -> failed, recording the error in both `error` and `lastError`."""
    task = find_task(data, task_id)
    _require(task, ("in_progress", "pending"), "fail")
    _finish(task, "failed", now)
    task["error"] = error
    task["lastError"] = error
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
