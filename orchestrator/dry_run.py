"""`orchestrate --dry-run`: the tasks a run would take, in order, and the first prompt; nothing is written."""

from .clock import iso_now
from .plans import ParsedPlan
from .runs import forecast, plan_tasks
from .status import read_status


def dry_run(engine, plan: ParsedPlan) -> None:
    """Echo what `engine` would run, assuming each task succeeds, from its status file or, before one exists, its plan."""
    echo, config = engine.echo, engine.config
    snapshot = read_status(engine.status_path)
    data = {"tasks": [dict(task) for task in snapshot.tasks]} if snapshot else plan_tasks(plan)
    source = engine.layout.relative(engine.status_path) if snapshot else "the plan (no status file yet)"
    echo(f"Dry run of {engine.plan_path}: task states from {source}; nothing will be written.")
    echo(f"Agent: {' '.join(config.agent_cmd)}  (in {engine.workdir})")
    planned = forecast(data, max_retries=config.max_retries, limit=config.max_iterations,
                       now=iso_now(engine.clock))
    if not planned:
        echo("Nothing to run: every task is completed, skipped, or failed with no retries left.")
        return
    for number, task in enumerate(planned, start=1):
        echo(f"  {number:>3}. {task['id']:<8} {task.get('description', '')}  [{task.get('phase') or '-'}]")
    echo("First prompt:")
    for line in engine.prompt(planned[0]).splitlines():
        echo(f"    {line}")
