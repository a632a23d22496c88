"""The prompt that hands one task to the agent: enough context to work alone, and where to report."""

from dataclasses import dataclass


@dataclass(frozen=True)
class TaskContext:
    """What the agent needs to know about its task; paths are relative to the working directory."""

    plan_path: str
    task_id: str
    description: str
    phase: str
    findings_path: str
    status_path: str
    previous_error: str | None = None
    attempt: int = 1


def build_prompt(ctx: TaskContext) -> str:
    lines = [
        f"You are working through the plan at {ctx.plan_path}, one task at a time.",
        "",
        f"Your task: {ctx.task_id} {ctx.description}",
        f"Phase: {ctx.phase or '(none)'}",
    ]
    if ctx.attempt > 1:
        lines.append(f"Attempt: {ctx.attempt}")
    if ctx.previous_error:
        # A retry that repeats the same mistake wastes a whole agent session.
        lines.append(f"The previous attempt failed with: {ctx.previous_error}")
    lines += [
        "",
        "Instructions:",
        f"- Read {ctx.plan_path} for context, then do task {ctx.task_id} and nothing else.",
        f"- Write your findings to {ctx.findings_path}: what you did, the files you changed,"
        " and how you verified it.",
        f"- Do not edit {ctx.status_path}; the orchestrator records this task's status"
        " from your exit code.",
        "- If you cannot finish the task, explain why in the findings file and exit with an error.",
    ]
    return "\n".join(lines) + "\n"
