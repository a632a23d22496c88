"""What an orchestrator answers over its IPC socket: `status`, and pause, resume and shutdown as acks or refusals.

Upstream's tools and the API speak this protocol to any orchestrator, ours or upstream's, so the
keys are the ecosystem's; ours (state, max_iterations, current_task) come on top.
"""

import os

from .errors import InvalidRequest, OrchestratorError
from .status import read_status


def status_reply(engine) -> dict:
    """The `status` payload of an Engine.

    Lock-free (each field is one atomic read), so that a status probe or a display redraw
    never waits on a thread that holds the engine lock while it emits.
    """
    try:
        snapshot = read_status(engine.status_path)
    except OrchestratorError:
        snapshot = None
    counts = snapshot.counts if snapshot else {}
    state, task = engine.state, engine.current_task
    return {
        "instance_id": engine.instance_id,
        "plan_path": engine.plan_path,
        "plan_name": engine.plan_name,
        "progress": snapshot.progress_percent if snapshot else 0.0,
        "completed": counts.get("completed", 0),
        "total": counts.get("total", 0),
        "pending": counts.get("pending", 0),
        "failed": counts.get("failed", 0),
        "skipped": counts.get("skipped", 0),
        "in_progress": counts.get("in_progress", 0),
        "current_phase": snapshot.data.get("currentPhase") if snapshot else None,
        "iteration": engine.iteration,
        "max_iterations": engine.config.max_iterations,
        "paused": state == "paused",
        "shutdown_requested": engine.shutdown_requested,
        "state": state,
        "current_task": dict(task) if task else None,
        "pid": os.getpid(),
    }


def handle_command(engine, command: str, payload: dict) -> dict:
    """One IPC command to an Engine; a refused one answers with the error's stable code (the API maps it to 409)."""
    try:
        if command == "status":
            return status_reply(engine)
        if command == "pause":
            message = engine.request_pause()
        elif command == "resume":
            message = engine.request_resume()
        elif command == "shutdown":
            force = payload.get("force", False)
            if not isinstance(force, bool):
                raise InvalidRequest("`force` must be true or false.")
            message = engine.request_shutdown(force=force, reason="shutdown requested over IPC")
        else:
            raise InvalidRequest(f"Unknown command {command!r}.")
    except OrchestratorError as exc:
        return {"error": exc.message, "code": exc.code, "state": engine.state}
    return {"ack": True, "message": message, "state": engine.state}
