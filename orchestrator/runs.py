"""An orchestrator run as status.json records it (`runs`), its crash recovery, and its dry-run forecast.

Pure functions over a status dict, like `tasks`: the engine applies them inside
`status.update_status`, and tests call them on plain dicts.
"""

from .figures import AgentFigures, add_figures
from .plans import ParsedPlan
from .tasks import complete_task, fail_task, next_runnable_task, retry_task, start_task

INTERRUPTED_ERROR = "interrupted: the orchestrator running it stopped before it finished"
AGENT_KEY = "agent"  # in a run record while its agent runs: {"taskId", "pgid", "pid", "startTicks", "bootId"}


def open_run(data: dict, *, run_id: str, now: str) -> list[str]:
    """Append this run to `runs` and requeue tasks a dead run left in_progress; returns their ids.

    Nothing else can hold a task in_progress (the engine refuses to start on a plan that
    a live orchestrator runs), so such a task lost its agent. It is failed with an
    "interrupted" error and then retried, so `retryCount` and `lastError` show the lost
    attempt, and it runs again like any pending task.
    """
    stuck = [task["id"] for task in data["tasks"] if task.get("status") == "in_progress"]
    for task_id in stuck:
        fail_task(data, task_id, now=now, error=INTERRUPTED_ERROR)
        retry_task(data, task_id, now=now, keep_last_error=True)
    runs = data.get("runs") if isinstance(data.get("runs"), list) else []
    for run in runs:
        if isinstance(run, dict):
            run.pop(AGENT_KEY, None)  # ended by the caller (leftover_agents) before this run opened
    runs.append({"runId": run_id, "startedAt": now})
    data["runs"] = runs
    return stuck


def note_agent(data: dict, *, run_id: str, agent: dict | None) -> None:
    """Record the running agent's process identity in this run's record (None: it has ended)."""
    for run in data.get("runs") or ():
        if isinstance(run, dict) and run.get("runId") == run_id:
            if agent is None:
                run.pop(AGENT_KEY, None)
            else:
                run[AGENT_KEY] = agent


def leftover_agents(data: dict, *, run_id: str) -> list[dict]:
    """Agents recorded by other runs: on a plan nobody else runs, their orchestrators died with them running."""
    return [run[AGENT_KEY] for run in data.get("runs") or ()
            if isinstance(run, dict) and run.get("runId") != run_id and isinstance(run.get(AGENT_KEY), dict)]


def close_run(data: dict, *, run_id: str, now: str, completed: int, failed: int) -> None:
    for run in data.get("runs") or ():
        if isinstance(run, dict) and run.get("runId") == run_id:
            run.update(completedAt=now, tasksCompleted=completed, tasksFailed=failed)


def add_run_figures(data: dict, *, run_id: str, figures: AgentFigures) -> None:
    """Keep the run's cost and token totals current while it runs, not only when it closes."""
    for run in data.get("runs") or ():
        if isinstance(run, dict) and run.get("runId") == run_id:
            add_figures(run, figures, identity=False)  # a run has many sessions


def record_attempt(data: dict, task_id: str, *, run_id: str, now: str, error: str | None, notes: str | None,
                   findings_path: str | None, figures: AgentFigures | None) -> dict:
    """An attempt's outcome: the task completed (or failed with `error`), its figures added to the task
    and to the run, the run's agent cleared. Returns the task."""
    if error is None:
        task = complete_task(data, task_id, now=now, notes=notes, findings_path=findings_path)
    else:
        task = fail_task(data, task_id, now=now, error=error)
    if figures is not None:
        add_figures(task, figures)
        add_run_figures(data, run_id=run_id, figures=figures)
    note_agent(data, run_id=run_id, agent=None)
    return task


def plan_tasks(plan: ParsedPlan) -> dict:
    """The task list a fresh status file would start with, for forecasting without writing one."""
    return {"tasks": plan.initial_tasks()}


def forecast(data: dict, *, max_retries: int, limit: int, now: str) -> list[dict]:
    """The tasks a run would take, in order, if every one succeeded. `data` is edited: pass a copy."""
    planned: list[dict] = []
    while len(planned) < limit:
        task = next_runnable_task(data, max_retries=max_retries)
        if task is None:
            break
        planned.append(dict(task))
        start_task(data, task["id"], now=now)
        complete_task(data, task["id"], now=now)
    return planned
